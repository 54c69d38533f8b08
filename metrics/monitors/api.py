"""Channels and monitors as code, under /api/v1/ (a key with the `admin` scope). Every change goes to
the audit log; a channel or monitor of another workspace answers 404, and a channel id of another
workspace in a monitor's `channels` a 422 naming `channels`. Bodies are checked by the settings pages'
forms (metrics.monitors.forms), so both refuse the same things with the same words."""

import json
from datetime import datetime
from typing import Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from backoffice.api_auth import AdminKeyAuth
from backoffice.api_errors import Input, problems

from ..models import Channel, Monitor, MonitorTransition
from . import changes
from .evaluation import evaluate
from .forms import ChannelForm, MonitorForm
from .metric import FIELDS

router = Router(tags=["monitors"], auth=AdminKeyAuth())

METRIC_HELP = (
    f"A dashboard card's metric fields: {', '.join(FIELDS)} (filters and condition are lists of "
    '{"property", "operator", "value"}), e.g. {"source": "runs", "aggregation": "rate", "condition": '
    '[{"property": "status", "operator": "eq", "value": "failed"}], "breakdown": "agent"}.'
)
COMPARE_HELP = (
    "A spike monitor: the value is the window's metric over its mean in this many windows of the same "
    "length just before (1 to 24), and the thresholds are ratios (2: twice the usual). Null: the "
    "thresholds are the metric's own values."
)
Direction = Literal["above", "below"]
NoDataValue = Literal["ok", "alert", "no_data"]


class ChannelIn(Input):
    kind: Literal["webhook", "slack", "email"]
    name: str = Field(max_length=100)
    url: str = Field("", max_length=500, description="Webhook and Slack: where to POST.")
    address: str = Field("", max_length=254, description="E-mail: where to send.")
    secret: str = Field("", max_length=200, description="Webhook: the HMAC-SHA256 key of its signature.")


class ChannelOut(Schema):
    id: int
    kind: str
    name: str
    url: str
    address: str
    signed: bool = Field(description="Whether webhook bodies are signed (the secret is never shown).")
    created_at: datetime


class MonitorIn(Input):
    name: str = Field(max_length=100)
    metric: dict[str, Any] = Field(description=METRIC_HELP)
    window_minutes: int = Field(60, description="The rolling window the metric is computed over.")
    compare_windows: int | None = Field(None, description=COMPARE_HELP)
    interval_minutes: int = Field(5, description="How often the worker evaluates it.")
    warning: float | None = None
    alert: float | None = None
    direction: Direction = Field("above", description="Which side of a threshold is bad.")
    no_data: NoDataValue = Field("no_data", description="The state when the window has no value.")
    renotify_minutes: int | None = Field(None, description="While bad, notify again this often.")
    channels: list[int] = Field(default_factory=list, description="Ids of the workspace's channels.")
    enabled: bool = True
    muted_until: datetime | None = None


class MonitorPatch(Input):
    """Only the fields sent change; warning, alert, compare_windows, renotify_minutes and muted_until
    accept null."""

    name: str | None = Field(None, max_length=100)
    metric: dict[str, Any] | None = Field(None, description=METRIC_HELP)
    window_minutes: int | None = None
    compare_windows: int | None = Field(None, description=COMPARE_HELP)
    interval_minutes: int | None = None
    warning: float | None = None
    alert: float | None = None
    direction: Direction | None = None
    no_data: NoDataValue | None = None
    renotify_minutes: int | None = None
    channels: list[int] | None = None
    enabled: bool | None = None
    muted_until: datetime | None = None


class KeyStateOut(Schema):
    breakdown: str | None = Field(description="The breakdown value; null without a breakdown.")
    state: str
    value: float | None


class MonitorOut(Schema):
    id: int
    name: str
    enabled: bool
    metric: dict[str, Any]
    window_minutes: int
    compare_windows: int | None
    interval_minutes: int
    warning: float | None
    alert: float | None
    direction: str
    no_data: str
    renotify_minutes: int | None
    muted_until: datetime | None
    channels: list[int]
    card_id: int | None
    preset: str
    state: str = Field(description="ok, warning, alert or no_data: the worst of its breakdown values.")
    value: float | None
    evaluated_at: datetime | None
    states: list[KeyStateOut]


class EvaluationOut(Schema):
    state: str
    value: float | None
    states: list[KeyStateOut]


class TransitionOut(Schema):
    id: int
    at: datetime
    breakdown: str | None
    previous_state: str
    state: str
    value: float | None
    threshold: float | None
    notified: bool


class HistoryQuery(Schema):
    limit: int = Field(100, ge=1, le=500)
    before: int | None = Field(None, description="The id of the last transition of the previous page.")


def channel_out(channel):
    return {
        **{name: getattr(channel, name) for name in ChannelOut.model_fields if name != "signed"},
        "signed": bool(channel.secret),
    }


def key_states(rows):
    return [{"breakdown": key or None, "state": state, "value": value} for key, state, value in rows]


def monitor_out(monitor):
    fields = {
        name: getattr(monitor, name) for name in MonitorOut.model_fields if name not in ("channels", "states")
    }
    return {
        **fields,
        "channels": [channel.pk for channel in monitor.channels.all()],
        "states": key_states((row.key, row.state, row.value) for row in monitor.key_states.all()),
    }


def monitors_in(workspace):
    return (
        Monitor.objects.filter(workspace=workspace)
        .select_related("workspace")
        .prefetch_related("channels", "key_states")
    )


def get_monitor(request, monitor_id):
    return get_object_or_404(monitors_in(request.workspace), pk=monitor_id)


def invalid(form):
    """The form's errors as the API's 422."""
    errors = [{"field": name, "detail": " ".join(messages)} for name, messages in form.errors.items()]
    first = errors[0]
    return Status(
        422, {"detail": f"{first['field']}: {first['detail']}", "field": first["field"], "errors": errors}
    )


@router.get("/channels", response={200: list[ChannelOut], **problems()}, summary="Notification channels")
def channel_list(request):
    return [channel_out(channel) for channel in Channel.objects.filter(workspace=request.workspace)]


@router.post("/channels", response={201: ChannelOut, **problems()}, summary="Add a notification channel")
def channel_create(request, payload: ChannelIn):
    """A workspace's first channel starts its preset monitors (the alert table it began with)."""
    form = ChannelForm(payload.dict(), workspace=request.workspace)
    if not form.is_valid():
        return invalid(form)
    return Status(201, channel_out(changes.save_channel(request, form)))


@router.get("/monitors", response={200: list[MonitorOut], **problems()}, summary="Monitors")
def monitor_list(request):
    return [monitor_out(monitor) for monitor in monitors_in(request.workspace)]


def form_data(fields):
    data = {**fields, "metric": json.dumps(fields["metric"])}
    return {name: "" if value is None else value for name, value in data.items()}


@router.post("/monitors", response={201: MonitorOut, **problems()}, summary="Create a monitor")
def monitor_create(request, payload: MonitorIn):
    fields = payload.dict()
    muted_until = fields.pop("muted_until")
    form = MonitorForm(form_data(fields), workspace=request.workspace)
    if not form.is_valid():
        return invalid(form)
    monitor = changes.save_monitor(request, form, muted_until=muted_until)
    return Status(201, monitor_out(get_monitor(request, monitor.pk)))


@router.get("/monitors/{int:monitor_id}", response={200: MonitorOut, **problems()}, summary="A monitor")
def monitor_get(request, monitor_id: int):
    return monitor_out(get_monitor(request, monitor_id))


@router.patch(
    "/monitors/{int:monitor_id}", response={200: MonitorOut, **problems()}, summary="Change a monitor"
)
def monitor_update(request, monitor_id: int, payload: MonitorPatch):
    monitor = get_monitor(request, monitor_id)
    sent = payload.dict(exclude_unset=True)
    nullable = ("warning", "alert", "compare_windows", "renotify_minutes", "muted_until")
    nulls = [name for name, value in sent.items() if value is None and name not in nullable]
    if nulls:
        return Status(422, {"detail": f"{nulls[0]}: cannot be null", "field": nulls[0]})
    current = {name: getattr(monitor, name) for name in MonitorIn.model_fields if name != "channels"}
    current["channels"] = [channel.pk for channel in monitor.channels.all()]
    fields = {**current, **sent}
    muted_until = fields.pop("muted_until")
    form = MonitorForm(form_data(fields), instance=monitor, workspace=request.workspace)
    if not form.is_valid():
        return invalid(form)
    changes.save_monitor(request, form, muted_until=muted_until)
    return monitor_out(get_monitor(request, monitor_id))


@router.delete("/monitors/{int:monitor_id}", response={204: None, **problems()}, summary="Delete a monitor")
def monitor_delete(request, monitor_id: int):
    changes.delete_monitor(request, get_monitor(request, monitor_id))
    return Status(204, None)


@router.post(
    "/monitors/{int:monitor_id}/evaluate",
    response={200: EvaluationOut, **problems()},
    summary="Evaluate a monitor now: its new state and value (and notifications, if it changed)",
)
def monitor_evaluate(request, monitor_id: int):
    outcome = evaluate(get_monitor(request, monitor_id))
    rows = ((key, state, value) for key, (state, value) in outcome.keys.items())
    return {"state": outcome.state, "value": outcome.value, "states": key_states(rows)}


@router.get(
    "/monitors/{int:monitor_id}/history",
    response={200: list[TransitionOut], **problems()},
    summary="A monitor's transitions, latest first",
)
def monitor_history(request, monitor_id: int, query: Query[HistoryQuery]):
    monitor = get_monitor(request, monitor_id)
    transitions = MonitorTransition.objects.filter(monitor=monitor).order_by("-at", "-id")
    if query.before is not None:
        last = get_object_or_404(transitions, pk=query.before)
        transitions = transitions.filter(at__lte=last.at).exclude(at=last.at, id__gte=last.pk)
    return [
        {
            **{name: getattr(row, name) for name in TransitionOut.model_fields if name != "breakdown"},
            "breakdown": row.key or None,
        }
        for row in transitions[: query.limit]
    ]
