"""Formatting for the drill-down pages: durations, money, microsecond times and JSON payloads."""

from django import template
from django.template import engines
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from traces import chat_content
from traces.json_html import json_html
from traces.money import money

register = template.Library()


@register.filter
def chat_shown(content):
    """How a chat turn's content renders: traces/chat_content.py."""
    return chat_content.shown(content)


@register.filter
def duration(ms):
    """850 ms, 1.24 s, 2 m 03 s, 1 h 02 m; a dash when unknown."""
    if ms is None or ms == "":
        return "—"
    ms = int(ms)
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60} m {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} m"


register.filter("money", money)  # traces/money.py


@register.filter
def micro(value):
    """A timestamp to the microsecond, as the event log records it."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if value else "—"


@register.filter
def iso(value):
    """What `|date:'c'` prints, for <time datetime>, at a tenth of its cost in long lists."""
    return timezone.localtime(value).isoformat() if value else ""


@register.simple_tag(takes_context=True)
def show_all_url(context, key):
    """The current URL asking for the value `key` in full (page and filters kept)."""
    request = context["request"]
    query = request.GET.copy()
    query["full"] = key
    return f"{request.path}?{urlencode(sorted(query.lists()), doseq=True)}"


@register.inclusion_tag("traces/includes/json.html", takes_context=True)
def json_view(context, value, key, number=None):
    """A payload as a collapsible tree; cut when large, unless the URL asks for this one in full.

    `key` (with `number`, for one of many: "event", 42 -> "event-42") names the value in the page.
    """
    request = context["request"]
    key = key if number is None else f"{key}-{number}"
    full = request.GET.get("full") == key
    html, cut = json_html(value, key, full=full)
    return {"html": html, "cut": cut, "key": key, "url": show_all_url(context, key) if cut else ""}


@register.filter
def since_start(moment, start):
    """Milliseconds from the run's start to `moment`, as an offset (+1.24 s)."""
    if moment is None or start is None:
        return "—"
    return f"+{duration(max(int((moment - start).total_seconds() * 1000), 0))}"


@register.filter
def indent(depth):
    """A CSS depth class, capped: deeper levels line up at the cap (the tree stays readable at 390 px)."""
    return f"d{min(int(depth), 12)}"


@register.filter
def error_message(error):
    """One line for an error that is a string or an object with a message."""
    if isinstance(error, dict):
        for key in ("message", "error", "detail", "type"):
            if isinstance(error.get(key), str):
                return error[key]
        return ", ".join(f"{k}: {v}" for k, v in error.items())
    return "" if error is None else str(error)


@register.simple_tag(takes_context=True)
def rows(context, template_name, items):
    """The rows of a long list, rendered by the Jinja2 template `template_name` (see backoffice.jinja)
    with `rows` and the link prefixes of the layout."""
    names = ("runs_url", "conversations_url", "workflows_url")
    values = {"rows": items, **{name: context.get(name) for name in names}}
    return mark_safe(engines["jinja2"].get_template(template_name).render(values))  # noqa: S308 - Jinja2 escaped it
