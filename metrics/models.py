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

    Kept equal to tracked_events at every commit (metrics.rollups.tracked_events: ingest adds, purge
    subtracts), so count and rate cards over business events read one row per group and day instead of
    every event (metrics.engine). `dimensions` holds the event's properties that cards group and filter
    by; see metrics.rollups.tracked_events.dimensions for the rule.
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
        max_length=200, blank=True, help_text="Business events only; empty counts every event."
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
