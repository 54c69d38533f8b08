"""Changes to channels and monitors, made from Settings or the API: saved and audit-logged alike."""

from django.db import transaction
from django.utils import timezone

from backoffice import audit

from ..models import Channel, Monitor
from ..periods import RANGE_LENGTHS
from . import metric, presets
from .forms import MonitorForm

CHANNEL_FIELDS = ["kind", "name", "url", "address"]
# What the audit log records of a monitor: the form's fields (its channels are recorded apart) and the
# mute, which has a form of its own.
MONITOR_FIELDS = [name for name in MonitorForm.Meta.fields if name != "channels"] + ["muted_until"]


def removed(fields):
    return {name: [value, None] for name, value in fields.items()}


def channel_fields(channel):
    # The secret is logged as whether there is one, never itself.
    return {**{name: getattr(channel, name) for name in CHANNEL_FIELDS}, "secret": bool(channel.secret)}


def monitor_fields(monitor):
    fields = {name: getattr(monitor, name) for name in MONITOR_FIELDS}
    fields["muted_until"] = monitor.muted_until.isoformat() if monitor.muted_until else None
    if monitor.pk:
        fields["channels"] = sorted(channel.pk for channel in monitor.channels.all())
    return fields


@transaction.atomic
def save_channel(request, form):
    """Save a valid ChannelForm; a workspace's first channel starts its preset monitors."""
    # As stored: validating the form has already written its values onto the instance.
    before = channel_fields(Channel.objects.get(pk=form.instance.pk)) if form.instance.pk else {}
    channel = form.save(commit=False)
    channel.workspace = request.workspace
    channel.save()
    action = "channel.updated" if before else "channel.created"
    changes = audit.diff(before, channel_fields(channel))
    if not before and (started := presets.adopt(channel)):
        changes["preset_monitors_started"] = started
    audit.record(request, action, channel.name, changes)
    return channel


@transaction.atomic
def delete_channel(request, channel):
    audit.record(request, "channel.deleted", channel.name, removed(channel_fields(channel)))
    channel.delete()


@transaction.atomic
def save_monitor(request, form, **extra):
    """Save a valid MonitorForm (and `extra` fields, such as the card it comes from)."""
    # As stored: validating the form has already written its values onto the instance.
    before = monitor_fields(Monitor.objects.get(pk=form.instance.pk)) if form.instance.pk else {}
    monitor = form.save(commit=False)
    monitor.workspace = request.workspace
    for name, value in extra.items():
        setattr(monitor, name, value)
    monitor.updated_at = timezone.now()
    monitor.save()
    form.save_m2m()
    action = "monitor.updated" if before else "monitor.created"
    audit.record(request, action, monitor.name, audit.diff(before, monitor_fields(monitor)))
    return monitor


@transaction.atomic
def delete_monitor(request, monitor):
    audit.record(request, "monitor.deleted", monitor.name, removed(monitor_fields(monitor)))
    monitor.delete()


def mute(request, monitor, until):
    """Mute until a time (None unmutes)."""
    before = monitor.muted_until
    monitor.muted_until = until
    monitor.save(update_fields=["muted_until"])
    audit.record(
        request,
        "monitor.muted" if until else "monitor.unmuted",
        monitor.name,
        {"muted_until": [before.isoformat() if before else None, until.isoformat() if until else None]},
    )


def record_test(request, monitor, queued):
    audit.record(request, "monitor.tested", monitor.name, {"notifications": queued})


# A card's range is what it looks back over; a monitor evaluated every few minutes looks back a day at most.
LONGEST_CARD_WINDOW = 24 * 60


@transaction.atomic
def monitor_from_card(request, card):
    """A monitor of the card's metric and thresholds, telling every channel of the workspace. Without
    thresholds on the card, it starts disabled: it has nothing to compare with yet."""
    length = RANGE_LENGTHS.get(card.time_range)
    window = min(int(length.total_seconds() // 60), LONGEST_CARD_WINDOW) if length else LONGEST_CARD_WINDOW
    thresholds = card.warning_threshold is not None or card.alert_threshold is not None
    monitor = Monitor.objects.create(
        workspace=request.workspace,
        name=card.title[:100],
        card=card,
        enabled=thresholds,
        metric=metric.of_card(card),
        window_minutes=window,
        warning=card.warning_threshold,
        alert=card.alert_threshold,
        direction=card.threshold_direction,
    )
    monitor.channels.set(Channel.objects.filter(workspace=request.workspace))
    audit.record(
        request, "monitor.created", monitor.name, {**audit.diff({}, monitor_fields(monitor)), "card": card.pk}
    )
    return monitor
