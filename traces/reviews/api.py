"""Reviews API under /api/v1/reviews: file, find, read, update, delete, stats and the training export.

The key decides the workspace; a review or run of another workspace answers 404. Rule errors answer
422 with the field they are about, as the schema's own validation errors do.
"""

from dataclasses import asdict
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
from .evaluation import evaluation_response
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
from .queues import queues_in
from .stats import TOO_LONG, period, review_figures, score_agreement, too_long

router = Router(tags=["reviews"])

# Fields a PATCH may set to null.
NULLABLE = ("assignee", "target_message", "queue")

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
    queue_id: int | None = Field(None, description="The queue the review is in (at most one).")


class ReviewPatch(Input):
    """Only the fields sent change; `assignee`, `target_message_id` and `queue_id` accept null to clear."""

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
    queue_id: int | None = None


class ActivityOut(Schema):
    actor: str
    action: str
    changes: dict[str, Any]
    created_at: datetime


class ReviewOut(Schema):
    id: int
    run_id: str
    agent_id: str | None
    rating: RatingValue | None = Field(
        description="null until a person rates the run (a review a rule opened)."
    )
    comment: str
    priority: str
    tags: list[str]
    status: str
    assignee: str | None
    queue_id: int | None = Field(description="The queue the review is in (at most one).")
    queue: str | None = Field(description="The name of that queue.")
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


class ListFilters(ExportFilters):
    status: Literal["all", "active", "open", "in_review", "resolved", "dismissed"] = Field(
        "all", description="`active` is open and in review."
    )
    priority: PriorityValue | None = None
    assignee: str | None = Field(None, description="A username, or `none` for unassigned reviews.")
    queue: int | None = Field(None, description="A queue id: the reviews in that queue.")
    q: str | None = Field(None, max_length=200, description="Text in the comment, corrected output or notes.")


class EvaluationFilters(ListFilters):
    file_format: Literal["jsonl", "csv"] = Field("jsonl", alias="format", description="`jsonl` or `csv`.")


class ReviewFilters(ListFilters):
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


class PairAgreement(Schema):
    first: str = Field(description="A reviewer's username.")
    second: str
    shared: int = Field(description="Runs and replies both scored.")
    agreement: float = Field(description="The share of them both scored the same, 0 to 1.")
    kappa: float | None = Field(description="Cohen's kappa (categorical and boolean); null when undefined.")
    correlation: float | None = Field(description="Pearson's correlation (numeric); null when undefined.")


class ConfigAgreementOut(Schema):
    name: str
    data_type: str
    items: int = Field(description="Runs and replies that two or more reviewers scored.")
    reviewers: int
    agreement: float | None = Field(description="Of every pair of scores of a same thing, the share equal.")
    fleiss_kappa: float | None = Field(description="More than two reviewers, categorical and boolean.")
    pairs: list[PairAgreement] = Field(description="Per reviewer pair, those sharing the most first.")


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
    agreement: list[ConfigAgreementOut] = Field(
        description="How often reviewers agree, per score config, on what they scored in the range."
    )


def review_out(review):
    return {
        **{name: getattr(review, name) for name in ReviewOut.model_fields if hasattr(review, name)},
        "id": review.pk,
        "run_id": review.run.run_id,
        "agent_id": review.run.agent.agent_id if review.run.agent else None,
        "rating": review.rating or None,
        "assignee": review.assignee.get_username() if review.assignee else None,
        "queue": review.queue.name if review.queue else None,
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


def find_queue(workspace, queue_id):
    if queue_id is None:
        return None
    queue = queues_in(workspace).filter(pk=queue_id).first()
    if queue is None:
        raise reviews.ReviewError("queue_id", "no queue of this workspace has that id")
    return queue


def problem_of(exc):
    """A ReviewError as the API words it: (the field as the API names it, "field: message")."""
    field = {"target_message": "target_message_id", "queue": "queue_id"}.get(exc.field, exc.field)
    return field, f"{field}: {exc.message}"


def as_problem(exc):
    field, detail = problem_of(exc)
    return Status(422, {"detail": detail, "field": field})


def actor(request):
    return request.api_key.label


@router.post(
    "",
    response={201: ReviewDetailOut, **problems(), 409: Conflict},
    summary="File a review of a run",
)
def review_create(request, payload: ReviewIn):
    """One review per run: a second answers 409 naming the review the run already has."""
    try:
        review = file_from(request.workspace, payload, actor(request))
    except reviews.AlreadyReviewed as exc:
        conflict = {
            "detail": str(exc),
            "field": "run_id",
            "review_id": exc.review.pk,
            "run_id": exc.review.run.run_id,
        }
        return Status(409, conflict)
    except reviews.ReviewError as exc:
        return as_problem(exc)
    return Status(201, detail_out(review))


def file_from(workspace, payload, actor):
    """File the review a valid ReviewIn describes and read it back; what the API and the MCP tools share.
    Http404 when the run is not the workspace's; AlreadyReviewed or ReviewError when a rule says no."""
    run = get_object_or_404(Run.objects.filter(workspace=workspace), run_id=payload.run_id)
    fields = payload.dict(exclude={"run_id", "target_message_id", "assignee", "queue_id"})
    fields["target_message"] = find_target(run, payload.target_message_id)
    fields["assignee"] = find_assignee(workspace, payload.assignee)
    fields["queue"] = find_queue(workspace, payload.queue_id)
    review = reviews.file_review(run, actor=actor, **fields)
    return get_review(workspace, review.pk)


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
    over the reviews filed in the date range (the last twelve weeks by default); and how often
    reviewers agree on the scores they gave in that range, per score config and reviewer pair."""
    if filters.since and filters.until and filters.since > filters.until:
        return Status(422, {"detail": "until: the end date is before the start date", "field": "until"})
    since, until = period(filters.since, filters.until)
    if too_long(since, until):
        return Status(422, {"detail": f"since: {TOO_LONG}", "field": "since"})
    by_agent = filter_reviews(reviews_in(request.workspace), {"agent": filters.agent})
    agreements = score_agreement(request.workspace, since, until, filters.agent)
    return {**review_figures(by_agent, since, until), "agreement": [asdict(found) for found in agreements]}


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
    return export_response(request, found)


@router.get(
    "/export/evaluation",
    summary="Reviews as an evaluation dataset (JSONL or CSV)",
    response={200: None, **problems()},
    openapi_extra={
        "responses": {
            200: {
                "description": "One item per review, oldest first, streamed: the conversation up to the "
                "reviewed reply (`input`), the corrected output or else the reply (`expected_output`), the "
                "reply (`output`), the review and the run's `scores` (name, value, data type, source, "
                "author, comment). The CSV has the same as columns, `input` as JSON and `scores` as "
                "`name=value; …`.",
                "content": {
                    "application/jsonl": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    },
)
def review_evaluation(request, filters: Query[EvaluationFilters]):
    data = filters.dict()
    found = filter_reviews(reviews_in(request.workspace), data)
    return evaluation_response(request, found, data["file_format"])


def detail_out(review):
    return {**review_out(review), "activity": list(review.activity.all())}


@router.get("/{int:review_id}", response={200: ReviewDetailOut, **problems()}, summary="A review")
def review_get(request, review_id: int):
    return detail_out(get_review(request.workspace, review_id))


@router.patch("/{int:review_id}", response={200: ReviewDetailOut, **problems()}, summary="Update a review")
def review_update(request, review_id: int, payload: ReviewPatch):
    """Changes fields and moves the status; resolving stamps resolved_by (the key's label) and
    resolved_at, reopening clears them. Every change is logged."""
    try:
        review = patch_from(request.workspace, review_id, payload, actor(request))
    except reviews.ReviewError as exc:
        return as_problem(exc)
    return detail_out(review)


def patch_from(workspace, review_id, payload, actor):
    """Apply a valid ReviewPatch to the workspace's review and read it back. Http404 when the review is
    not the workspace's; ReviewError when a rule says no."""
    review = get_review(workspace, review_id)
    fields = payload.dict(exclude_unset=True)
    status = fields.pop("status", None)
    if "target_message_id" in fields:
        fields["target_message"] = find_target(review.run, fields.pop("target_message_id"))
    if "assignee" in fields:
        fields["assignee"] = find_assignee(workspace, fields["assignee"])
    if "queue_id" in fields:
        fields["queue"] = find_queue(workspace, fields.pop("queue_id"))
    nulls = [name for name, value in fields.items() if value is None and name not in NULLABLE]
    if nulls:
        raise reviews.ReviewError(nulls[0], "cannot be null")
    reviews.update_review(review, actor=actor, status=status, **fields)
    return get_review(workspace, review.pk)


@router.delete(
    "/{int:review_id}",
    auth=AdminKeyAuth(),
    response={204: None, **problems()},
    summary="Delete a review (a key with the admin scope)",
)
def review_delete(request, review_id: int):
    get_review(request.workspace, review_id).delete()
    return Status(204, None)
