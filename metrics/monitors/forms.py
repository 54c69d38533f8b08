"""The forms of channels and monitors: the settings pages and the API check with the same ones."""

import json

from django import forms

from ..models import Channel, ChannelKind, Monitor
from . import metric

MAX_WINDOW_MINUTES = 90 * 24 * 60
# A week: a monitor looked at less often than that is a report, not a monitor.
MAX_INTERVAL_MINUTES = 7 * 24 * 60
# A spike monitor's baseline: up to a day of hourly windows (read in the same query as its window).
MAX_COMPARE_WINDOWS = 24


class ChannelForm(forms.ModelForm):
    url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", help_text="Webhooks and Slack: where to POST."
    )

    class Meta:
        model = Channel
        fields = ["kind", "name", "url", "address", "secret"]
        widgets = {"secret": forms.PasswordInput(render_value=True)}
        help_texts = {"address": "E-mail only."}

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind in (ChannelKind.WEBHOOK, ChannelKind.SLACK):
            if not data.get("url"):
                self.add_error("url", "A webhook needs the URL to POST to.")
            data["address"] = ""
        elif kind == ChannelKind.EMAIL:
            if not data.get("address"):
                self.add_error("address", "An e-mail channel needs an address.")
            data["url"] = data["secret"] = ""
        if kind == ChannelKind.SLACK:
            data["secret"] = ""  # Slack's incoming webhooks are not signed
        name = data.get("name", "")
        taken = Channel.objects.filter(workspace=self.workspace, name=name).exclude(pk=self.instance.pk)
        if name and taken.exists():
            self.add_error("name", "Another channel has this name.")
        return data


class MetricField(forms.JSONField):
    """A card's metric fields as JSON, checked as the card editor checks them."""

    def clean(self, value):
        value = super().clean(value)
        cleaned, errors = metric.check(value)
        if errors:
            raise forms.ValidationError(
                [
                    f"{name}: {' '.join(messages)}" if name != "metric" else " ".join(messages)
                    for name, messages in errors.items()
                ]
            )
        return cleaned

    def prepare_value(self, value):
        return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


# The fields that count from 1 up to a bound: (the bound, its unit, how long that is).
BOUNDS = {
    "window_minutes": (MAX_WINDOW_MINUTES, "minute", " (90 days)"),
    "interval_minutes": (MAX_INTERVAL_MINUTES, "minute", " (a week)"),
    "compare_windows": (MAX_COMPARE_WINDOWS, "window", ""),
    "renotify_minutes": (MAX_WINDOW_MINUTES, "minute", " (90 days)"),
}


class MonitorForm(forms.ModelForm):
    metric = MetricField(
        widget=forms.Textarea(attrs={"rows": 8, "class": "code"}),
        help_text="A card's metric, as JSON: source, event_name, metric_name, aggregation, property, "
        "filters, condition, breakdown.",
    )

    class Meta:
        model = Monitor
        fields = [
            "name",
            "enabled",
            "metric",
            "window_minutes",
            "compare_windows",
            "interval_minutes",
            "warning",
            "alert",
            "direction",
            "no_data",
            "renotify_minutes",
            "channels",
        ]
        widgets = {"channels": forms.CheckboxSelectMultiple}
        labels = {
            "warning": "Warning threshold",
            "alert": "Alert threshold",
            "no_data": "No data means",
            "compare_windows": "Compare with the windows before",
        }

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].queryset = Channel.objects.filter(workspace=workspace)

    def clean(self):
        data = super().clean()
        for name, (high, unit, spelled) in BOUNDS.items():
            value = data.get(name)
            if value is not None and not 1 <= value <= high:
                empty = "" if self.fields[name].required else ", or empty"
                self.add_error(name, f"From 1 {unit} to {high}{spelled}{empty}.")
        if data.get("warning") is None and data.get("alert") is None:
            self.add_error("alert", "Set a warning or an alert threshold (or both).")
        warning, alert, direction = data.get("warning"), data.get("alert"), data.get("direction")
        if warning is not None and alert is not None:
            wrong = warning > alert if direction == "above" else warning < alert
            if wrong:
                self.add_error("warning", "The warning comes before the alert: nearer the good side.")
        return data
