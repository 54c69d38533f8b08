"""Deleting what a workspace keeps longer than its retention, in small batches.

What goes, for a cutoff of now − retention days:
- a run that started before the cutoff and did not end after it, with its model calls, events,
  tasks and review;
- chat messages, business events, OTLP metric points and run-less events older than the cutoff, each
  by its own time;
- a conversation once it has nothing left and its last activity is older than the cutoff.

Each batch is its own short transaction that deletes at most `batch` rows of one table, children
before parents, so no table is locked for long and an interrupted purge leaves consistent data:
running it again picks up where it stopped. The conversations that lose runs or messages get their roll-ups
recomputed in the same transaction as the batch; business events leave their daily roll-up
(metrics.rollups.tracked_events), and runs, tasks and model calls the daily trace roll-ups (under the
workspace's ingest lock, like every writer of them), in the transaction that deletes them. At the end the
trace roll-up rows left at zero are pruned.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from metrics.models import MetricPoint, TrackedEvent
from metrics.rollups import tracked_events as rollups
from traces.ingest.fold import renumber
from traces.locks import lock_workspace
from traces.models import ChatMessage, Event, ModelCall, Review, Run, Session, Task
from traces.rollups import daily as trace_rollups
from traces.rollups.sessions import refresh_sessions

BATCH = 1000


def old_runs(workspace, cutoff):
    # Served by the run_latest index (workspace, started_at).
    return Run.objects.filter(workspace=workspace, started_at__lt=cutoff).exclude(ended_at__gte=cutoff)


@dataclass
class Step:
    """One kind of row to delete: `rows` is the queryset of everything of that kind that must go."""

    name: str
    rows: object
    # Deleting runs or messages changes their conversation's roll-ups (and message places).
    touches_sessions: bool = False
    # Called with a batch (queryset and primary keys) just before it is deleted, in the same
    # transaction: the roll-ups lose what the batch added to them.
    before_delete: Callable | None = None


@dataclass
class Purge:
    workspace: object
    cutoff: object
    batch: int = BATCH
    removed: dict = field(default_factory=dict)

    @classmethod
    def for_workspace(cls, workspace, now=None, batch=BATCH):
        cutoff = (now or timezone.now()) - timedelta(days=workspace.retention_days)
        return cls(workspace=workspace, cutoff=cutoff, batch=batch)

    def steps(self):
        """Children first: every step only deletes rows nothing left behind still points to."""
        ws, cutoff = self.workspace, self.cutoff
        runs = old_runs(ws, cutoff)
        return [
            Step(
                "model calls",
                ModelCall.objects.filter(run__in=runs),
                before_delete=self.trace_subtract("calls"),
            ),
            Step("events", Event.objects.filter(run__in=runs)),
            Step("events", Event.objects.filter(workspace=ws, run__isnull=True, timestamp__lt=cutoff)),
            Step("tasks", Task.objects.filter(run__in=runs), before_delete=self.trace_subtract("tasks")),
            Step("reviews", Review.objects.filter(run__in=runs)),
            Step("runs", runs, touches_sessions=True, before_delete=self.trace_subtract("runs")),
            Step("messages", ChatMessage.objects.filter(workspace=ws, created_at__lt=cutoff), True),
            Step(
                "business events",
                TrackedEvent.objects.filter(workspace=ws, timestamp__lt=cutoff),
                before_delete=lambda batch, pks: rollups.subtract(batch),
            ),
            Step("metric points", MetricPoint.objects.filter(workspace=ws, observed_at__lt=cutoff)),
            Step(
                "conversations",
                Session.objects.filter(
                    workspace=ws, last_activity_at__lt=cutoff, runs__isnull=True, messages__isnull=True
                ),
            ),
        ]

    def trace_subtract(self, part):
        """What a batch of runs (with what tasks and model calls they still have: the delete cascades),
        tasks or model calls ("runs", "tasks", "calls") takes out of the daily trace roll-ups."""

        def subtract(batch, pks):
            lock_workspace(
                self.workspace
            )  # every writer of the trace roll-ups holds it (traces.rollups.daily)
            trace_rollups.subtract(trace_rollups.Scope.of(**{part: pks}))

        return subtract

    def estimate(self):
        """What a purge would remove now, per kind of row (for --dry-run)."""
        counts = {}
        for step in self.steps():
            counts[step.name] = counts.get(step.name, 0) + step.rows.count()
        return counts

    def run(self, progress=None):
        """Delete batch after batch; `progress(name, count)` is called after each. Returns what went."""
        for step in self.steps():
            self.removed.setdefault(step.name, 0)
            while True:
                count = self.delete_batch(step)
                if not count:
                    break
                self.removed[step.name] += count
                if progress:
                    progress(step.name, count)
        with transaction.atomic():
            lock_workspace(self.workspace)
            trace_rollups.prune(self.workspace)
        return self.removed

    def delete_batch(self, step):
        with transaction.atomic():
            pks = list(step.rows.order_by().values_list("pk", flat=True)[: self.batch])
            if not pks:
                return 0
            batch = step.rows.model.objects.filter(pk__in=pks)
            sessions = set()
            if step.touches_sessions:
                sessions = set(batch.filter(session__isnull=False).values_list("session", flat=True))
            if step.before_delete:
                step.before_delete(batch, pks)
            batch.delete()
            if sessions:
                renumber("chat_messages", "session_id", "created_at", "event_id", sessions)
                refresh_sessions(sessions, widen=False)
        return len(pks)
