"""Retention tiers: what a workspace keeps, and for how long, purged in small batches.

A workspace keeps three things for three lengths of time (Workspace.payload_retention_days,
retention_days, rollup_retention_days), each at least as long as the one before:

1. Payloads (N days): the inputs, outputs and states of runs and tasks, model calls' requests and
   responses, chat messages' content and those fields of the event log go first. The rows stay, with
   their structure, timings, statuses, tokens, costs and errors; their search documents go with the
   text.
2. Rows (M days, counted from the start of a UTC day): a run that started before the cutoff and is
   over (ended before it, with no task or model call after it), with its model calls, events, tasks,
   review, scores and review rule matches; chat messages, business events, OTLP metric points and
   run-less events older than the cutoff, each by its own time; a conversation once it has nothing
   left. The daily roll-ups
   are not decremented: the days before the cutoff keep summarising what they had, so a dashboard
   reads the same after a purge. A conversation's own totals are recomputed from what it still holds.
3. Daily roll-ups (K days, a year by default): the trace and business-event roll-ups of the days
   before the cutoff go, a whole day at a time. Roll-ups never go before their rows: while rows are
   kept longer (or forever) their roll-ups are too.

Runs still running or paused are never touched, whatever their age. Each batch is its own short
transaction of at most `batch` rows of one table, children before parents, read in primary-key order
(keyset chunks), so no table is locked for long and an interrupted purge leaves consistent data:
running it again picks up where it stopped. The audit log says what a purge did.

The batched deletion itself (`Deletion`) is shared with forgetting an end user (backoffice.forget),
which, unlike the purge, takes what it deletes out of the daily roll-ups.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from backoffice import audit
from metrics.models import MetricPoint, SpendRollup, TrackedEvent, TrackedEventRollup
from metrics.rollups import tracked_events as rollups
from traces.ingest import policy
from traces.ingest.fold import renumber
from traces.keyset import chunks
from traces.locks import lock_workspace
from traces.models import (
    ChatMessage,
    Event,
    ModelCall,
    Review,
    ReviewRuleMatch,
    Run,
    RunStatus,
    Score,
    SearchKind,
    Session,
    Task,
    TraceRollup,
)
from traces.rollups import daily as trace_rollups
from traces.rollups.sessions import refresh_sessions
from traces.search import index as search

BATCH = 1000
# What a chat turn or an event log's payload field says once its payload went.
REMOVED = policy.REMOVED
# The payload columns stripped from each kind of row; errors stay (they are what a failure was, and a
# model call's error type is a dimension of the roll-ups).
PAYLOAD_COLUMNS = {
    Run: ("input", "output", "state"),
    Task: ("input", "output"),
    ModelCall: ("request", "response"),
}
EVENT_PAYLOAD_FIELDS = tuple(
    name for name in (*policy.INPUT_FIELDS, *policy.OUTPUT_FIELDS, "content") if name != "error"
)
UNFINISHED = (RunStatus.RUNNING, RunStatus.PAUSED)


def day_start(moment):
    """Midnight UTC of the day `moment` falls in: the roll-ups count whole UTC days."""
    return datetime.combine(moment.astimezone(UTC).date(), time.min, tzinfo=UTC)


def finished_runs(workspace, cutoff):
    """Runs that started before the cutoff and are over: a running or paused run is never purged.
    Served by the run_latest index (workspace, started_at)."""
    return Run.objects.filter(workspace=workspace, started_at__lt=cutoff).exclude(status__in=UNFINISHED)


def old_runs(workspace, cutoff):
    """Finished runs wholly before the cutoff: nothing of theirs is counted on a day the roll-ups still
    keep equal to the rows."""
    later_task = Task.objects.filter(run=OuterRef("pk"), started_at__gte=cutoff)
    later_call = ModelCall.objects.filter(run=OuterRef("pk"), created_at__gte=cutoff)
    return (
        finished_runs(workspace, cutoff)
        .exclude(ended_at__gte=cutoff)
        .exclude(Exists(later_task))
        .exclude(Exists(later_call))
    )


def holds_payload(model):
    """Rows of this kind (runs, tasks, model calls) with a payload column not yet stripped."""
    holding = Q()
    for column in PAYLOAD_COLUMNS[model]:
        holding |= Q(**{f"{column}__isnull": False})
    return holding


def unfinished_run():
    """Rows (chat messages) of a run still running or paused."""
    return Q(run__status__in=UNFINISHED)


@dataclass
class Step:
    """One kind of row to delete: `rows` is the queryset of everything of that kind that must go."""

    name: str
    rows: object
    # Deleting runs or messages changes their conversation's totals (and message places).
    touches_sessions: bool = False
    # Called with a batch (queryset and primary keys) just before it is deleted, in the same
    # transaction.
    before_delete: Callable | None = None


@dataclass(kw_only=True)
class Deletion:
    """Rows of a workspace deleted step by step (`steps()`, children first), each step in batches of
    its own transaction, with the conversations and search documents they leave kept right. The
    retention purge is one; forgetting an end user (backoffice.forget) is another."""

    workspace: object
    batch: int = BATCH
    removed: dict = field(default_factory=dict)

    def steps(self):
        raise NotImplementedError

    def trace_subtract(self, part):
        """What a batch of runs (with what tasks and model calls they still have: the delete cascades),
        tasks or model calls ("runs", "tasks", "calls") takes out of the daily trace roll-ups."""

        def subtract(batch, pks):
            # Every writer of the trace roll-ups holds the workspace lock (traces.rollups.daily).
            lock_workspace(self.workspace)
            trace_rollups.subtract(trace_rollups.Scope.of(**{part: pks}))

        return subtract

    def search_forget(self, kind):
        """A batch of chat turns or business events takes its search documents along (a run's
        documents go with the run)."""

        def forget(batch, pks):
            search.forget(self.workspace, kind, batch.values_list("event_id", flat=True))

        return forget

    def forget_business_events(self, batch, pks):
        """A batch of business events leaves their daily roll-up and the search index."""
        rollups.subtract(batch)
        self.search_forget(SearchKind.EVENT)(batch, pks)

    def estimate(self):
        """What would be deleted now, per kind of row (for --dry-run)."""
        counts = {}
        for step in self.steps():
            counts[step.name] = counts.get(step.name, 0) + step.rows.count()
        return counts

    def run(self, progress=None):
        """Delete batch after batch; `progress(name, count)` is called after each. Returns what went."""
        self.delete_steps(progress)
        self.prune_rollups()
        return self.removed

    def delete_steps(self, progress=None):
        for step in self.steps():
            self.removed.setdefault(step.name, 0)
            while True:
                count = self.delete_batch(step)
                if not count:
                    break
                self.removed[step.name] += count
                if progress:
                    progress(step.name, count)

    def prune_rollups(self):
        """Drop the trace roll-up rows left at zero."""
        with transaction.atomic():
            lock_workspace(self.workspace)
            trace_rollups.prune(self.workspace)

    def delete_batch(self, step):
        with transaction.atomic():
            pks = list(step.rows.order_by("pk").values_list("pk", flat=True)[: self.batch])
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


@dataclass(kw_only=True)
class Purge(Deletion):
    now: object = None

    def __post_init__(self):
        self.now = self.now or timezone.now()
        ws = self.workspace
        self.payload_cutoff = self.cutoff_of(ws.payload_retention_days)
        self.cutoff = self.cutoff_of(ws.retention_days)
        if self.cutoff is not None:
            self.cutoff = day_start(self.cutoff)
        # Roll-ups stay as long as the rows they sum, whatever their own setting.
        rollup_days = ws.rollup_retention_days
        if ws.retention_days is None:
            rollup_days = None
        elif rollup_days is not None:
            rollup_days = max(rollup_days, ws.retention_days)
        self.rollup_cutoff = self.cutoff_of(rollup_days)
        if self.rollup_cutoff is not None:
            self.rollup_cutoff = min(day_start(self.rollup_cutoff), self.cutoff)
        if self.payload_cutoff is not None and self.cutoff is not None:
            self.payload_cutoff = max(self.payload_cutoff, self.cutoff)

    @classmethod
    def for_workspace(cls, workspace, now=None, batch=BATCH):
        return cls(workspace=workspace, now=now, batch=batch)

    def cutoff_of(self, days):
        return None if days is None else self.now - timedelta(days=days)

    @property
    def anything(self):
        return any(c is not None for c in (self.payload_cutoff, self.cutoff, self.rollup_cutoff))

    # -- tier 1: payloads ------------------------------------------------------------------------

    def payload_runs(self):
        """Finished runs over before the payload cutoff that still hold a payload somewhere (the walk
        covers the runs between the two cutoffs; those stripped before are skipped, and a run that
        was still going then, or got a late payload since, is found again)."""
        runs = finished_runs(self.workspace, self.payload_cutoff).exclude(ended_at__gte=self.payload_cutoff)
        of_run = {"run": OuterRef("pk")}
        holding = holds_payload(Run)
        holding |= Exists(Task.objects.filter(holds_payload(Task), **of_run))
        holding |= Exists(ModelCall.objects.filter(holds_payload(ModelCall), **of_run))
        holding |= Exists(ChatMessage.objects.filter(**of_run).exclude(content=REMOVED))
        return runs.filter(holding)

    def payload_messages(self):
        """Chat turns by their own time; a turn of a run still going stays whole."""
        messages = ChatMessage.objects.filter(workspace=self.workspace, created_at__lt=self.payload_cutoff)
        return messages.exclude(unfinished_run()).exclude(content=REMOVED)

    def payload_events(self):
        """Events of no run (agent upserts, run-less messages, log records) by their own time."""
        return Event.objects.filter(
            workspace=self.workspace, run__isnull=True, timestamp__lt=self.payload_cutoff
        )

    def strip_payloads(self, progress=None):
        """Strip the payloads older than the payload cutoff, a chunk of runs at a time (keyset on the
        primary key). Returns what it stripped per kind of row."""
        stripped = {"run payloads": 0, "task payloads": 0, "model call payloads": 0, "message payloads": 0}
        if self.payload_cutoff is None:
            return stripped
        for pks in self.pk_batches(self.payload_runs()):
            for name, count in self.strip_runs(pks).items():
                stripped[name] += count
                if progress and count:
                    progress(name, count)
        while True:
            with transaction.atomic():
                messages = list(
                    self.payload_messages().order_by("pk").only("pk", "session", "event_id")[: self.batch]
                )
                if not messages:
                    break
                self.strip_messages(messages)
            stripped["message payloads"] += len(messages)
            if progress:
                progress("message payloads", len(messages))
        self.strip_runless_events()
        return stripped

    def strip_runs(self, pks):
        """Null these runs' payload columns and their tasks' and model calls', cut their event log and
        their chat turns, and index their texts again. Only rows that still hold a payload are written."""
        counts = {}
        for model, name in (
            (Run, "run payloads"),
            (Task, "task payloads"),
            (ModelCall, "model call payloads"),
        ):
            rows = model.objects.filter(**({"pk__in": pks} if model is Run else {"run__in": pks}))
            counts[name] = rows.filter(holds_payload(model)).update(**dict.fromkeys(PAYLOAD_COLUMNS[model]))
        self.strip_events(Event.objects.filter(run__in=pks))
        messages = list(
            ChatMessage.objects.filter(run__in=pks).exclude(content=REMOVED).only("pk", "session", "event_id")
        )
        if messages:
            self.strip_messages(messages, reindex=False)
        search.reindex_runs(self.workspace, Run.objects.filter(pk__in=pks))
        return counts

    def strip_messages(self, messages, reindex=True):
        ChatMessage.objects.filter(pk__in=[m.pk for m in messages]).update(content=REMOVED)
        self.strip_events(
            Event.objects.filter(workspace=self.workspace, event_id__in=[m.event_id for m in messages])
        )
        if reindex:
            search.forget(self.workspace, SearchKind.MESSAGE, [m.event_id for m in messages])
        refresh_sessions({m.session_id for m in messages if m.session_id}, widen=False)

    def strip_runless_events(self):
        for pks in self.pk_batches(self.payload_events()):
            self.strip_events(Event.objects.filter(pk__in=pks))

    def pk_batches(self, rows):
        """The primary keys of `rows` in order, `batch` at a time, each batch read (and handled by the
        loop's body) in its own transaction: rows the body changes drop out of `rows` on the next read."""
        last = 0
        while True:
            with transaction.atomic():
                pks = list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[: self.batch])
                if not pks:
                    return
                last = pks[-1]
                yield pks

    def strip_events(self, events):
        """Replace the payload fields of these events' bodies (a queryset) by REMOVED, a keyset chunk
        at a time."""
        for rows in chunks(events, "payload", size=self.batch):
            changed = []
            for event in rows:
                payload = event.payload if isinstance(event.payload, dict) else {}
                stripped = {
                    key: REMOVED if key in EVENT_PAYLOAD_FIELDS and value is not None else value
                    for key, value in payload.items()
                }
                if stripped != payload:
                    event.payload = stripped
                    changed.append(event)
            Event.objects.bulk_update(changed, ["payload"], batch_size=500)

    # -- tier 2: rows ----------------------------------------------------------------------------

    def steps(self):
        """Children first: every step only deletes rows nothing left behind still points to."""
        ws, cutoff = self.workspace, self.cutoff
        runs = old_runs(ws, cutoff)
        return [
            Step("model calls", ModelCall.objects.filter(run__in=runs)),
            Step("events", Event.objects.filter(run__in=runs)),
            Step("events", Event.objects.filter(workspace=ws, run__isnull=True, timestamp__lt=cutoff)),
            Step("tasks", Task.objects.filter(run__in=runs)),
            Step("reviews", Review.objects.filter(run__in=runs)),
            Step("scores", Score.objects.filter(run__in=runs)),
            Step("review rule matches", ReviewRuleMatch.objects.filter(run__in=runs)),
            Step("runs", runs, touches_sessions=True),
            Step(
                "messages",
                ChatMessage.objects.filter(workspace=ws, created_at__lt=cutoff).exclude(unfinished_run()),
                True,
                before_delete=self.search_forget(SearchKind.MESSAGE),
            ),
            Step(
                "business events",
                TrackedEvent.objects.filter(workspace=ws, timestamp__lt=cutoff),
                before_delete=self.search_forget(SearchKind.EVENT),
            ),
            Step("metric points", MetricPoint.objects.filter(workspace=ws, observed_at__lt=cutoff)),
            Step(
                "conversations",
                Session.objects.filter(
                    workspace=ws, last_activity_at__lt=cutoff, runs__isnull=True, messages__isnull=True
                ),
            ),
        ]

    # -- tier 3: daily roll-ups ------------------------------------------------------------------

    def expired_rollup_days(self):
        """The days (oldest first) whose trace, business-event or spend roll-ups have expired."""
        if self.rollup_cutoff is None:
            return []
        day = self.rollup_cutoff.date()
        days = set(
            TraceRollup.objects.filter(workspace=self.workspace, day__lt=day)
            .values_list("day", flat=True)
            .distinct()
        )
        for rollup in (TrackedEventRollup, SpendRollup):
            days |= set(
                rollup.objects.filter(workspace=self.workspace, day__lt=day)
                .values_list("day", flat=True)
                .distinct()
            )
        return sorted(days)

    def expire_rollups(self, progress=None):
        """Delete the expired roll-ups a whole day at a time, each day in its own transaction under the
        workspace lock (every writer of the roll-ups holds it). Returns how many days went."""
        days = self.expired_rollup_days()
        for day in days:
            with transaction.atomic():
                lock_workspace(self.workspace)
                TraceRollup.objects.filter(workspace=self.workspace, day=day).delete()
                TrackedEventRollup.objects.filter(workspace=self.workspace, day=day).delete()
                SpendRollup.objects.filter(workspace=self.workspace, day=day).delete()
            if progress:
                progress("roll-up days", 1)
        return len(days)

    # -- running it ------------------------------------------------------------------------------

    def estimate(self):
        """What a purge would do now, per kind of row (for --dry-run)."""
        counts = {}
        if self.payload_cutoff is not None:
            counts["runs with payloads"] = self.payload_runs().count()
            counts["message payloads"] = self.payload_messages().count()
        if self.cutoff is not None:
            counts.update(super().estimate())
        counts["roll-up days"] = len(self.expired_rollup_days())
        return counts

    def run(self, progress=None):
        """Payloads, then rows, then roll-ups; `progress(name, count)` is called after each batch.
        Returns what went, which the audit log records."""
        self.removed.update(self.strip_payloads(progress))
        if self.cutoff is not None:
            self.delete_steps(progress)
        self.removed["roll-up days"] = self.expire_rollups(progress)
        self.prune_rollups()
        if any(self.removed.values()):
            audit.note(self.workspace, "purge", "retention.purged", self.workspace.name, self.summary())
        return self.removed

    def summary(self):
        """The audit entry's changes: the cutoffs and the counts, never the data."""
        cutoffs = {
            "payloads before": self.payload_cutoff,
            "rows before": self.cutoff,
            "roll-ups before": self.rollup_cutoff,
        }
        return {
            **{name: cutoff.isoformat() for name, cutoff in cutoffs.items() if cutoff is not None},
            **{name: count for name, count in self.removed.items() if count},
        }
