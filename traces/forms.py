"""Query parameters of the drill-down pages, parsed and checked: the URL is the state of each page."""

from datetime import datetime, time, timedelta

from django import forms
from django.core.validators import RegexValidator
from django.db.models import Q
from django.utils import timezone

from backoffice.days import DayField, InstantField

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
    ("custom.", "custom.*"),
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
    """since/until are whole days, both included; start/end are instants (ISO 8601, in the viewer's
    zone without an offset), start included and end not: the exact bounds of a dashboard card's bucket,
    which its drill-through links carry (metrics.drill)."""

    since = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = DayField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    start = InstantField(
        required=False, widget=forms.HiddenInput, help_text="From this instant on (ISO 8601)."
    )
    end = InstantField(required=False, widget=forms.HiddenInput, help_text="Before this instant (ISO 8601).")

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "The end is not after the start.")
        return data

    def time_range(self, field):
        """A Q-ready dict of `field` within since (00:00) … the end of until and start … end, for
        __gte/__lt; where both kinds bound one side, the narrower wins."""
        data = self.cleaned_data
        lows = [data.get("start")]
        highs = [data.get("end")]
        if data.get("since"):
            lows.append(day_start(data["since"]))
        if data.get("until"):
            highs.append(day_start(data["until"] + timedelta(days=1)))
        bounds = {}
        if any(lows):
            bounds[f"{field}__gte"] = max(low for low in lows if low)
        if any(highs):
            bounds[f"{field}__lt"] = min(high for high in highs if high)
        return bounds


def day_start(day):
    return timezone.make_aware(datetime.combine(day, time.min))


def agent_choices(agents):
    return [("", "All agents"), *((a.agent_id, a.name or a.agent_id) for a in agents)]


def of_agent(rows, agent_id, agents):
    """`rows` of the agent with this external id among `agents` (the workspace's, already read), or all
    of them when no agent is named."""
    if not agent_id:
        return rows
    return rows.filter(agent__in=[a.pk for a in agents if a.agent_id == agent_id])


class SessionFilterForm(DateRangeForm):
    q = forms.CharField(required=False, max_length=200, label="Search messages")
    agent = forms.ChoiceField(required=False)
    user = forms.CharField(required=False, max_length=200, label="End user")
    error = forms.BooleanField(required=False, label="With a failed run")

    def __init__(self, data, agents):
        super().__init__(data)
        self.fields["agent"].choices = agent_choices(agents)

    def narrow(self, sessions):
        """The sessions of the chosen end user and error flag (the text search is the page's own)."""
        if self.cleaned_data["user"]:
            sessions = sessions.filter(user_id=self.cleaned_data["user"])
        if self.cleaned_data["error"]:
            sessions = sessions.filter(has_error=True)
        return sessions


class ModelCallFilterForm(DateRangeForm):
    model = forms.CharField(required=False, max_length=200)
    provider = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), ("ok", "OK"), ("error", "Error")])

    def narrow(self, calls):
        """The calls of the chosen model, provider and status."""
        data = self.cleaned_data
        if data["model"]:
            calls = calls.filter(model=data["model"])
        if data["provider"]:
            calls = calls.filter(provider=data["provider"])
        if data["status"] == "ok":
            calls = calls.filter(status="ok")
        elif data["status"] == "error":
            calls = calls.filter(~Q(status="ok"))
        return calls


class TaskPageForm(forms.Form):
    after = CursorField()
    task = forms.CharField(max_length=200, required=False)  # the selected task's step id


class EventFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=EVENT_KINDS)
    error = forms.BooleanField(required=False, label="Errors only")
    after = CursorField()


class TurnsForm(forms.Form):
    before = CursorField()
    run = forms.CharField(required=False, max_length=200)


class SearchForm(PagedForm):
    """The search box and its results page."""

    q = forms.CharField(required=False, max_length=500, strip=True)
    range = forms.ChoiceField(
        required=False,
        choices=[("30d", "Last 30 days"), ("90d", "Last 90 days"), ("all", "All time")],
    )

    def clean_range(self):
        return self.cleaned_data["range"] or "30d"
