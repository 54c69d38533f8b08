"""Reviews API under /api/v1/reviews: file, find, read, update, delete, stats and the training export.

The key decides the workspace; a review or run of another workspace answers 404. Rule errors answer
422 with the field they are about, as the schema's own validation errors do.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field, StringConstraints

from backoffice.api_auth import AdminKeyAuth
from backoffice.api_errors import Input, Problem, problems
from backoffice.days import Day
from traces.models import ChatMessage, Run

from . import tickets as reviews
from .export import export_response
from .queries import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    filter_reviews,
    get_review,
    page_of,
    parse_cursor,
    reviews_in,
)
from .stats import TOO_LONG, period, review_figures, too_long

router = Router(tags=["reviews"])

# Fields a PATCH may set to null.
NULLABLE = ("assignee", "target_message")

RatingValue = Literal["good", "neutral", "bad"]
PriorityValue = Literal["low", "medium", "high", "urgent"]
StatusValue = Literal["open", "in_review", "resolved", "dismissed"]
Comment = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=reviews.MIN_COMMENT_CHARS, max_length=10_000)
]
LongText = Annotated[str, StringConstraints(max_length=100_000)]


class Conflict(Problem):
    """The Problem of a second review of a run, naming the review it already has."""

    review_id: int
    run_id: str


class ReviewIn(Input):
    run_id: str = Field(min_length=1, max_length=200)
    rating: RatingValue
    comment: Comment
    priority: PriorityValue = "medium"
    tags: list[str] = Field(default_factory=list, max_length=reviews.MAX_TAGS)
    corrected_output: LongText = ""
    target_message_id: str | None = Field(None, description="The event id of an assistant turn of the run.")
    assignee: str | None = Field(None, description="Username of a reviewer or admin of the workspace.")
    action_taken: str = Field("", max_length=reviews.MAX_ACTION_CHARS)
    resolution_notes: LongText = ""


class ReviewPatch(Input):
    """Only the fields sent change; `assignee` and `target_message_id` accept null to clear."""

    rating: RatingValue | None = None
    comment: Comment | None = None
    priority: PriorityValue | None = None
    tags: list[str] | None = Field(None, max_length=reviews.MAX_TAGS)
    status: StatusValue | None = None
    corrected_output: LongText | None = None
    target_message_id: str | None = None
    assignee: str | None = None
    action_taken: str | None = Field(None, max_length=reviews.MAX_ACTION_CHARS)
    resolution_notes: LongText | None = None


class ActivityOut(Schema):
    actor: str
    action: str
    changes: dict[str, Any]
    created_at: datetime


class ReviewOut(Schema):
    id: int
    run_id: str
    agent_id: str | None
    rating: str
    comment: str
    priority: str
    tags: list[str]
    status: str
    assignee: str | None
    action_taken: str
    resolution_notes: str
    corrected_output: str
    target_message_id: str | None
    reviewed_by: str
    resolved_by: str
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ReviewDetailOut(ReviewOut):
    activity: list[ActivityOut]


class ReviewPage(Schema):
    items: list[ReviewOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last one.")


class ReviewCheck(Schema):
    run_id: str
    has_review: bool
    review_id: int | None
    status: str | None


class DateRange(Input):
    since: Day | None = Field(None, description="Filed on or after this day (UTC).")
    until: Day | None = Field(None, description="Filed on or before this day (UTC).")


class ExportFilters(DateRange):
    agent: str | None = Field(None, description="An agent id.")
    rating: RatingValue | None = None
    tag: str | None = None


class StatsFilters(DateRange):
    agent: str | None = Field(None, description="An agent id.")


class ReviewFilters(ExportFilters):
    status: Literal["all", "active", "open", "in_review", "resolved", "dismissed"] = Field(
        "all", description="`active` is open and in review."
    )
    priority: PriorityValue | None = None
    assignee: str | None = Field(None, description="A username, or `none` for unassigned reviews.")
    q: str | None = Field(None, max_length=200, description="Text in the comment, corrected output or notes.")
    sort: Literal["priority", "newest", "oldest"] = "priority"
    after: str | None = Field(None, description="The `next_after` of the previous page.")
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class Count(Schema):
    value: str
    label: str
    count: int


class Week(Schema):
    week: date
    opened: int
    resolved: int


class AgentStats(Schema):
    agent_id: str | None
    name: str | None
    total: int
    open: int
    in_review: int
    resolved: int
    dismissed: int
    bad: int
    avg_resolution_hours: float | None


class StatsOut(Schema):
    since: date
    until: date
    total: int
    by_status: list[Count]
    by_rating: list[Count]
    by_priority: list[Count]
    avg_resolution_hours: float | None
    weeks: list[Week]
    agents: list[AgentStats]


def review_out(review):
    return {
        **{name: getattr(review, name) for name in ReviewOut.model_fields if hasattr(review, name)},
        "id": review.pk,
        "run_id": review.run.run_id,
        "agent_id": review.run.agent.agent_id if review.run.agent else None,
        "assignee": review.assignee.get_username() if review.assignee else None,
        "target_message_id": review.target_message.event_id if review.target_message else None,
    }


def find_target(run, event_id):
    if event_id is None:
        return None
    message = ChatMessage.objects.filter(run=run, event_id=event_id).first()
    if message is None:
        raise reviews.ReviewError("target_message_id", "no turn of this run has that id")
    return message


def find_assignee(workspace, username):
    if username is None:
        return None
    user = reviews.assignable_users(workspace).filter(username=username).first()
    if user is None:
        raise reviews.ReviewError("assignee", "not a reviewer or admin of this workspace")
    return user


def as_problem(exc):
    field = {"target_message": "target_message_id"}.get(exc.field, exc.field)
    return Status(422, {"detail": f"{field}: {exc.message}", "field": field})


def actor(request):
    return request.api_key.label


@router.post(
    "",
    response={201: ReviewDetailOut, **problems(), 409: Conflict},
    summary="File a review of a run",
)
def review_create(request, payload: ReviewIn):
    """One review per run: a second answers 409 naming the review the run already has."""
    run = get_object_or_404(Run.objects.filter(workspace=request.workspace), run_id=payload.run_id)
    fields = payload.dict(exclude={"run_id", "target_message_id", "assignee"})
    try:
        fields["target_message"] = find_target(run, payload.target_message_id)
        fields["assignee"] = find_assignee(request.workspace, payload.assignee)
        review = reviews.file_review(run, actor=actor(request), **fields)
    except reviews.AlreadyReviewed as exc:
        conflict = {"detail": str(exc), "field": "run_id", "review_id": exc.review.pk, "run_id": run.run_id}
        return Status(409, conflict)
    except reviews.ReviewError as exc:
        return as_problem(exc)
    return Status(201, detail_out(get_review(request.workspace, review.pk)))


@router.get(
    "/check/{run_id}", response={200: ReviewCheck, **problems()}, summary="Whether a run has a review"
)
def review_check(request, run_id: str):
    run = get_object_or_404(
        Run.objects.filter(workspace=request.workspace).select_related("review"), run_id=run_id
    )
    review = getattr(run, "review", None)
    return {
        "run_id": run.run_id,
        "has_review": review is not None,
        "review_id": review.pk if review else None,
        "status": review.status if review else None,
    }


@router.get("", response={200: ReviewPage, **problems()}, summary="Reviews, filtered, in keyset pages")
def review_list(request, filters: Query[ReviewFilters]):
    data = filters.dict()
    cursor = None
    if data["after"]:
        try:
            cursor = parse_cursor(data["after"], data["sort"])
        except ValueError:
            return Status(422, {"detail": "after: not a page of this list and sort", "field": "after"})
    found = filter_reviews(reviews_in(request.workspace).select_related("target_message"), data)
    rows, next_after = page_of(found, data["sort"], cursor, size=data["limit"])
    return {"items": [review_out(review) for review in rows], "next_after": next_after}


@router.get("/stats", response={200: StatsOut, **problems()}, summary="Review figures")
def review_stats(request, filters: Query[StatsFilters]):
    """Counts by status, rating and priority, average resolution hours, weekly flow and per agent,
    over the reviews filed in the date range (the last twelve weeks by default)."""
    if filters.since and filters.until and filters.since > filters.until:
        return Status(422, {"detail": "until: the end date is before the start date", "field": "until"})
    since, until = period(filters.since, filters.until)
    if too_long(since, until):
        return Status(422, {"detail": f"since: {TOO_LONG}", "field": "since"})
    by_agent = filter_reviews(reviews_in(request.workspace), {"agent": filters.agent})
    return review_figures(by_agent, since, until)


@router.get(
    "/export",
    summary="Resolved reviews as fine-tuning JSONL",
    response={200: None, **problems()},
    openapi_extra={
        "responses": {
            200: {
                "description": "One OpenAI chat fine-tuning example per line, streamed.",
                "content": {"application/jsonl": {"schema": {"type": "string"}}},
            }
        }
    },
)
def review_export(request, filters: Query[ExportFilters]):
    found = filter_reviews(reviews_in(request.workspace), filters.dict())
    return export_response(found, request.workspace)


def detail_out(review):
    return {**review_out(review), "activity": list(review.activity.all())}


@router.get("/{int:review_id}", response={200: ReviewDetailOut, **problems()}, summary="A review")
def review_get(request, review_id: int):
    return detail_out(get_review(request.workspace, review_id))


@router.patch("/{int:review_id}", response={200: ReviewDetailOut, **problems()}, summary="Update a review")
def review_update(request, review_id: int, payload: ReviewPatch):
    """Changes fields and moves the status; resolving stamps resolved_by (the key's label) and
    resolved_at, reopening clears them. Every change is logged."""
    review = get_review(request.workspace, review_id)
    fields = payload.dict(exclude_unset=True)
    status = fields.pop("status", None)
    try:
        if "target_message_id" in fields:
            fields["target_message"] = find_target(review.run, fields.pop("target_message_id"))
        if "assignee" in fields:
            fields["assignee"] = find_assignee(request.workspace, fields["assignee"])
        nulls = [name for name, value in fields.items() if value is None and name not in NULLABLE]
        if nulls:
            raise reviews.ReviewError(nulls[0], "cannot be null")
        reviews.update_review(review, actor=actor(request), status=status, **fields)
    except reviews.ReviewError as exc:
        return as_problem(exc)
    return detail_out(get_review(request.workspace, review.pk))


@router.delete(
    "/{int:review_id}",
    auth=AdminKeyAuth(),
    response={204: None, **problems()},
    summary="Delete a review (a key with the admin scope)",
)
def review_delete(request, review_id: int):
    get_review(request.workspace, review_id).delete()
    return Status(204, None)
