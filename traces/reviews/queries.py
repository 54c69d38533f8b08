"""Finding reviews: the one fetch helper, the queue filters and its keyset pages.

The pages and the API share these, so a filter means the same thing in both.
"""

import json
from datetime import UTC, datetime, time, timedelta

from django.db.models import Q
from django.shortcuts import get_object_or_404

from traces.keyset import EPOCH, MICROSECOND, encode, past
from traces.models import UNRATED, Review, ReviewStatus

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# `status=active` is the working queue: what still needs someone.
ACTIVE = (ReviewStatus.OPEN, ReviewStatus.IN_REVIEW)
STATUS_FILTERS = {
    "active": ACTIVE,
    "all": None,
    **{status.value: (status.value,) for status in ReviewStatus},
}

# Each order ends with the pk so it is total; `cursor` lists the values a page continues after. The
# queue's priority order has three keys, which traces.keyset (one key and the id) cannot page; the
# cursors are written the same way.
SORTS = {
    "priority": ("-priority_rank", "created_at", "id"),
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
}


def reviews_in(workspace):
    """The workspace's reviews with what the queue shows of their run."""
    return Review.objects.filter(workspace=workspace).select_related("run", "run__agent", "assignee", "queue")


def get_review(workspace, review_id):
    """One review of this workspace, with its run, agent, session, assignee and target; 404 otherwise."""
    reviews = reviews_in(workspace).select_related("run__session", "target_message")
    return get_object_or_404(reviews, pk=review_id)


def day_start(day):
    return datetime.combine(day, time.min, tzinfo=UTC)


def filter_reviews(queryset, filters):
    """Apply cleaned filters: status, rating, priority, agent, tag, assignee, queue, since, until, q."""
    statuses = STATUS_FILTERS[filters.get("status") or "all"]
    if statuses is not None:
        queryset = queryset.filter(status__in=statuses)
    for name in ("rating", "priority"):
        if filters.get(name):
            queryset = queryset.filter(**{name: "" if filters[name] == UNRATED else filters[name]})
    if filters.get("agent"):
        queryset = queryset.filter(run__agent__agent_id=filters["agent"])
    if filters.get("tag"):
        # Tags are a JSON list of plain lower-case strings (see reviews.clean_tags), so the quoted tag
        # inside the stored text is an exact element match; JSON containment is not on SQLite.
        queryset = queryset.filter(tags__icontains=json.dumps(filters["tag"].strip().lower()))
    assignee = filters.get("assignee")
    if assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee:
        queryset = queryset.filter(assignee__username=assignee)
    if filters.get("queue"):
        queryset = queryset.filter(queue_id=filters["queue"])
    if filters.get("since"):
        queryset = queryset.filter(created_at__gte=day_start(filters["since"]))
    if filters.get("until"):
        queryset = queryset.filter(created_at__lt=day_start(filters["until"]) + timedelta(days=1))
    if filters.get("q"):
        text = filters["q"]
        queryset = queryset.filter(
            Q(comment__icontains=text)
            | Q(corrected_output__icontains=text)
            | Q(resolution_notes__icontains=text)
        )
    return queryset


def cursor_of(review, sort):
    """The `after` value that continues a page after this review."""
    parts = [encode(review.created_at), review.pk]
    if sort == "priority":
        parts.insert(0, review.priority_rank)
    return ".".join(str(part) for part in parts)


def parse_cursor(value, sort):
    """The cursor's values, or ValueError when it is not one this sort wrote."""
    parts = [int(part) for part in value.split(".")]
    if len(parts) != (3 if sort == "priority" else 2):
        raise ValueError("wrong number of parts")
    parts[-2] = EPOCH + parts[-2] * MICROSECOND
    return parts


def after(queryset, sort, cursor):
    """Rows that come after the cursor in the sort order."""
    if sort == "priority":
        rank, created, pk = cursor
        return queryset.filter(
            Q(priority_rank__lt=rank)
            | Q(priority_rank=rank, created_at__gt=created)
            | Q(priority_rank=rank, created_at=created, id__gt=pk)
        )
    created, pk = cursor
    return queryset.filter(past("created_at", created, pk, later=sort != "newest"))


def page_of(queryset, sort="priority", cursor=None, size=None):
    """One keyset page: (rows, the cursor of the next page or None). One query; no count."""
    size = size or PAGE_SIZE
    queryset = queryset.order_by(*SORTS[sort])
    if cursor:
        queryset = after(queryset, sort, cursor)
    rows = list(queryset[: size + 1])
    if len(rows) > size:
        return rows[:size], cursor_of(rows[size - 1], sort)
    return rows, None
