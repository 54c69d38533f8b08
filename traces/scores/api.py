"""Scores API under /api/v1/: give scores, read them, and manage the score configs they must match.

A key with the `ingest` scope; the key decides the workspace. A score that does not match its config,
or names a run, task, conversation or message the workspace does not have, answers 422 naming the
field.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from django.db import IntegrityError, transaction
from ninja import Query, Router, Schema, Status
from pydantic import Field, StringConstraints

from backoffice import audit
from backoffice.api_auth import IngestKeyAuth
from backoffice.api_errors import Input, Problem, problems
from traces.models import ScoreConfig, ScoreDataType

from .configs import ScoreError, check_config, config_snapshot
from .queries import MAX_PAGE_SIZE, PAGE_SIZE, page_of_scores, scores_in, valid_cursor
from .records import MAX_COMMENT, ScoreIn, save_scores

router = Router(tags=["scores"], auth=IngestKeyAuth())

MAX_BATCH = 1000
DataType = Literal["numeric", "categorical", "boolean"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ScoreBody(Input):
    run_id: Id | None = Field(None, description="The run scored; optional only for a conversation's score.")
    task_id: Id | None = Field(None, description="A step of the run (its step id), to score that step.")
    session_id: Id | None = Field(None, description="A conversation, to score it (the run's by default).")
    message_id: Id | None = Field(None, description="A chat turn of the run (its event id), to score it.")
    name: Name
    value: bool | float | str = Field(
        description="A number (numeric), true or false (boolean), or a label of the config (categorical)."
    )
    data_type: DataType | None = Field(None, description="The config's type when omitted.")
    comment: str = Field("", max_length=MAX_COMMENT)
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: Literal["api", "sdk", "judge"] = Field("api", description="`judge` for an evaluator's score.")
    id: Id | None = Field(None, description="Your id of the score: sending it again replaces the score.")


class ScoreBatch(Input):
    scores: list[ScoreBody] = Field(max_length=MAX_BATCH)


class ScoreOut(Schema):
    id: str = Field(description="The id sent, or the one given to the score.")
    run_id: str | None
    task_id: str | None
    session_id: str | None
    message_id: str | None
    name: str
    data_type: str
    value: bool | float | str | None = Field(description="The number, true or false, or the label.")
    numeric_value: float | None = Field(description="The number; 1 or 0 for boolean; a label's value.")
    comment: str
    metadata: dict[str, Any]
    source: str
    author: str
    created_at: datetime
    updated_at: datetime


class ScoreResult(Schema):
    index: int
    id: str | None
    status: str = Field(description="created, updated or rejected")
    field: str | None = None
    reason: str | None = None


class BatchOut(Schema):
    created: int
    updated: int
    rejected: int
    results: list[ScoreResult]


class ScorePage(Schema):
    items: list[ScoreOut]
    next_after: str | None = Field(description="Pass as `after` for the next page; null on the last one.")


class ScoreFilters(Input):
    run_id: str | None = Field(None, description="Only this run's scores.")
    name: str | None = Field(None, description="Only scores of this name.")
    after: str | None = Field(None, description="The `next_after` of the previous page.")
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class Category(Schema):
    label: Name
    value: float


class ConfigBody(Input):
    name: Name
    data_type: DataType
    min_value: float | None = None
    max_value: float | None = None
    categories: list[Category] = Field(default_factory=list, description="Labels of a categorical score.")
    description: str = Field("", max_length=10_000)
    archived: bool = False


class ConfigOut(Schema):
    name: str
    data_type: str
    min_value: float | None
    max_value: float | None
    categories: list[dict[str, Any]]
    description: str
    archived: bool
    created_at: datetime
    updated_at: datetime


def score_out(score):
    value = score.value
    if score.data_type == ScoreDataType.BOOLEAN:
        value = score.string_value == "true"
    elif score.data_type == ScoreDataType.CATEGORICAL:
        value = score.string_value
    return {
        "id": score.client_id,
        "run_id": score.run.run_id if score.run else None,
        "task_id": score.task.step_id if score.task else None,
        "session_id": score.session.session_id if score.session else None,
        "message_id": score.message.event_id if score.message else None,
        "name": score.name,
        "data_type": score.data_type,
        "value": value,
        "numeric_value": score.value,
        "comment": score.comment,
        "metadata": score.metadata,
        "source": score.source,
        "author": score.author,
        "created_at": score.created_at,
        "updated_at": score.updated_at,
    }


def save(request, bodies):
    items = [ScoreIn(**body.dict(exclude={"source"})) for body in bodies]
    # A batch names one source per score; the write takes one per call, so group by it.
    results = [None] * len(items)
    for source in {body.source for body in bodies}:
        indexes = [i for i, body in enumerate(bodies) if body.source == source]
        saved = save_scores(
            request.workspace, [items[i] for i in indexes], source=source, author=request.api_key.label
        )
        for i, result in zip(indexes, saved, strict=True):
            results[i] = result
    return results


@router.post(
    "/scores",
    response={201: ScoreOut, 200: ScoreOut, **problems()},
    summary="Give a score",
)
def score_create(request, payload: ScoreBody):
    """201 with the new score; 200 when a score with this `id` existed and was replaced."""
    (result,) = save(request, [payload])
    if isinstance(result, ScoreError):
        return Status(422, {"detail": str(result), "field": result.field})
    return Status(201 if result.created else 200, score_out(result.score))


@router.post(
    "/scores/batch",
    # 400 after problems(): every score refused is a BatchOut, an unreadable body a Problem.
    response={200: BatchOut, 207: BatchOut, **problems(), 400: BatchOut | Problem},
    summary="Give up to 1,000 scores",
)
def score_batch(request, payload: ScoreBatch):
    """One result per score, in order. 200 when every score was stored, 207 when some were rejected
    (the others are stored), 400 when every one was."""
    outcome = {"created": 0, "updated": 0, "rejected": 0, "results": []}
    for index, (body, result) in enumerate(zip(payload.scores, save(request, payload.scores), strict=True)):
        if isinstance(result, ScoreError):
            status = "rejected"
            row = {"field": result.field, "reason": result.message}
        else:
            status = "created" if result.created else "updated"
            row = {"id": result.score.client_id}
        outcome[status] += 1
        outcome["results"].append({"index": index, "id": body.id, "status": status, **row})
    rejected = outcome["rejected"]
    code = 200 if not rejected else 400 if rejected == len(payload.scores) else 207
    return Status(code, outcome)


@router.get(
    "/scores", response={200: ScorePage, **problems()}, summary="Scores, newest first, in keyset pages"
)
def score_list(request, filters: Query[ScoreFilters]):
    if filters.after and not valid_cursor(filters.after):
        return Status(422, {"detail": "after: not a page of this list", "field": "after"})
    found = scores_in(request.workspace)
    if filters.run_id:
        found = found.filter(run__run_id=filters.run_id)
    if filters.name:
        found = found.filter(name=filters.name)
    rows, next_after = page_of_scores(found, filters.after, size=filters.limit)
    return {"items": [score_out(score) for score in rows], "next_after": next_after}


def config_out(config):
    return {name: getattr(config, name) for name in ConfigOut.model_fields}


@router.get("/score-configs", response={200: list[ConfigOut], **problems()}, summary="Score configs")
def config_list(request):
    return [config_out(config) for config in ScoreConfig.objects.filter(workspace=request.workspace)]


@router.post(
    "/score-configs",
    response={201: ConfigOut, **problems(409)},
    summary="Add a score config",
)
def config_create(request, payload: ConfigBody):
    """A second config of the same name answers 409."""
    fields = payload.dict()
    try:
        fields["categories"] = check_config(
            fields["data_type"], fields["min_value"], fields["max_value"], fields["categories"]
        )
    except ScoreError as exc:
        return Status(422, {"detail": str(exc), "field": exc.field})
    try:
        with transaction.atomic():
            config = ScoreConfig.objects.create(workspace=request.workspace, **fields)
    except IntegrityError:
        return Status(409, {"detail": f"name: a score config named {payload.name!r} exists", "field": "name"})
    audit.record(request, "score_config.created", config.name, audit.diff({}, config_snapshot(config)))
    return Status(201, config_out(config))
