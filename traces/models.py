"""The run record. Table names are the contract with engines that write to the database directly."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from backoffice.models import Workspace

from .safe_regex import pattern_error

# A cost that may be unknown: NULL when no price matched and the client sent none. A sum over rows
# (SUM in SQL) is the sum of the known ones, and NULL only when none is known.
COST = {"max_digits": 20, "decimal_places": 10, "null": True, "blank": True}
CENT_FRACTION = Decimal(1).scaleb(-COST["decimal_places"])  # the smallest amount a cost column holds


class PayloadMode(models.TextChoices):
    FULL = "full", "Full: keep payloads"
    STANDARD = "standard", "Standard: truncate inputs and outputs"
    MINIMAL = "minimal", "Minimal: timings and statuses only"


class Agent(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="agents")
    agent_id = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    mode = models.CharField(max_length=16, choices=PayloadMode.choices, default=PayloadMode.FULL)
    max_input_chars = models.PositiveIntegerField(default=4000)
    max_output_chars = models.PositiveIntegerField(default=4000)
    # Capture flags: in standard mode, keep these payloads whole instead of truncating them.
    capture_llm_payloads = models.BooleanField(default=False)  # model calls' requests and responses
    capture_tool_results = models.BooleanField(default=False)  # tool calls' results
    created_at = models.DateTimeField(default=timezone.now)
    # The time of the agent.upsert event applied last; empty for an agent known only by reference.
    updated_at = models.DateTimeField(null=True, blank=True)
    # Which event set what, so a later batch can tell whether its event is newer (see traces.ingest.order).
    stamps = models.JSONField(default=dict, blank=True)
    # Where "Replay" sends a run's recorded input (traces.replay), and the secret its HMAC is made with:
    # kept as sent, since signing needs it, and never shown again once saved.
    replay_url = models.URLField(max_length=500, blank=True)
    replay_secret = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "agents"
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "agent_id"], name="agent_unique_id")]

    def __str__(self):
        return self.name or self.agent_id


class Session(models.Model):
    """A conversation. The roll-ups are kept current by the ingest fold."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sessions")
    session_id = models.CharField(max_length=200)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    user_id = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    run_count = models.PositiveIntegerField(default=0)
    message_count = models.PositiveIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(**COST)
    has_error = models.BooleanField(default=False)
    last_user_text = models.CharField(max_length=300, blank=True)
    last_assistant_text = models.CharField(max_length=300, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Which event named the agent and the user, so a later batch can tell whether its event is earlier
    # (see traces.ingest.order).
    stamps = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "sessions"
        constraints = [models.UniqueConstraint(fields=["workspace", "session_id"], name="session_unique_id")]
        indexes = [
            # Conversations page: latest activity first, keyset on (last_activity_at, id).
            models.Index(fields=["workspace", "-last_activity_at", "-id"], name="session_latest"),
            # Conversations filtered by agent.
            models.Index(fields=["workspace", "agent", "-last_activity_at"], name="session_by_agent"),
            # Conversations filtered by end user, and forgetting one (backoffice.forget).
            models.Index(fields=["workspace", "user_id", "-last_activity_at"], name="session_by_user"),
        ]

    def __str__(self):
        return self.session_id


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


# A run with an error: failed, or carrying an error whatever its status. The Runs list's `error` filter
# and the index that serves it (run_with_error) say it alike, so PostgreSQL can tell the index applies.
HAS_ERROR = models.Q(status=RunStatus.FAILED) | models.Q(error__isnull=False)


class Run(models.Model):
    """One execution (WorkflowState)."""

    # No single-column indexes on the workspace and the session: run_latest and run_by_session start
    # with them, and every index less is a write less for each run ingested.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runs", db_index=False)
    run_id = models.CharField(max_length=200)
    invocation_id = models.CharField(max_length=8)
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs", db_index=False
    )
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    user_id = models.CharField(max_length=200, blank=True)
    workflow = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    trace = models.JSONField(default=list, blank=True, help_text="Ordered names of the visited nodes.")
    model_calls = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(**COST)
    state = models.JSONField(null=True, blank=True, help_text="The latest checkpointed state.")
    graph = models.JSONField(null=True, blank=True, help_text="The declared workflow: nodes and edges.")
    metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    # Fold bookkeeping: the event time behind the current status, state and trace, so that
    # events arriving out of order still leave the latest one in place.
    status_at = models.DateTimeField(null=True, blank=True)
    state_at = models.DateTimeField(null=True, blank=True)
    trace_at = models.DateTimeField(null=True, blank=True)
    has_start = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    # The run this one replays: `replay_of` in its run.start body or metadata (traces.replay).
    replay_of = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "runs"
        constraints = [models.UniqueConstraint(fields=["workspace", "run_id"], name="run_unique_id")]
        indexes = [
            # Runs page and home figures: latest first, keyset on (started_at, id). The included
            # columns let percentile cards over runs (p95 run duration) read the index alone.
            models.Index(
                fields=["workspace", "-started_at", "-id"],
                include=["duration_ms", "status"],
                name="run_latest",
            ),
            # Runs page filtered by status; home "latest failures"; live refresh of running runs.
            models.Index(fields=["workspace", "status", "-started_at"], name="run_by_status"),
            # Runs page filtered by agent.
            models.Index(fields=["workspace", "agent", "-started_at"], name="run_by_agent"),
            # A conversation's runs in order, and the session roll-up.
            models.Index(fields=["session", "started_at"], name="run_by_session"),
            # Conversations page: "is a run of this conversation still running?" (one probe per row;
            # without it PostgreSQL hashes every running run of every workspace, 27 ms a page).
            models.Index(
                fields=["session"],
                condition=models.Q(status=RunStatus.RUNNING),
                name="run_running_by_session",
            ),
            # Workflow DAG across runs: a workflow's latest runs within a period.
            models.Index(fields=["workspace", "workflow", "-started_at"], name="run_by_workflow"),
            # The search box: a run by the first characters of its invocation id (LIKE 'prefix%',
            # which PostgreSQL serves from a btree only with the pattern operator class).
            models.Index(
                fields=["workspace", "invocation_id"],
                opclasses=["", "varchar_pattern_ops"],
                name="run_by_invocation",
            ),
            # Runs list and list API sorted by duration, tokens or cost (either way: read backwards for
            # lowest first; a NULL sorts highest, as PostgreSQL orders it), keyset on (key, id).
            models.Index(fields=["workspace", "-duration_ms", "-id"], name="run_by_duration"),
            models.Index(fields=["workspace", "-total_tokens", "-id"], name="run_by_tokens"),
            models.Index(fields=["workspace", "-cost", "-id"], name="run_by_cost"),
            # List API in ingest order (sort=id, its default), keyset on id.
            models.Index(fields=["workspace", "id"], name="run_by_ingest"),
            # Runs list and list API filtered by end user.
            models.Index(fields=["workspace", "user_id", "-started_at"], name="run_by_user"),
            # Runs list and list API with errors only (`error=on`): their latest first, and their count,
            # read from this index alone, where the whole workspace's runs were read to count the few.
            models.Index(
                fields=["workspace", "-started_at", "-id"], condition=HAS_ERROR, name="run_with_error"
            ),
            # A run page's "Replayed by": the runs that replay it (few runs are replays).
            models.Index(
                fields=["workspace", "replay_of", "-started_at"],
                condition=~models.Q(replay_of=""),
                name="run_by_replay_of",
            ),
        ]

    def __str__(self):
        return self.run_id

    @property
    def is_live(self):
        return self.status in (RunStatus.RUNNING, RunStatus.PAUSED)


class TaskType(models.TextChoices):
    FUNCTION = "function"
    AGENT = "agent"
    LLM = "llm"
    TOOL = "tool"
    CONNECTOR = "connector"
    CONDITION = "condition"
    SWITCH = "switch"
    FOREACH = "foreach"
    PARALLEL = "parallel"
    GATE = "gate"
    RETRIEVER = "retriever"
    CUSTOM = "custom"


class TaskStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"
    WAITING = "waiting", "Waiting"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SKIPPED = "skipped", "Skipped"


class Task(models.Model):
    """One node, step or span of a run."""

    # Indexed through task_by_time (workspace, …) and task_unique_step (run, …): a single-column index
    # of each would only cost ingest a write per task.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    step_id = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    # The parent's external id, kept so a child that arrives before its parent is linked later.
    parent_step_id = models.CharField(max_length=200, blank=True)
    sequence = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=200, blank=True)
    type = models.CharField(max_length=16, choices=TaskType.choices, default=TaskType.FUNCTION)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.RUNNING)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    total_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(**COST)
    status_at = models.DateTimeField(null=True, blank=True)
    # Which event set each metadata key, so a later batch can tell whether its event is newer (see
    # traces.ingest.order).
    stamps = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "tasks"
        constraints = [models.UniqueConstraint(fields=["run", "step_id"], name="task_unique_step")]
        indexes = [
            # Run page Tasks tab and tasks API: a run's tasks in sequence, paged.
            models.Index(fields=["run", "sequence", "id"], name="task_by_sequence"),
            # Dashboard cards over tasks (tool failure rate): by time within a workspace.
            models.Index(fields=["workspace", "started_at"], name="task_by_time"),
            # Runs list and list API filtered on a step that ran (name) or failed (name, status): does
            # this run have one, looked up in the index alone (run before status: one entry per run and
            # name, where status first meant reading every run's entries of that name).
            models.Index(fields=["workspace", "name", "run", "status"], name="task_by_name"),
            # The same filtered on a step that failed: the failed tasks alone, where task_by_name read
            # every task of the name to find the few that failed.
            models.Index(
                fields=["workspace", "name", "run"],
                condition=models.Q(status=TaskStatus.FAILED),
                name="task_failed_by_name",
            ),
        ]

    def __str__(self):
        return self.name or self.step_id


class ModelCall(models.Model):
    """One model call (ModelCallStat)."""

    # Indexed through model_call_latest (workspace, …) and model_call_unique_id (run, …).
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="model_call_stats", db_index=False)
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="model_calls"
    )
    step_id = models.CharField(max_length=200, blank=True)
    call_id = models.CharField(max_length=200)
    provider = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=200)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    # Defaults in the database too: engines that write rows directly need not know the newer columns.
    cache_creation_tokens = models.BigIntegerField(default=0, db_default=0)
    # Part of completion_tokens, as providers count them.
    reasoning_tokens = models.BigIntegerField(default=0, db_default=0)
    total_tokens = models.BigIntegerField(default=0)
    latency_ms = models.BigIntegerField(null=True, blank=True)
    ttft_ms = models.BigIntegerField(null=True, blank=True)
    input_cost = models.DecimalField(**COST)
    output_cost = models.DecimalField(**COST)
    cost = models.DecimalField(**COST)
    # The client sent the cost: a price recompute leaves it as sent.
    cost_sent = models.BooleanField(default=False, db_default=False)
    finish_reason = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, default="ok")
    error = models.JSONField(null=True, blank=True)
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "model_call_stats"
        constraints = [models.UniqueConstraint(fields=["run", "call_id"], name="model_call_unique_id")]
        indexes = [
            # Model calls page: latest first, keyset on (created_at, id); dashboard cards by time. The
            # included columns let the page's per-model roll-up (traces.rollups.model_calls) read the index
            # alone.
            models.Index(
                fields=["workspace", "-created_at", "-id"],
                include=[
                    "model",
                    "provider",
                    "status",
                    "prompt_tokens",
                    "completion_tokens",
                    "total_tokens",
                    "latency_ms",
                    "cost",
                ],
                name="model_call_latest",
            ),
            # Model calls page filtered by model, and the per-model roll-up.
            models.Index(fields=["workspace", "model", "-created_at"], name="model_call_by_model"),
            # Runs list and list API filtered by a model used: does this run have a call of it, or
            # (counting) the runs of its calls in run order, read from the index alone.
            models.Index(fields=["workspace", "model", "run"], name="model_call_by_model_run"),
            # A task's model calls; the run roll-up.
            models.Index(fields=["run", "task"], name="model_call_by_run"),
        ]

    def __str__(self):
        return f"{self.model} ({self.call_id})"


# Upper bounds of the duration histogram buckets kept by the trace roll-ups (TraceRollup.duration_le_*).
DURATION_BUCKETS_MS = (100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000)


class TraceRollup(models.Model):
    """Daily totals of runs, tasks and model calls, for dashboard cards over long periods.

    One row per workspace, source, UTC day of the row's time (runs.started_at, tasks.started_at,
    model_call_stats.created_at; rows without a time are left out, as a time range never matches
    them) and combination of the source's dimensions. A dimension a source does not have holds ''.
    Each numeric property has its exact sum, and the nullable ones their count of non-null values
    (the others are never null: their count is `n`), so counts, sums, averages and rates of any
    filter on the dimensions add up from these rows. traces.rollups.daily_spec tells readers which.

    Every writer of runs, tasks and model calls keeps it current in the transaction of its write
    (traces.rollups.daily): it subtracts the contribution of the rows it may change before
    writing and adds theirs after, so it stays right whatever the order of batches. A row whose
    `n` has come down to 0 is left in place, for the next row of the same key, until `purge`
    prunes it: readers treat it as absent.
    """

    # No index of its own: the unique key starts with the workspace.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.CharField(max_length=16)  # "runs", "tasks" or "model_calls"
    day = models.DateField()
    # The run's agent (its primary key, 0 for none), not its name: readers join agents, so a renamed
    # agent shows its new name. Not a foreign key: a nullable column cannot be part of the upsert's
    # unique key (NULLs never conflict).
    agent_pk = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, blank=True)
    type = models.CharField(max_length=16, blank=True)
    name = models.CharField(max_length=200, blank=True)
    workflow = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=100, blank=True)
    finish_reason = models.CharField(max_length=64, blank=True)
    # A failed model call's error type (its error's `type`), for /metrics' LLM errors by type.
    error_type = models.CharField(max_length=64, blank=True)
    # Rows summed up. Signed columns, no CHECK: a delta is applied as one upsert.
    n = models.BigIntegerField(default=0)
    duration_ms_sum = models.BigIntegerField(default=0)
    duration_ms_count = models.BigIntegerField(default=0)
    total_tokens_sum = models.BigIntegerField(default=0)
    prompt_tokens_sum = models.BigIntegerField(default=0)
    completion_tokens_sum = models.BigIntegerField(default=0)
    cached_tokens_sum = models.BigIntegerField(default=0)
    model_calls_sum = models.BigIntegerField(default=0)
    attempt_sum = models.BigIntegerField(default=0)
    latency_ms_sum = models.BigIntegerField(default=0)
    latency_ms_count = models.BigIntegerField(default=0)
    ttft_ms_sum = models.BigIntegerField(default=0)
    ttft_ms_count = models.BigIntegerField(default=0)
    cost_sum = models.DecimalField(max_digits=30, decimal_places=10, default=0)
    cost_count = models.BigIntegerField(default=0)
    # The duration histogram of /metrics: rows whose duration (a model call's latency) is at most so
    # many milliseconds (DURATION_BUCKETS_MS); the +Inf bucket is duration_ms_count (latency_ms_count).
    duration_le_100 = models.BigIntegerField(default=0)
    duration_le_250 = models.BigIntegerField(default=0)
    duration_le_500 = models.BigIntegerField(default=0)
    duration_le_1000 = models.BigIntegerField(default=0)
    duration_le_2500 = models.BigIntegerField(default=0)
    duration_le_5000 = models.BigIntegerField(default=0)
    duration_le_10000 = models.BigIntegerField(default=0)
    duration_le_30000 = models.BigIntegerField(default=0)
    duration_le_60000 = models.BigIntegerField(default=0)
    duration_le_300000 = models.BigIntegerField(default=0)

    class Meta:
        db_table = "trace_rollups"
        constraints = [
            # The key the maintenance upserts on; its prefix (workspace, source, day) serves the
            # dashboard cards read from here: "Tool failure rate", "LLM error rate", "Runs per day",
            # "Tokens/Cost per day by model" over a period are a range of days of one source.
            models.UniqueConstraint(
                fields=[
                    "workspace",
                    "source",
                    "day",
                    "agent_pk",
                    "status",
                    "type",
                    "name",
                    "workflow",
                    "model",
                    "provider",
                    "finish_reason",
                    "error_type",
                ],
                name="trace_rollup_key",
            )
        ]

    def __str__(self):
        return f"{self.source} {self.day} ×{self.n}"


class ChatRole(models.TextChoices):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"
    CUSTOM = "custom"


class CallShape(models.Model):
    """The chat messages one span of an OTLP run carried, without their text: per message its role, a
    digest of its content and the id of the turn it makes (traces.ingest.turns). The capture mode cuts
    the tasks' payloads; from these a later request still tells which calls answer the user."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+", db_index=False)
    step_id = models.CharField(max_length=200)
    # The root span's plain-text exchange (used when no call carries messages), not a model call.
    root = models.BooleanField(default=False)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    inputs = models.JSONField(default=list)  # [[role, digest, turn id], …]
    outputs = models.JSONField(default=list)

    class Meta:
        db_table = "call_shapes"
        constraints = [
            # Also the index of the read: a run's shapes (turns.stored_calls).
            models.UniqueConstraint(fields=["run", "step_id"], name="call_shape_unique_step"),
        ]

    def __str__(self):
        return f"Messages of step {self.step_id}"


class ChatMessage(models.Model):
    """One turn of a conversation. `sequence` is the turn's place by time, kept by the fold."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    step_id = models.CharField(max_length=200, blank=True)
    event_id = models.CharField(
        max_length=200, help_text="The event that carried the turn; breaks time ties."
    )
    sequence = models.PositiveIntegerField(default=0)
    role = models.CharField(max_length=16)
    content = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "chat_messages"
        indexes = [
            # Conversation page: a session's turns in order.
            models.Index(fields=["session", "sequence"], name="message_by_session"),
            # Run page Chat tab.
            models.Index(fields=["run", "sequence"], name="message_by_run"),
            # `purge`: a workspace's messages older than its retention.
            models.Index(fields=["workspace", "created_at"], name="message_by_time"),
        ]

    def __str__(self):
        return f"{self.role} #{self.sequence}"


class Event(models.Model):
    """The append-only log: one row per accepted event."""

    # Indexed through event_unique_id (workspace, …) and event_by_run (run, …).
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    event_id = models.CharField(max_length=200, help_text="The client's id: the idempotency key.")
    type = models.CharField(max_length=32)
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    step_id = models.CharField(max_length=200, blank=True)
    timestamp = models.DateTimeField()
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "events"
        constraints = [models.UniqueConstraint(fields=["workspace", "event_id"], name="event_unique_id")]
        indexes = [
            # Run page Events tab and `logs --run`: a run's events in time order.
            models.Index(fields=["run", "timestamp", "id"], name="event_by_run"),
            # `purge`: a workspace's events older than its retention.
            models.Index(fields=["workspace", "timestamp"], name="event_by_time"),
            # Trace exporters: a workspace's events after an exporter's cursor, in id order.
            models.Index(fields=["workspace", "id"], name="event_after_cursor"),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class EventType(models.Model):
    """A workspace's own event type, `custom.<name>`: ingest accepts its events when their body
    satisfies `schema` (a JSON Schema, checked when saved; see traces.ingest.custom)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=25, help_text="The part after `custom.`.")
    description = models.CharField(max_length=500, blank=True)
    schema = models.JSONField()
    created_by = models.CharField(max_length=150, blank=True, help_text="Who defined it: a person or a key.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "event_types"
        ordering = ["name", "id"]
        constraints = [
            # Also serves ingest's lookup of a batch's custom types and the Settings list.
            models.UniqueConstraint(fields=["workspace", "name"], name="event_type_unique_name")
        ]

    def __str__(self):
        return self.type

    @property
    def type(self):
        return f"custom.{self.name}"


class ModelPrice(models.Model):
    """Price per million tokens. Workspace rows override the global ones (workspace empty)."""

    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="model_prices"
    )
    model_pattern = models.CharField(max_length=200, help_text="A model name, or a pattern with * (gpt-4o*).")
    input_per_million = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    output_per_million = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    cached_per_million = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    effective_from = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "model_prices"
        ordering = ["model_pattern", "-effective_from", "id"]

    def __str__(self):
        return self.model_pattern


class RedactionKind(models.TextChoices):
    REGEX = "regex", "Regular expression over text"
    KEY = "key", "Payload key name"


class RedactionRule(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="redaction_rules")
    kind = models.CharField(max_length=8, choices=RedactionKind.choices, default=RedactionKind.REGEX)
    pattern = models.CharField(max_length=500)
    replacement = models.CharField(max_length=100, default="[REDACTED]")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "redaction_rules"
        ordering = ["id"]

    def __str__(self):
        return f"{self.kind}: {self.pattern}"

    def clean(self):
        # Every way of saving a rule through a form (settings page, admin) checks the pattern here.
        if self.kind == RedactionKind.REGEX and self.pattern:
            error = pattern_error(self.pattern)
            if error:
                raise ValidationError({"pattern": f"Not a pattern RE2 can run: {error}."})

    @property
    def broken(self):
        """Why ingest skips this rule (a regex RE2 cannot compile, saved before RE2 ran them), or None."""
        if self.kind != RedactionKind.REGEX:
            return None
        return pattern_error(self.pattern)


class Rating(models.TextChoices):
    GOOD = "good", "Good"
    NEUTRAL = "neutral", "Neutral"
    BAD = "bad", "Bad"


# A review nobody rated yet (Review.rating blank), as filters and figures name it.
UNRATED = "unrated"
UNRATED_LABEL = "Unrated"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# Higher ranks first in the queue; computed by the database so no writer can let it drift.
PRIORITY_RANK = {Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3, Priority.URGENT: 4}


class ReviewStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class ReviewQueue(models.Model):
    """A named queue of reviews with the members who work it; a review belongs to at most one.

    `rotation` counts the reviews handed out round-robin, so the next one goes to the next member.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="review_queues")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="review_queues")
    rotation = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "review_queues"
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="review_queue_unique_name")]

    def __str__(self):
        return self.name


class Review(models.Model):
    """QA's verdict on a run: one per run."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="reviews")
    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="review")
    # Blank until a person rates the run: a review a routing rule opens has no rating of its own.
    rating = models.CharField(max_length=16, choices=Rating.choices, blank=True)
    comment = models.TextField()
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.MEDIUM)
    priority_rank = models.GeneratedField(
        expression=models.Case(
            *[models.When(priority=value, then=models.Value(rank)) for value, rank in PRIORITY_RANK.items()],
            default=models.Value(0),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action_taken = models.CharField(max_length=200, blank=True)
    resolution_notes = models.TextField(blank=True)
    corrected_output = models.TextField(blank=True)
    target_message = models.ForeignKey(
        ChatMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    reviewed_by = models.CharField(max_length=200, blank=True)
    queue = models.ForeignKey(
        ReviewQueue, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    # The routing rule that opened it, if one did.
    rule = models.ForeignKey(
        "ReviewRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    resolved_by = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "reviews"
        indexes = [
            # Review queue sorted newest or oldest first, within a status; the training export
            # (resolved reviews in (created_at, id) order).
            models.Index(fields=["workspace", "status", "-created_at"], name="review_by_status"),
            # Review queue in its default order: priority first, then the oldest, keyset on
            # (priority_rank, created_at, id).
            models.Index(
                fields=["workspace", "status", "-priority_rank", "created_at", "id"], name="review_queue"
            ),
        ]

    def __str__(self):
        return f"Review of {self.run_id}"

    @property
    def rating_label(self):
        return self.get_rating_display() or UNRATED_LABEL


class ReviewActivity(models.Model):
    """Who changed what on a review, and when."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="activity")
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=32)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "review_activity"
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.actor} {self.action}"


class ReviewRule(models.Model):
    """Routing: runs that match `filter` (a Runs-list query string, traces.run_filters) are sampled at
    `sample_rate` and get a review opened with this priority, tags, queue and assignee.

    The counters count runs, each once per rule: `matched_count` those that matched while they had no
    review yet, `sampled_count` those of them sampled (a review was opened)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="review_rules")
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    filter = models.CharField(max_length=2000, blank=True)
    sample_rate = models.FloatField(default=1.0)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.MEDIUM)
    tags = models.JSONField(default=list, blank=True)
    queue = models.ForeignKey(
        ReviewQueue, null=True, blank=True, on_delete=models.SET_NULL, related_name="rules"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    matched_count = models.PositiveBigIntegerField(default=0)
    sampled_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "review_rules"
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="review_rule_unique_name"),
            models.CheckConstraint(
                condition=models.Q(sample_rate__gte=0, sample_rate__lte=1), name="review_rule_sample_rate"
            ),
        ]

    def __str__(self):
        return self.name


class ReviewRuleMatch(models.Model):
    """A run a rule matched, once: what keeps a backfill run twice from counting a run twice."""

    rule = models.ForeignKey(ReviewRule, on_delete=models.CASCADE, related_name="matches")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    sampled = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "review_rule_matches"
        constraints = [models.UniqueConstraint(fields=["rule", "run"], name="review_rule_match_once")]

    def __str__(self):
        return f"{self.rule_id} matched {self.run_id}"


class ScoreDataType(models.TextChoices):
    NUMERIC = "numeric", "Numeric"
    CATEGORICAL = "categorical", "Categorical"
    BOOLEAN = "boolean", "Boolean"


class ScoreSource(models.TextChoices):
    REVIEWER = "reviewer", "Reviewer"
    API = "api", "API"
    SDK = "sdk", "SDK"
    JUDGE = "judge", "Judge"


class ScoreConfig(models.Model):
    """What a score of this name must be: its type, its range (numeric) or its labels (categorical).

    `categories` is a list of {"label": str, "value": number}; a categorical score stores both.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="score_configs")
    name = models.CharField(max_length=200)
    data_type = models.CharField(max_length=16, choices=ScoreDataType.choices)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    categories = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "score_configs"
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="score_config_unique_name")]

    def __str__(self):
        return self.name


class Score(models.Model):
    """A named value given to a run, or to one of its tasks, its conversation or one chat message."""

    # Indexed through the indexes below, which all start with the workspace or the run.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Empty only for a score of a whole conversation.
    run = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.CASCADE, related_name="scores")
    # A conversation's score goes with the conversation (a conversation is deleted once it has no run).
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="scores"
    )
    message = models.ForeignKey(
        ChatMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="scores"
    )
    name = models.CharField(max_length=200)
    data_type = models.CharField(max_length=16, choices=ScoreDataType.choices)
    # Numeric: the number. Boolean: 1 or 0. Categorical: the label's value in its config, if any.
    value = models.FloatField(null=True, blank=True)
    # Categorical: the label. Boolean: "true" or "false". Numeric: empty.
    string_value = models.CharField(max_length=200, blank=True)
    comment = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=16, choices=ScoreSource.choices)
    # Who gave it: the reviewer (user and username), or the API key's label.
    author = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The client's id: sending a score again with it replaces the score instead of adding one.
    client_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "scores"
        constraints = [models.UniqueConstraint(fields=["workspace", "client_id"], name="score_unique_id")]
        indexes = [
            # A run's scores (Review tab, GET /api/v1/runs/{id}, ?run_id= of the scores API).
            models.Index(fields=["run", "name", "id"], name="score_by_run"),
            # Scores of one name across runs: ?name= of the scores API (keyset on (created_at, id)),
            # the scores card source, agreement, and runs filtered by a score.
            models.Index(fields=["workspace", "name", "-created_at", "-id"], name="score_by_name"),
            # The scores API unfiltered: newest first, keyset on (created_at, id).
            models.Index(fields=["workspace", "-created_at", "-id"], name="score_latest"),
        ]

    def __str__(self):
        return f"{self.name} = {self.display_value}"

    @property
    def display_value(self):
        if self.data_type == ScoreDataType.NUMERIC:
            return f"{self.value:g}" if self.value is not None else ""
        return self.string_value


class SearchKind(models.TextChoices):
    RUN_INPUT = "run.input", "Run input"
    RUN_OUTPUT = "run.output", "Run output"
    RUN_ERROR = "run.error", "Run error"
    TASK_NAME = "task.name", "Task name"
    TASK_INPUT = "task.input", "Task input"
    TASK_OUTPUT = "task.output", "Task output"
    TASK_ERROR = "task.error", "Task error"
    CALL_REQUEST = "call.request", "Model call request"
    CALL_RESPONSE = "call.response", "Model call response"
    CALL_ERROR = "call.error", "Model call error"
    MESSAGE = "message", "Chat message"
    EVENT = "event", "Business event"


class SearchDocument(models.Model):
    """One searchable text of a row, as stored (after redaction and the payload mode), kept by the
    fold in its transaction (traces.search.index).

    `ref` names the row within the workspace with `kind`: the run id for a run's texts, the step id
    of a task, the call id of a model call, the event id of a chat message or business event. `words`
    are the text's words, cut and folded in Python: PostgreSQL indexes the tsvector made of them (a
    GIN index on an expression, search_words) and SQLite's FTS5 table (`search_fts`) indexes them, so
    both find the same documents.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Retention and the admin delete a run's documents with it (an index on run serves that delete).
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=SearchKind.choices)
    ref = models.CharField(max_length=200)
    at = models.DateTimeField()
    text = models.TextField()
    words = models.TextField()

    class Meta:
        db_table = "search_documents"
        indexes = [
            # Search results: a workspace's matches newest first within a time range, keyset on (at, id).
            models.Index(fields=["workspace", "-at", "-id"], name="search_latest"),
            # The fold replacing a row's documents, and purge deleting those of chat turns and
            # business events that have no run.
            models.Index(fields=["workspace", "kind", "ref"], name="search_by_source"),
        ]

    def __str__(self):
        return f"{self.kind} {self.ref}"


class SavedView(models.Model):
    """A named set of Runs list filters, sort and columns: private to its owner, or shared with the
    workspace. Only its owner edits a private view; the owner or an admin a shared one."""

    # Indexed through saved_view_by_name, which starts with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    # The Runs list's query string (filters, sort, columns), never a page cursor.
    query = models.TextField(blank=True)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "saved_views"
        indexes = [
            # The saved views menu and page: a workspace's views by name (the member's own and the
            # shared ones).
            models.Index(fields=["workspace", "name", "id"], name="saved_view_by_name"),
        ]

    def __str__(self):
        return self.name


class Exporter(models.Model):
    """An OTLP/HTTP endpoint every finished run of the workspace is forwarded to (traces.export).

    `cursor` is the last event (events.id) whose run has been queued in the outbox (ExportItem): the
    events after it are the work not yet looked at.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="exporters")
    name = models.CharField(max_length=100)
    endpoint = models.URLField(max_length=500, help_text="The traces URL, often …:4318/v1/traces.")
    # Sent with every request ({"Authorization": "Bearer …"}); the values are secrets, never shown in full.
    headers = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    cursor = models.BigIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "exporters"
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="exporter_unique_name")]

    def __str__(self):
        return self.name


class ExportItem(models.Model):
    """A run to send (again) to an exporter: the durable outbox. Deleted only after a 2xx answer."""

    # Indexed through export_item_unique_run and export_item_due, which start with it.
    exporter = models.ForeignKey(Exporter, on_delete=models.CASCADE, related_name="items", db_index=False)
    # Deleting a run (retention, forget-me) takes its pending export with it. Indexed for that delete.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    # Bumped when events change the run while it waits, so a send of the older rows does not clear it.
    version = models.PositiveIntegerField(default=1)
    attempts = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "export_items"
        constraints = [models.UniqueConstraint(fields=["exporter", "run"], name="export_item_unique_run")]
        indexes = [
            # export_pending: an exporter's items that are due, oldest first.
            models.Index(fields=["exporter", "due_at", "id"], name="export_item_due"),
        ]

    def __str__(self):
        return f"{self.exporter} ← {self.run_id}"
