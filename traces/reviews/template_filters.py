"""Filters of the review pages."""

from django import template

from traces.models import ReviewStatus

from . import tickets as reviews

register = template.Library()

AGE_UNITS = ((86400, "d"), (3600, "h"), (60, "min"))


@register.filter
def turn_text(content):
    return reviews.turn_text(content)


@register.filter
def action_label(value):
    return reviews.action_label(value)


@register.filter
def age(moment, now):
    """How long ago, in its largest unit: 3d, 5h, 12min, or "now"."""
    seconds = (now - moment).total_seconds()
    for size, unit in AGE_UNITS:
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return "now"


@register.filter
def field_label(name):
    return reviews.FIELD_LABELS.get(name, name.replace("_", " "))


@register.filter
def change_value(value, name):
    """A value of the activity log as people read it."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if name == "status" and value in ReviewStatus.values:
        return ReviewStatus(value).label
    if name == "action_taken":
        return reviews.action_label(value)
    return value


@register.filter
def activity_verb(action):
    return reviews.ACTIVITY_VERBS.get(action, action)
