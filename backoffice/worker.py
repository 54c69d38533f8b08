"""The background worker: django-q2 on the database (settings.Q_CLUSTER), started by `manage.py worker`.

Jobs are functions named by their dotted path. One-off jobs are queued with `django_q.tasks.async_task`
(a row in the queue table, written in the caller's transaction: a job and the rows it needs commit
together, or neither does). Periodic jobs are PERIODIC_JOBS below: every part that needs one appends its
(function, minutes) here, and `register()` writes them as the runner's schedules each time a worker
starts, so the schedules are what this list says whatever the database held before.

The worker writes a heartbeat into the shared cache every minute; /health and /metrics read it, with the
queue's depth and the failed jobs kept (`status()`).
"""

from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Failure, Schedule

HEARTBEAT = "backoffice.worker.heartbeat"
# (dotted path of a function without arguments, every how many minutes).
PERIODIC_JOBS = [
    (HEARTBEAT, 1),
    ("metrics.monitors.evaluation.evaluate_due", 1),
    ("metrics.monitors.budget_notices.notify_budgets", 1),
    ("traces.export.outbox.export_pending", 1),
]
# Schedules this module writes are named after their function with this prefix; others are left alone.
PREFIX = "periodic:"
HEARTBEAT_KEY = "backoffice.worker.heartbeat"
# A worker whose heartbeat is older than this is reported stale: the heartbeat runs every minute, and
# the runner's scheduler looks for due schedules every 30 seconds.
STALE_AFTER = timedelta(minutes=3)


def register():
    """Make the runner's periodic schedules equal PERIODIC_JOBS. Idempotent."""
    wanted = {f"{PREFIX}{func}": (func, minutes) for func, minutes in PERIODIC_JOBS}
    with transaction.atomic():
        Schedule.objects.filter(name__startswith=PREFIX).exclude(name__in=wanted).delete()
        for name, (func, minutes) in wanted.items():
            Schedule.objects.update_or_create(
                name=name,
                defaults={
                    "func": func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": minutes,
                    "repeats": -1,
                },
            )


def heartbeat():
    cache.set(HEARTBEAT_KEY, timezone.now().isoformat(), timeout=None)


def status():
    """{"state" (ok, stale or never), "last_heartbeat", "queued", "failures"}. Three queries (and the
    cache's)."""
    value = cache.get(HEARTBEAT_KEY)
    beat = datetime.fromisoformat(value) if value else None
    fresh = beat is not None and timezone.now() - beat <= STALE_AFTER
    state = "never" if beat is None else "ok" if fresh else "stale"
    return {
        "state": state,
        "last_heartbeat": beat.isoformat() if beat else None,
        "queued": get_broker().queue_size(),
        "failures": Failure.objects.count(),
    }
