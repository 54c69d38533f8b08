"""What a monitor's notification says: one Message (metrics.monitors.delivery) per transition, reminder
or test, the same for every channel.

The webhook body:

    {"kind": "transition" | "reminder" | "test", "monitor": {"id", "name"}, "state", "previous_state",
     "value", "threshold", "breakdown" (the breakdown value, or null), "workspace" (its slug), "at",
     "links": {"monitor": <its page>, "runs": <the rows behind the value, or null>}}
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from ..display import format_value
from ..engine import NEEDS_NUMBERS
from ..models import Aggregation, MonitorState
from ..sources import SOURCES
from . import metric
from .delivery import Message


def _absolute(path):
    return f"{settings.BACKOFFICE_URL}{path}" if path else None


def monitor_path(monitor):
    return reverse("governance:monitor", args=[monitor.workspace.slug, monitor.pk])


def shown(monitor, value):
    """A value as the monitor's card would show it; a spike monitor's as a ratio ("2.1×")."""
    if monitor.compare_windows:
        return format_value(None, "", False) if value is None else f"{value:.3g}×"
    fields = monitor.metric
    percentage = fields.get("aggregation") == Aggregation.RATE
    unit = ""
    if fields.get("aggregation") in NEEDS_NUMBERS and fields.get("source") in SOURCES:
        prop = SOURCES[fields["source"]].resolve(fields.get("property", ""))
        unit = prop.unit if prop else ""
    return format_value(value, unit, percentage)


def _against(monitor):
    if not monitor.compare_windows:
        return ""
    return f", against its mean over the {monitor.compare_windows} windows before"


def _message(monitor, kind, key, state, previous, value, threshold, start, at):
    label = f"{monitor.name} ({key})" if key else monitor.name
    headline = {
        "transition": f"{label} is {MonitorState(state).label.lower()}",
        "reminder": f"{label} is still {MonitorState(state).label.lower()}",
        "test": f"Test of {label}: {MonitorState(state).label.lower()}",
    }[kind]
    was = MonitorState(previous).label.lower()
    detail = f", was {was}" if kind == "transition" else ""
    links = {
        "monitor": _absolute(monitor_path(monitor)),
        "runs": _absolute(metric.rows_url(monitor, key, start, at)),
    }
    direction = "above" if monitor.direction == "above" else "below"
    lines = [
        f"Value: {shown(monitor, value)}{detail}.",
        f"Threshold: {shown(monitor, threshold)} ({direction} is bad)." if threshold is not None else "",
        f"Window: the last {monitor.window_minutes} minutes{_against(monitor)}.",
        f"Monitor: {links['monitor']}",
        f"Rows behind the value: {links['runs']}" if links["runs"] else "",
    ]
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Message(
        subject=headline,
        text="\n".join(line for line in lines if line),
        key=f"monitor:{monitor.pk}:{digest}:{kind}:{state}:{at.isoformat()}",
        body={
            "kind": kind,
            "monitor": {"id": monitor.pk, "name": monitor.name},
            "state": state,
            "previous_state": previous,
            "value": value,
            "threshold": threshold,
            "breakdown": key or None,
            "workspace": monitor.workspace.slug,
            "at": at.isoformat(),
            "links": links,
        },
    )


def transition(monitor, change, start):
    return _message(
        monitor,
        "transition",
        change.key,
        change.state,
        change.previous_state,
        change.value,
        change.threshold,
        start,
        change.at,
    )


def reminder(monitor, key, state, value, threshold, start, at):
    return _message(monitor, "reminder", key, state, state, value, threshold, start, at)


def test(monitor, at):
    start = at - timedelta(minutes=monitor.window_minutes)
    threshold = monitor.alert if monitor.alert is not None else monitor.warning
    return _message(monitor, "test", "", monitor.state, monitor.state, monitor.value, threshold, start, at)
