"""Evaluating monitors: the metric over its window, a state per breakdown value, transitions kept and told.

A value past the alert threshold (in the monitor's direction: above, or below) is `alert`, past the
warning threshold `warning`, else `ok`; no value at all (an average of no rows, a rate with no
denominator) is what the monitor's `no_data` says. A change of state is a MonitorTransition and one
notification to each channel, unless the monitor is muted. While a value stays bad, it is told again every
`renotify_minutes`; a bad state that arose while muted is told when the mute ends. The first look at a
value records it quietly unless it is bad.

The worker calls `evaluate_due` every minute (backoffice.worker.PERIODIC_JOBS); each monitor commits
its states, history and notifications together (metrics.monitors.delivery queues them in the same
transaction), so a crash repeats a whole evaluation or none of it.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ..models import Monitor, MonitorKeyState, MonitorState, MonitorTransition, NoData, ThresholdDirection
from . import messages, metric
from .delivery import notify

logger = logging.getLogger(__name__)
BAD = {MonitorState.WARNING, MonitorState.ALERT}
# Which of a monitor's values its own state shows: the worst.
SEVERITY = [MonitorState.OK, MonitorState.NO_DATA, MonitorState.WARNING, MonitorState.ALERT]
NO_DATA = {NoData.OK: MonitorState.OK, NoData.ALERT: MonitorState.ALERT, NoData.NO_DATA: MonitorState.NO_DATA}
# The scheduler looks every minute: a monitor due within this margin is evaluated now, not a minute late.
EARLY = timedelta(seconds=30)
CYCLE_LOCK = "metrics.monitors.cycle"


def classify(monitor, value):
    """(state, the threshold that decided it) of one value."""
    if value is None:
        return NO_DATA[monitor.no_data], None
    above = monitor.direction == ThresholdDirection.ABOVE

    def past(threshold):
        return threshold is not None and (value > threshold if above else value < threshold)

    if past(monitor.alert):
        return MonitorState.ALERT, monitor.alert
    if past(monitor.warning):
        return MonitorState.WARNING, monitor.warning
    return MonitorState.OK, monitor.warning if monitor.warning is not None else monitor.alert


@dataclass
class Outcome:
    state: str
    value: float | None
    keys: dict = field(default_factory=dict)  # breakdown value → (state, value)
    notified: int = 0  # notifications queued (one per channel)


def evaluate(monitor, now=None):
    """Evaluate one monitor now and commit what changed. Returns its Outcome. A fixed number of queries
    (fewer with `channels` and `key_states` prefetched), whatever its breakdown values."""
    now = now or timezone.now()
    start = now - timedelta(minutes=monitor.window_minutes)
    values = metric.values(monitor, start, now)
    channels = list(monitor.channels.all())
    muted = monitor.is_muted(now)
    states = {row.key: row for row in monitor.key_states.all()}
    for key in states:
        values.setdefault(key, None)  # a breakdown value gone from the window has no data
    outcome = Outcome(state=MonitorState.OK, value=None)
    transitions, created, changed, told = [], [], [], []
    for key, value in values.items():
        state, threshold = classify(monitor, value)
        outcome.keys[key] = (state, value)
        row = states.get(key)
        if row is None:
            row = MonitorKeyState(monitor=monitor, key=key, state=MonitorState.OK, since=now)
            created.append(row)
            if state not in BAD:
                row.state, row.value = state, value
                continue
        else:
            changed.append(row)
        previous = row.state
        if state != previous:
            transition = MonitorTransition(
                monitor=monitor,
                key=key,
                previous_state=previous,
                state=state,
                value=value,
                threshold=threshold,
                at=now,
            )
            transition.notified = bool(channels) and not muted
            transitions.append(transition)
            row.since = now
            if transition.notified:
                told.append(messages.transition(monitor, transition, start))
                row.notified_at = now
        elif state in BAD and not muted and channels and _owed(monitor, row, now):
            told.append(messages.reminder(monitor, key, state, value, threshold, start, now))
            row.notified_at = now
        row.state, row.value = state, value
    worst = max(outcome.keys.items(), key=lambda item: SEVERITY.index(item[1][0]), default=None)
    if worst:
        outcome.state, outcome.value = worst[1]
    with transaction.atomic():
        MonitorTransition.objects.bulk_create(transitions)
        MonitorKeyState.objects.bulk_create(created)
        MonitorKeyState.objects.bulk_update(changed, ["state", "value", "since", "notified_at"])
        Monitor.objects.filter(pk=monitor.pk).update(
            state=outcome.state, value=outcome.value, evaluated_at=now
        )
        for message in told:
            for channel in channels:
                outcome.notified += notify(channel, message) is not None
    monitor.state, monitor.value, monitor.evaluated_at = outcome.state, outcome.value, now
    return outcome


def _owed(monitor, row, now):
    """A bad state not told yet (it arose while muted), or last told `renotify_minutes` ago."""
    if row.notified_at is None or row.notified_at < row.since:
        return True
    return bool(monitor.renotify_minutes) and now - row.notified_at >= timedelta(
        minutes=monitor.renotify_minutes
    )


def evaluate_due(now=None):
    """The worker's periodic job: every enabled monitor whose interval has passed. Returns how many.

    One cycle at a time, whatever the workers: a cycle that outlasts its minute would otherwise meet the
    next one on another worker, and both would tell the same changes. The lock is a key of the shared
    cache, added atomically, that expires with the job's timeout should its worker die."""
    if not cache.add(CYCLE_LOCK, "1", timeout=settings.WORKER_JOB_TIMEOUT):
        return 0
    try:
        return _evaluate_due(now or timezone.now())
    finally:
        cache.delete(CYCLE_LOCK)


def _evaluate_due(now):
    due = [
        monitor
        for monitor in Monitor.objects.filter(enabled=True).only("pk", "evaluated_at", "interval_minutes")
        if monitor.evaluated_at is None
        or monitor.evaluated_at + timedelta(minutes=monitor.interval_minutes) <= now + EARLY
    ]
    monitors = (
        Monitor.objects.filter(pk__in=[monitor.pk for monitor in due])
        .select_related("workspace")
        .prefetch_related("channels", "key_states")
    )
    count = 0
    for monitor in monitors.iterator(chunk_size=200):
        try:
            evaluate(monitor, now)
            count += 1
        except Exception:
            # One broken monitor (a metric its source no longer has) must not stop the others.
            logger.exception("Monitor %s could not be evaluated", monitor.pk)
    return count


def fire_test(monitor, now=None):
    """Tell every channel of the monitor its current state, marked as a test. Returns how many were
    queued."""
    now = now or timezone.now()
    message = messages.test(monitor, now)
    with transaction.atomic():
        return sum(notify(channel, message) is not None for channel in monitor.channels.all())
