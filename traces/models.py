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
    created_at = models.DateTimeField(default=timezone.now)
    # The time of the agent.upsert event applied last; empty for an agent known only by reference.
    updated_at = models.DateTimeField(null=True, blank=True)
    # Which event set what, so a later batch can tell whether its event is newer (see traces.ingest.order).
    stamps = models.JSONField(default=dict, blank=True)

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
        ]

    def __str__(self):
        return self.session_id


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


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
            # A task's model calls; the run roll-up.
            models.Index(fields=["run", "task"], name="model_call_by_run"),
        ]

    def __str__(self):
        return f"{self.model} ({self.call_id})"


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
        ]

    def __str__(self):
        return f"{self.type} {self.event_id}"


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


class Review(models.Model):
    """QA's verdict on a run: one per run."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="reviews")
    run = models.OneToOneField(Run, on_delete=models.CASCADE, related_name="review")
    rating = models.CharField(max_length=16, choices=Rating.choices)
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
