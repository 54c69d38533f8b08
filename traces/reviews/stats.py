"""Review figures: counts by status, rating and priority, time to resolve, weekly flow, per agent."""

from datetime import timedelta

from django.db.models import Avg, Count, F, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from traces.models import UNRATED, UNRATED_LABEL, Priority, Rating, ReviewStatus
from traces.scores.agreement import agreement

from .queries import day_start

MAX_AGENTS = 50
DEFAULT_WEEKS = 12
# The figures list every week of the range: ten years is 522 rows, a range from year 1900 ~6,500.
MAX_DAYS = 3653
TOO_LONG = f"The range spans at most {MAX_DAYS} days (ten years)."


def period(since=None, until=None):
    """The days the figures cover: as given, else the twelve weeks up to today."""
    until = until or timezone.now().date()
    return since or until - timedelta(days=7 * DEFAULT_WEEKS - 1), until


def too_long(since, until):
    return (until - since).days > MAX_DAYS


def counts_by(name, choices):
    return {f"{name}_{value}": Count("id", filter=Q(**{name: value})) for value in choices.values}


def hours(duration):
    return None if duration is None else round(duration.total_seconds() / 3600, 1)


def week_starts(since, until):
    """Every Monday from the week of `since` to the week of `until`."""
    monday = since - timedelta(days=since.weekday())
    while monday <= until:
        yield monday
        monday += timedelta(days=7)


def weekly(queryset, field):
    rows = queryset.annotate(week=TruncWeek(field)).values("week").annotate(n=Count("id")).order_by()
    return {row["week"].date(): row["n"] for row in rows}


def review_figures(queryset, since, until):
    """Figures of the reviews filed from `since` to `until` (dates, inclusive). Four queries.

    Resolved per week counts reviews by the day they were resolved, whenever they were filed.
    """
    start, end = day_start(since), day_start(until) + timedelta(days=1)
    filed = queryset.filter(created_at__gte=start, created_at__lt=end)
    resolution = Avg(F("resolved_at") - F("created_at"), filter=Q(status=ReviewStatus.RESOLVED))
    totals = filed.aggregate(
        total=Count("id"),
        **counts_by("status", ReviewStatus),
        **counts_by("rating", Rating),
        unrated=Count("id", filter=Q(rating="")),
        **counts_by("priority", Priority),
        resolution=resolution,
    )
    opened = weekly(filed, "created_at")
    closed = queryset.filter(status=ReviewStatus.RESOLVED, resolved_at__gte=start, resolved_at__lt=end)
    resolved = weekly(closed, "resolved_at")
    weeks = [
        {"week": monday, "opened": opened.get(monday, 0), "resolved": resolved.get(monday, 0)}
        for monday in week_starts(since, until)
    ]
    agents = (
        filed.values("run__agent__agent_id", "run__agent__name")
        .annotate(
            total=Count("id"),
            **counts_by("status", ReviewStatus),
            bad=Count("id", filter=Q(rating=Rating.BAD)),
            resolution=resolution,
        )
        .order_by("-total", "run__agent__agent_id")[:MAX_AGENTS]
    )

    def split(prefix, choices):
        return [
            {"value": value, "label": label, "count": totals[f"{prefix}_{value}"]}
            for value, label in choices.choices
        ]

    return {
        "since": since,
        "until": until,
        "total": totals["total"],
        "by_status": split("status", ReviewStatus),
        "by_rating": [
            *split("rating", Rating),
            {"value": UNRATED, "label": UNRATED_LABEL, "count": totals["unrated"]},
        ],
        "by_priority": split("priority", Priority),
        "avg_resolution_hours": hours(totals["resolution"]),
        "weeks": weeks,
        "week_max": max([1] + [max(week["opened"], week["resolved"]) for week in weeks]),
        "agents": [
            {
                "agent_id": row["run__agent__agent_id"],
                "name": row["run__agent__name"] or row["run__agent__agent_id"],
                "total": row["total"],
                "open": row["status_open"],
                "in_review": row["status_in_review"],
                "resolved": row["status_resolved"],
                "dismissed": row["status_dismissed"],
                "bad": row["bad"],
                "avg_resolution_hours": hours(row["resolution"]),
            }
            for row in agents
        ],
    }


def score_agreement(workspace, since, until, agent=None):
    """How often reviewers agree, per score config, on what they scored from `since` to `until` (dates,
    inclusive), on the runs of `agent` if given. Two queries."""
    start, end = day_start(since), day_start(until) + timedelta(days=1)
    return agreement(workspace, start, end, agent)
