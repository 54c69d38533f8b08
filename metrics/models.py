from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from backoffice.models import Workspace
from traces.models import Agent, Run, Session


class TrackedEvent(models.Model):
    """A business event sent with track(name, properties)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=200)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    session = models.ForeignKey(Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    properties = models.JSONField(default=dict, blank=True)
    timestamp = models.DateTimeField()

    class Meta:
        db_table = "tracked_events"
        indexes = [
            # Dashboard cards over business events: one event name over a time range.
            models.Index(fields=["workspace", "name", "timestamp"], name="tracked_by_name"),
            # `purge`: a workspace's events older than its retention.
            models.Index(fields=["workspace", "timestamp"], name="tracked_by_time"),
        ]

    def __str__(self):
        return self.name


class TrackedEventRollup(models.Model):
    """How many business events a workspace had per UTC day, name and dimensions.

    Kept equal to tracked_events at every commit (metrics.rollups.tracked_events: ingest adds), but for
    the days whose events the retention purge deleted, which keep their counts, so count and rate cards
    over business events read one row per group and day instead of every event (metrics.engine).
    `dimensions` holds the event's properties that cards group and filter by; see
    metrics.rollups.tracked_events.dimensions for the rule.
    """

    # Indexed by the unique key, which starts with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    name = models.CharField(max_length=200)
    dimensions = models.JSONField(default=dict)
    # md5 of the dimensions' canonical text (jsonb's on PostgreSQL, sorted-key JSON on SQLite): the
    # unique key, where the dimensions themselves could pass PostgreSQL's limit for an index entry.
    digest = models.CharField(max_length=32)
    events = models.BigIntegerField()

    class Meta:
        db_table = "tracked_event_rollups"
        constraints = [
            # The ingest upsert's conflict target; its index also serves the cards' range of days.
            models.UniqueConstraint(fields=["workspace", "day", "name", "digest"], name="tracked_rollup_key"),
        ]

    def __str__(self):
        return f"{self.name} {self.day}"


class Dashboard(models.Model):
    """A page of cards. Each workspace has several, and exactly one default (DESIGN §6)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="dashboards")
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "dashboards"
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="dashboard_unique_slug"),
            models.UniqueConstraint(
                fields=["workspace"], condition=models.Q(is_default=True), name="dashboard_one_default"
            ),
        ]

    def __str__(self):
        return self.name


class Kind(models.TextChoices):
    NUMBER = "number", "Number"
    RATE = "rate", "Rate"
    LINE = "line", "Line chart"
    BAR = "bar", "Bar chart"
    PIE = "pie", "Pie chart"


class Source(models.TextChoices):
    EVENTS = "events", "Business events"
    RUNS = "runs", "Runs"
    TASKS = "tasks", "Tasks"
    MODEL_CALLS = "model_calls", "Model calls"
    OTLP_METRIC = "otlp_metric", "OTLP metric"
    CUSTOM_EVENTS = "custom_events", "Custom events"
    SCORES = "scores", "Scores"


class Aggregation(models.TextChoices):
    COUNT = "count", "Count"
    RATE = "rate", "Rate (%)"
    SUM = "sum", "Sum"
    AVG = "avg", "Average"
    DISTINCT_COUNT = "distinct_count", "Distinct count"
    MIN = "min", "Minimum"
    MAX = "max", "Maximum"
    LAST = "last", "Last value"
    P50 = "p50", "Median (p50)"
    P90 = "p90", "90th percentile"
    P95 = "p95", "95th percentile"
    P99 = "p99", "99th percentile"


class TimeRange(models.TextChoices):
    HOUR = "1h", "Last hour"
    DAY = "24h", "Last 24 hours"
    WEEK = "7d", "Last 7 days"
    MONTH = "30d", "Last 30 days"
    QUARTER = "90d", "Last 90 days"
    CUSTOM = "custom", "Custom dates"


class Bucket(models.TextChoices):
    HOUR = "hour", "Hour"
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class Colour(models.TextChoices):
    BLUE = "blue", "Blue"
    VIOLET = "violet", "Violet"
    TEAL = "teal", "Teal"
    GREEN = "green", "Green"
    AMBER = "amber", "Amber"
    RED = "red", "Red"
    SLATE = "slate", "Slate"


class ThresholdDirection(models.TextChoices):
    ABOVE = "above", "Higher is worse"
    BELOW = "below", "Lower is worse"


# Grid spans: the dashboard grid has four columns; rows are a fixed height.
WIDTHS = [(1, "Quarter"), (2, "Half"), (3, "Three quarters"), (4, "Full width")]
HEIGHTS = [(1, "Short"), (2, "Medium"), (3, "Tall")]


class DashboardCard(models.Model):
    """One card of a dashboard: what to count (source, filters, aggregation) and how to show it.

    `filters` and `condition` are lists of {"property", "operator", "value"}, combined with AND;
    `condition` is what a row must also satisfy to count towards a rate.
    """

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="cards")
    title = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.LINE)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.RUNS)
    event_name = models.CharField(
        max_length=200, blank=True, help_text="Business or custom events only; empty counts every event."
    )
    metric_name = models.CharField(
        max_length=200, blank=True, help_text="OTLP metrics only: the metric's name."
    )
    aggregation = models.CharField(max_length=16, choices=Aggregation.choices, default=Aggregation.COUNT)
    property = models.CharField(max_length=200, blank=True, help_text="The value to sum, average, …")
    filters = models.JSONField(default=list, blank=True)
    condition = models.JSONField(default=list, blank=True)
    breakdown = models.CharField(max_length=200, blank=True)
    breakdown_limit = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    time_range = models.CharField(max_length=8, choices=TimeRange.choices, default=TimeRange.WEEK)
    custom_start = models.DateField(null=True, blank=True)
    custom_end = models.DateField(null=True, blank=True)
    bucket = models.CharField(max_length=8, choices=Bucket.choices, default=Bucket.DAY)
    colour = models.CharField(max_length=8, choices=Colour.choices, default=Colour.BLUE)
    width = models.PositiveSmallIntegerField(choices=WIDTHS, default=2)
    height = models.PositiveSmallIntegerField(choices=HEIGHTS, default=2)
    position = models.PositiveIntegerField(default=0)
    warning_threshold = models.FloatField(null=True, blank=True)
    alert_threshold = models.FloatField(null=True, blank=True)
    threshold_direction = models.CharField(
        max_length=8, choices=ThresholdDirection.choices, default=ThresholdDirection.ABOVE
    )
    hide_without_data = models.BooleanField(
        default=False, help_text="Keep the card out of the dashboard until its source has any row."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "dashboard_cards"
        ordering = ["position", "id"]

    def __str__(self):
        return self.title


class MetricType(models.TextChoices):
    SUM = "sum", "Sum"
    GAUGE = "gauge", "Gauge"
    HISTOGRAM = "histogram", "Histogram"
    EXPONENTIAL_HISTOGRAM = "exponential_histogram", "Exponential histogram"


class Temporality(models.TextChoices):
    NONE = "", "None (gauge)"
    DELTA = "delta", "Delta"
    CUMULATIVE = "cumulative", "Cumulative"


class MetricPoint(models.Model):
    """One data point of an OTLP metric (POST /v1/metrics), stored by metrics.otlp_ingest.

    A series is the metric's name, type, unit and temporality with the resource and point attributes;
    `series` is the md5 of their canonical JSON. A point is its series at a time: sent again, it is a
    duplicate and skipped.

    The fields as sent are kept (value; count, total (OTLP's sum), bounds, bucket_counts, minimum,
    maximum; `observed_at` is OTLP's time, `started_at` its start time), and beside them what the point
    adds over its own interval (`period_*`), which cards add up: the point itself for delta sums, delta
    histograms and gauges; for a cumulative point, the increase over the series' previous point stored
    when it arrived (the whole point after a reset or for the series' first).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=64, blank=True)
    type = models.CharField(max_length=24, choices=MetricType.choices)
    temporality = models.CharField(max_length=12, choices=Temporality.choices, blank=True)
    monotonic = models.BooleanField(null=True)
    resource = models.JSONField(default=dict)
    attributes = models.JSONField(default=dict)
    series = models.CharField(max_length=32)
    started_at = models.DateTimeField(null=True)
    observed_at = models.DateTimeField()
    value = models.FloatField(null=True)
    count = models.BigIntegerField(null=True)
    total = models.FloatField(null=True)
    minimum = models.FloatField(null=True)
    maximum = models.FloatField(null=True)
    bounds = models.JSONField(null=True)
    bucket_counts = models.JSONField(null=True)
    period_value = models.FloatField(null=True)
    period_count = models.BigIntegerField(null=True)
    period_total = models.FloatField(null=True)
    period_bucket_counts = models.JSONField(null=True)

    class Meta:
        db_table = "metric_points"
        constraints = [
            # Ingest skips a point sent again (ON CONFLICT DO NOTHING), and finds a cumulative series'
            # previous point through this index.
            models.UniqueConstraint(fields=["workspace", "series", "observed_at"], name="metric_point_key"),
        ]
        indexes = [
            # OTLP metric cards: one metric name over a time range; the card editor's metric names.
            models.Index(fields=["workspace", "name", "observed_at"], name="metric_points_by_name"),
            # `purge`: a workspace's points older than its retention.
            models.Index(fields=["workspace", "observed_at"], name="metric_points_by_time"),
        ]

    def __str__(self):
        return f"{self.name} {self.observed_at}"


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    EMAIL = "email", "E-mail"


class Channel(models.Model):
    """Where a workspace's notifications go (metrics.monitors.delivery): a webhook (JSON, signed with
    `secret`), a Slack-compatible incoming webhook, or an e-mail address."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=ChannelKind.choices)
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500, blank=True)
    address = models.EmailField(blank=True)
    secret = models.CharField(max_length=200, blank=True, help_text="Webhooks: the HMAC-SHA256 key.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "channels"
        ordering = ["name", "id"]
        constraints = [
            # Its index serves Settings › Channels and the API's list: a workspace's channels by name.
            models.UniqueConstraint(fields=["workspace", "name"], name="channel_unique_name"),
        ]

    def __str__(self):
        return self.name

    @property
    def target(self):
        return self.address if self.kind == ChannelKind.EMAIL else self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One notification to one channel, and what its last attempt got (the channel's delivery log).

    `key` says which notification it is: the same key is delivered once per channel within the dedupe
    window (metrics.monitors.delivery), however often it is asked for."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    key = models.CharField(max_length=200)
    # The message as metrics.monitors.delivery.Message holds it: subject, text and the webhook's body.
    message = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "deliveries"
        indexes = [
            # Settings › Channels' delivery log: a channel's latest deliveries, keyset on (created_at, id).
            models.Index(fields=["channel", "-created_at", "-id"], name="delivery_latest"),
            # `notify`'s dedupe: a channel's deliveries of one key within the window.
            models.Index(fields=["channel", "key", "created_at"], name="delivery_by_key"),
        ]

    def __str__(self):
        return f"{self.channel} {self.key}"


class MonitorState(models.TextChoices):
    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    ALERT = "alert", "Alert"
    NO_DATA = "no_data", "No data"


class NoData(models.TextChoices):
    NO_DATA = "no_data", "Its own state: no data"
    OK = "ok", "OK"
    ALERT = "alert", "Alert"


class Monitor(models.Model):
    """A card's metric over a rolling window, watched by the worker (metrics.monitors.evaluation).

    `metric` holds a card's metric fields (metrics.monitors.metric.FIELDS), checked as a card's are; with
    a breakdown, each of its values has a state of its own (MonitorKeyState). `state` and `value` are
    the worst of them, for the lists."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    # The card it was made from, which shows its state.
    card = models.ForeignKey(
        DashboardCard, null=True, blank=True, on_delete=models.SET_NULL, related_name="monitors"
    )
    # Which row of the alert table a new workspace starts with (metrics.monitors.presets), or "".
    preset = models.CharField(max_length=32, blank=True)
    metric = models.JSONField(default=dict)
    window_minutes = models.PositiveIntegerField(default=60)
    # A spike monitor: its value is the window's metric over the metric's mean in this many windows of
    # the same length just before it, so its thresholds are ratios (2: twice as much as usual).
    compare_windows = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Spike: compare the window with the mean of this many windows before it; the "
        "thresholds are then ratios (2 = twice as much). Empty: the thresholds are the metric's values.",
    )
    interval_minutes = models.PositiveIntegerField(default=5)
    warning = models.FloatField(null=True, blank=True)
    alert = models.FloatField(null=True, blank=True)
    direction = models.CharField(
        max_length=8, choices=ThresholdDirection.choices, default=ThresholdDirection.ABOVE
    )
    no_data = models.CharField(max_length=8, choices=NoData.choices, default=NoData.NO_DATA)
    renotify_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="While it stays bad, notify again this often; empty: once."
    )
    muted_until = models.DateTimeField(null=True, blank=True)
    channels = models.ManyToManyField(Channel, blank=True, related_name="monitors")
    state = models.CharField(max_length=8, choices=MonitorState.choices, default=MonitorState.NO_DATA)
    value = models.FloatField(null=True, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "monitors"
        ordering = ["name", "id"]
        indexes = [
            # Settings › Monitors and the API's list: a workspace's monitors by name.
            models.Index(fields=["workspace", "name", "id"], name="monitor_by_name"),
            # The worker's cycle (evaluate_due): the enabled monitors, least recently evaluated first.
            models.Index(fields=["enabled", "evaluated_at"], name="monitor_due"),
        ]

    def __str__(self):
        return self.name

    def is_muted(self, now):
        return self.muted_until is not None and self.muted_until > now


class MonitorKeyState(models.Model):
    """A monitor's state for one breakdown value ("" without a breakdown), and when it last notified."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="key_states", db_index=False)
    key = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=8, choices=MonitorState.choices)
    value = models.FloatField(null=True, blank=True)
    since = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "monitor_key_states"
        constraints = [
            # Its index serves the evaluation, which reads a monitor's states at once.
            models.UniqueConstraint(fields=["monitor", "key"], name="monitor_key_state_unique"),
        ]

    def __str__(self):
        return f"{self.monitor} {self.key} {self.state}"


class MonitorTransition(models.Model):
    """One change of a monitor's state for one breakdown value: its history."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="transitions", db_index=False)
    key = models.CharField(max_length=200, blank=True)
    previous_state = models.CharField(max_length=8, choices=MonitorState.choices)
    state = models.CharField(max_length=8, choices=MonitorState.choices)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    at = models.DateTimeField()
    # Whether channels were told (not while muted, or with no channel).
    notified = models.BooleanField(default=False)

    class Meta:
        db_table = "monitor_transitions"
        indexes = [
            # A monitor's history (its page and the API), latest first, keyset on (at, id).
            models.Index(fields=["monitor", "-at", "-id"], name="monitor_transition_latest"),
        ]

    def __str__(self):
        return f"{self.monitor} {self.previous_state} → {self.state}"


class SpendRollup(models.Model):
    """What model calls cost and used per workspace, UTC day and scope key, for the budget check.

    Each call counts four times: for its workspace (scope `workspace`, key ''), its run's agent (the
    agent's id), workflow and end user (the run's; none: the call counts for the workspace only).
    It follows every write of model calls in that write's transaction (metrics.rollups.spend, through
    traces.rollups.daily.follow), so the check reads the last committed batch, whatever the order.
    """

    # No index of its own: the unique key starts with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    scope = models.CharField(max_length=16)  # a BudgetScope value
    key = models.CharField(max_length=200, blank=True)
    day = models.DateField()
    # Signed, no CHECK: a delta is applied as one upsert. Calls with no known cost add 0 to `cost`.
    calls = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=30, decimal_places=10, default=0)
    tokens = models.BigIntegerField(default=0)

    class Meta:
        db_table = "spend_rollups"
        constraints = [
            # The key the upserts use; it serves the budget check and Settings › Budgets: a
            # workspace's (scope, key) pairs over the days of the current month.
            models.UniqueConstraint(fields=["workspace", "scope", "key", "day"], name="spend_rollup_key"),
        ]

    def __str__(self):
        return f"{self.scope} {self.key} {self.day}"


class BudgetScope(models.TextChoices):
    WORKSPACE = "workspace", "Workspace"
    AGENT = "agent", "Agent"
    WORKFLOW = "workflow", "Workflow"
    USER = "user", "End user"


class BudgetPeriod(models.TextChoices):
    DAY = "day", "Day"
    MONTH = "month", "Month"


class BudgetUnit(models.TextChoices):
    USD = "usd", "USD"
    TOKENS = "tokens", "Tokens"


def default_notify_at():
    return [0.8, 1.0]


class Budget(models.Model):
    """A limit on what a workspace, an agent, a workflow or an end user spends per UTC day or calendar
    month (metrics.monitors.budgets). An empty key on an agent, workflow or user budget limits each of
    them on its own; the check and the notifications then speak of the one they concern."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    scope = models.CharField(max_length=16, choices=BudgetScope.choices)
    key = models.CharField(max_length=200, blank=True)
    period = models.CharField(max_length=8, choices=BudgetPeriod.choices, default=BudgetPeriod.DAY)
    unit = models.CharField(max_length=8, choices=BudgetUnit.choices, default=BudgetUnit.USD)
    limit = models.DecimalField(max_digits=20, decimal_places=6)
    # Fractions of the limit whose crossing notifies the channels, once per key and period.
    notify_at = models.JSONField(default=default_notify_at)
    channels = models.ManyToManyField(Channel, blank=True, related_name="budgets", db_table="budget_channels")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "budgets"
        ordering = ["scope", "key", "period", "unit", "id"]
        constraints = [
            # One limit per what, period and unit; its index serves the check, Settings › Budgets and
            # the API's list: a workspace's budgets of a scope and key.
            models.UniqueConstraint(
                fields=["workspace", "scope", "key", "period", "unit"], name="budget_unique"
            ),
        ]

    def __str__(self):
        return f"{self.get_scope_display()} {self.key or 'each'}: {self.limit} {self.unit} a {self.period}"


class BudgetNotice(models.Model):
    """A fraction of a budget crossed by one key in one period: notified once (the dedupe row)."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="notices", db_index=False)
    key = models.CharField(max_length=200, blank=True)
    period_start = models.DateField()
    fraction = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "budget_notices"
        constraints = [
            # The periodic job's dedupe: it skips the crossings that have a row already.
            models.UniqueConstraint(
                fields=["budget", "period_start", "key", "fraction"], name="budget_notice_once"
            ),
        ]

    def __str__(self):
        return f"{self.budget} {self.key} {self.period_start} {self.fraction:.0%}"
