"""Query parameters of the drill-down pages, parsed and checked: the URL is the state of each page."""

from datetime import datetime, time, timedelta

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from backoffice.days import DayField

from .models import RunStatus

PAGE_CURSOR = RegexValidator(r"^\d{1,20}\.\d{1,20}$", "Not a page cursor: follow the page links.")
# Event kinds the Events tab filters on: a prefix of the event type (DESIGN §4 vocabulary).
EVENT_KINDS = [
    ("", "All kinds"),
    ("run.", "run.*"),
    ("step.", "step.*"),
    ("tool.", "tool.*"),
    ("llm.", "llm.*"),
    ("gate.", "gate.*"),
    ("state.", "state.*"),
    ("message", "message"),
    ("log", "log"),
    ("track", "track"),
]


class CursorField(forms.CharField):
    default_validators = [PAGE_CURSOR]

    def __init__(self, **kwargs):
        super().__init__(required=False, max_length=50, **kwargs)


class PagedForm(forms.Form):
    after = CursorField()
    before = CursorField()

    def clean(self):
        data = super().clean()
        if data.get("after") and data.get("before"):
            raise forms.ValidationError("Use either after or before, not both.")
        return data


class DateRangeForm(PagedForm):
    """since/until are whole days, both included."""

    since = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data

    def time_range(self, field):
        """A Q-ready dict of `field` between since (00:00) and the end of until, for __gte/__lt."""
        bounds = {}
        if self.cleaned_data.get("since"):
            bounds[f"{field}__gte"] = day_start(self.cleaned_data["since"])
        if self.cleaned_data.get("until"):
            bounds[f"{field}__lt"] = day_start(self.cleaned_data["until"] + timedelta(days=1))
        return bounds


def day_start(day):
    return timezone.make_aware(datetime.combine(day, time.min))


def agent_choices(agents):
    return [("", "All agents"), *((a.agent_id, a.name or a.agent_id) for a in agents)]


class SessionFilterForm(DateRangeForm):
    q = forms.CharField(required=False, max_length=200, label="Search messages")
    agent = forms.ChoiceField(required=False)
    user = forms.CharField(required=False, max_length=200, label="End user")
    error = forms.BooleanField(required=False, label="With a failed run")

    def __init__(self, data, agents):
        super().__init__(data)
        self.fields["agent"].choices = agent_choices(agents)


class RunFilterForm(DateRangeForm):
    agent = forms.ChoiceField(required=False)
    workflow = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *RunStatus.choices])
    min_duration = forms.DecimalField(
        required=False, min_value=0, max_digits=9, decimal_places=3, label="Min duration (s)"
    )
    error = forms.BooleanField(required=False, label="Errors only")

    def __init__(self, data, agents):
        super().__init__(data)
        self.fields["agent"].choices = agent_choices(agents)


class ModelCallFilterForm(DateRangeForm):
    model = forms.CharField(required=False, max_length=200)
    provider = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), ("ok", "OK"), ("error", "Error")])


class TaskPageForm(forms.Form):
    after = CursorField()


class EventFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=EVENT_KINDS)
    error = forms.BooleanField(required=False, label="Errors only")
    after = CursorField()


class TurnsForm(forms.Form):
    before = CursorField()
    run = forms.CharField(required=False, max_length=200)
