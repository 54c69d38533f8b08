"""The exporters' outbox: which runs to send, sending them, and retrying with backoff.

One pass (`export_pending`) does, for each enabled exporter:

1. *Queue.* The workspace's events after the exporter's cursor, in id order, name the runs they changed;
   each of those runs that has finished gets an ExportItem (or, when it has one, a new version), and the
   cursor moves past the events, in one transaction: a crash before the commit reads them again. A
   workspace's events are written under its lock (traces.locks), so their ids commit in order and no
   event can appear later behind the cursor. A run is thus queued when it completes or fails, and again
   when late events change it after.
2. *Send.* The due items, oldest first: each is claimed by moving its due time forward by a lease (so two
   passes at once do not both send it), its run is sent whole, and the item is deleted only after every
   request of the run has a 2xx answer and only if no newer version came meanwhile. The receiver stores
   spans sent again once (OTLP ingest derives event ids from span ids), so sending a run again is safe:
   delivery is at least once, and in order per run because each send is the whole run as it stands.
   A failure keeps the item, due again after an exponential backoff.
"""

import time
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from traces.models import Event, Exporter, ExportItem, Run, RunStatus

from . import delivery
from .spans import requests_of

SCAN = 5_000  # events read per query while queueing
DUE = 100  # items sent per exporter and pass: one pass stays short whatever the backlog
SPANS_PER_REQUEST = 500  # the receiver takes at most 1,000 events a batch, and a span makes two or more
LEASE = timedelta(minutes=5)  # a claimed item is not sent again before this, unless its sender finishes
BACKOFF = timedelta(seconds=30)  # after the first failure; doubled each time, up to MAX_BACKOFF
MAX_BACKOFF = timedelta(hours=1)
FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED)
# A pass claims no more items after this long, so it ends well within the worker's job timeout
# (WORKER_JOB_TIMEOUT); what is left is due on the next pass.
PASS_SECONDS = 120


def backoff(attempts):
    return min(BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)


def export_pending(now=None):
    """One pass over every enabled exporter: queue what changed, send what is due. Returns
    {"queued": runs queued, "sent": runs delivered, "failed": sends that failed}."""
    totals, now = {"queued": 0, "sent": 0, "failed": 0}, now or timezone.now()
    deadline = time.monotonic() + PASS_SECONDS
    for exporter in Exporter.objects.filter(enabled=True).order_by("id"):
        totals["queued"] += queue(exporter, now)
        sent, failed = send_due(exporter, now, deadline)
        totals["sent"] += sent
        totals["failed"] += failed
    return totals


def queue(exporter, now):
    """Queue the finished runs of the events after the exporter's cursor; returns how many."""
    queued = 0
    while True:
        with transaction.atomic():
            events = Event.objects.filter(
                workspace_id=exporter.workspace_id, pk__gt=exporter.cursor, run__isnull=False
            ).order_by("pk")
            rows = list(events.values_list("pk", "run_id")[:SCAN])
            if not rows:
                return queued
            runs = set(
                Run.objects.filter(pk__in={run for _, run in rows}, status__in=FINISHED).values_list(
                    "pk", flat=True
                )
            )
            items = ExportItem.objects.filter(exporter=exporter, run_id__in=runs)
            waiting = set(items.values_list("run_id", flat=True))
            items.update(version=F("version") + 1)
            ExportItem.objects.bulk_create(
                [ExportItem(exporter=exporter, run_id=run, due_at=now) for run in runs - waiting],
                ignore_conflicts=True,
            )
            exporter.cursor = rows[-1][0]
            # Only forward: a slower pass at the same time must not move it back.
            Exporter.objects.filter(pk=exporter.pk, cursor__lt=exporter.cursor).update(cursor=exporter.cursor)
            queued += len(runs)
        if len(rows) < SCAN:
            return queued


def send_due(exporter, now, deadline):
    """Send the exporter's due items until `deadline` (time.monotonic()); returns (runs sent, sends
    failed)."""
    sent = failed = 0
    due = ExportItem.objects.filter(exporter=exporter, due_at__lte=now).order_by("due_at", "id")[:DUE]
    for item in due:
        if time.monotonic() > deadline:
            break
        claimed = ExportItem.objects.filter(pk=item.pk, due_at=item.due_at).update(due_at=now + LEASE)
        if not claimed:
            continue  # another pass has it
        run = Run.objects.select_related("agent", "session").filter(pk=item.run_id).first()
        if run is None:
            continue  # deleted since (retention, forget-me): its item went with it
        try:
            for request in requests_of(run, SPANS_PER_REQUEST):
                delivery.post(exporter, request)
        except delivery.Failed as error:
            failed += 1
            record_failure(exporter, item, str(error), now)
            continue
        sent += 1
        if not ExportItem.objects.filter(pk=item.pk, version=item.version).delete()[0]:
            # Late events came while it was being sent: send the run again on the next pass.
            ExportItem.objects.filter(pk=item.pk).update(due_at=now, attempts=0, last_error="")
        Exporter.objects.filter(pk=exporter.pk).update(last_success_at=timezone.now())
    return sent, failed


def record_failure(exporter, item, message, now):
    attempts = item.attempts + 1
    message = message[:500]
    ExportItem.objects.filter(pk=item.pk).update(
        attempts=attempts, due_at=now + backoff(attempts), last_error=message
    )
    Exporter.objects.filter(pk=exporter.pk).update(last_error=message, last_error_at=timezone.now())
