"""Dashboards as a whole: the default one a workspace starts with, and export/import as JSON."""

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from .models import Aggregation, Bucket, Colour, Dashboard, DashboardCard, Kind, Source, TimeRange

EXPORT_FORMAT = "backoffice.dashboard"
EXPORT_VERSION = 1
# What a card is, without where it lives: the fields an export carries and an import accepts.
CARD_FIELDS = [
    "title",
    "kind",
    "source",
    "event_name",
    "metric_name",
    "aggregation",
    "property",
    "filters",
    "condition",
    "breakdown",
    "breakdown_limit",
    "time_range",
    "custom_start",
    "custom_end",
    "bucket",
    "colour",
    "width",
    "height",
    "warning_threshold",
    "alert_threshold",
    "threshold_direction",
    "hide_without_data",
]
# Slugs that are paths of their own under metrics/.
RESERVED_SLUGS = {"new", "import"}


def rule(prop, operator, value=""):
    return {"property": prop, "operator": operator, "value": value}


FAILED = [rule("status", "eq", "failed")]

# What operators look at first (DESIGN §6, issue 5). Small figures on top, charts below.
DEFAULT_CARDS = [
    {
        "title": "Runs",
        "kind": Kind.NUMBER,
        "source": Source.RUNS,
        "time_range": TimeRange.DAY,
        "width": 1,
        "height": 1,
    },
    {
        "title": "p95 run duration",
        "kind": Kind.NUMBER,
        "source": Source.RUNS,
        "aggregation": Aggregation.P95,
        "property": "duration_ms",
        "time_range": TimeRange.DAY,
        "colour": Colour.VIOLET,
        "width": 1,
        "height": 1,
    },
    {
        "title": "Tool failure rate",
        "kind": Kind.RATE,
        "source": Source.TASKS,
        "aggregation": Aggregation.RATE,
        "filters": [rule("type", "eq", "tool")],
        "condition": FAILED,
        "time_range": TimeRange.DAY,
        "colour": Colour.AMBER,
        "warning_threshold": 5,
        "alert_threshold": 15,
        "width": 1,
        "height": 1,
    },
    {
        "title": "LLM error rate",
        "kind": Kind.RATE,
        "source": Source.MODEL_CALLS,
        "aggregation": Aggregation.RATE,
        "condition": [rule("status", "ne", "ok")],
        "time_range": TimeRange.DAY,
        "colour": Colour.RED,
        "warning_threshold": 2,
        "alert_threshold": 5,
        "width": 1,
        "height": 1,
    },
    {"title": "Runs per day", "kind": Kind.BAR, "source": Source.RUNS, "breakdown": "status"},
    {
        "title": "Run failure rate per day",
        "kind": Kind.LINE,
        "source": Source.RUNS,
        "aggregation": Aggregation.RATE,
        "condition": FAILED,
        "colour": Colour.RED,
        "warning_threshold": 5,
        "alert_threshold": 10,
    },
    {
        "title": "Tokens per day by model",
        "kind": Kind.BAR,
        "source": Source.MODEL_CALLS,
        "aggregation": Aggregation.SUM,
        "property": "total_tokens",
        "breakdown": "model",
        "colour": Colour.TEAL,
    },
    {
        "title": "Cost per day by model",
        "kind": Kind.BAR,
        "source": Source.MODEL_CALLS,
        "aggregation": Aggregation.SUM,
        "property": "cost",
        "breakdown": "model",
        "colour": Colour.GREEN,
    },
    {
        "title": "Business events per day",
        "kind": Kind.LINE,
        "source": Source.EVENTS,
        "breakdown": "$name",
        "bucket": Bucket.DAY,
        "width": 4,
        "hide_without_data": True,
    },
]


def default_dashboard(workspace):
    """The workspace's default dashboard, created with the default cards on first use.

    Idempotent under concurrency: the unique constraints decide which request creates it.
    Hits the database.
    """
    found = Dashboard.objects.filter(workspace=workspace, is_default=True).first()
    if found:
        return found
    try:
        with transaction.atomic():
            dashboard = Dashboard.objects.create(
                workspace=workspace, slug="overview", name="Overview", is_default=True
            )
            DashboardCard.objects.bulk_create(
                DashboardCard(dashboard=dashboard, position=index, **fields)
                for index, fields in enumerate(DEFAULT_CARDS)
            )
            return dashboard
    except IntegrityError:
        # Another request made it first, or a dashboard called "overview" exists: use what is there.
        return Dashboard.objects.filter(workspace=workspace).order_by("-is_default", "id").first()


def unique_slug(workspace, name):
    base = slugify(name)[:50] or "dashboard"
    if base in RESERVED_SLUGS:
        base = f"{base}-dashboard"
    taken = set(
        Dashboard.objects.filter(workspace=workspace, slug__startswith=base).values_list("slug", flat=True)
    )
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


def card_fields(card):
    """What a card is configured to show, as JSON: what an export carries and the audit log compares."""
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name in CARD_FIELDS
        for value in [getattr(card, name)]
    }


def export(dashboard, cards):
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "name": dashboard.name,
        "cards": [card_fields(card) for card in cards],
    }
