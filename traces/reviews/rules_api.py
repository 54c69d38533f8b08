"""Review rules API under /api/v1/review-rules (a key with the `admin` scope): list, create, read,
change, delete, and backfill a rule over a past time range. Every change goes to the audit log.

A rule or queue of another workspace answers 404 (a rule) or 422 naming `queue_id` (a queue).
"""

from datetime import UTC, datetime
from typing import Annotated

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field, StringConstraints, field_validator

from backoffice import audit
from backoffice.api_auth import AdminKeyAuth
from backoffice.api_errors import Input, problems
from backoffice.days import EARLIEST, LATEST
from traces.models import ReviewRule

from . import rules
from .api import PriorityValue, as_problem, find_assignee, find_queue
from .tickets import MAX_TAGS, ReviewError

router = Router(tags=["review rules"], auth=AdminKeyAuth())

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=rules.MAX_NAME_CHARS)]
FILTER_HELP = (
    "A Runs-list query string (`status=failed&score=helpfulness<3&min_cost=0.5&failed_step=charge`), "
    "or a Runs-list link; every filter of the Runs list but the time range and the sort."
)


class RuleIn(Input):
    name: Name
    enabled: bool = True
    filter: str = Field("", max_length=2000, description=FILTER_HELP)
    sample_rate: float = Field(1.0, ge=0, le=1, description="The share of matching runs reviewed, 0 to 1.")
    priority: PriorityValue = "medium"
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    queue_id: int | None = Field(None, description="The queue the reviews go to.")
    assignee: str | None = Field(
        None, description="Username of a reviewer or admin; none: round-robin over the queue's members."
    )


class RulePatch(Input):
    """Only the fields sent change; `queue_id` and `assignee` accept null to clear."""

    name: Name | None = None
    enabled: bool | None = None
    filter: str | None = Field(None, max_length=2000, description=FILTER_HELP)
    sample_rate: float | None = Field(None, ge=0, le=1)
    priority: PriorityValue | None = None
    tags: list[str] | None = Field(None, max_length=MAX_TAGS)
    queue_id: int | None = None
    assignee: str | None = None


class RuleOut(Schema):
    id: int
    name: str
    enabled: bool
    filter: str
    sample_rate: float
    priority: str
    tags: list[str]
    queue_id: int | None
    queue: str | None
    assignee: str | None
    matched_count: int = Field(description="Runs the rule matched while they had no review, each once.")
    sampled_count: int = Field(description="Of them, the runs sampled: each got a review.")
    created_at: datetime
    updated_at: datetime


class BackfillIn(Input):
    since: datetime = Field(description="Runs started at or after this time (UTC when no offset).")
    until: datetime = Field(description="Runs started before this time.")

    @field_validator("since", "until")
    @classmethod
    def in_range(cls, value):
        """As UTC, between the days every date filter allows (backoffice.days)."""
        try:
            moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        except OverflowError:
            moment = None
        if moment is None or not EARLIEST <= moment.date() <= LATEST:
            raise ValueError(f"must be a time from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}")
        return moment


class BackfillOut(Schema):
    matched: int = Field(
        description="Runs counted now: matched, finished, without a review, not counted before."
    )
    sampled: int = Field(description="Of them, the runs that got a review.")
    rule: RuleOut


def rules_in(workspace):
    return ReviewRule.objects.filter(workspace=workspace).select_related("queue", "assignee")


def get_rule(workspace, rule_id):
    return get_object_or_404(rules_in(workspace), pk=rule_id)


def rule_out(rule):
    return {
        **{name: getattr(rule, name) for name in RuleOut.model_fields if name not in ("queue", "assignee")},
        "id": rule.pk,
        "queue": rule.queue.name if rule.queue else None,
        "assignee": rule.assignee.get_username() if rule.assignee else None,
    }


def resolved(workspace, fields):
    """The API's fields as the rule's: a queue id and a username become the objects."""
    if "queue_id" in fields:
        fields["queue"] = find_queue(workspace, fields.pop("queue_id"))
    if "assignee" in fields:
        fields["assignee"] = find_assignee(workspace, fields["assignee"])
    return fields


@router.get("", response={200: list[RuleOut], **problems()}, summary="Review rules")
def rule_list(request):
    return [rule_out(rule) for rule in rules_in(request.workspace)]


@router.post("", response={201: RuleOut, **problems()}, summary="Create a review rule")
def rule_create(request, payload: RuleIn):
    try:
        values = rules.clean_rule(request.workspace, resolved(request.workspace, payload.dict()))
    except ReviewError as exc:
        return as_problem(exc)
    rule, changes = rules.save_rule(request.workspace, values)
    audit.record(request, "review_rule.created", rule.name, changes)
    return Status(201, rule_out(rule))


@router.get("/{int:rule_id}", response={200: RuleOut, **problems()}, summary="A review rule")
def rule_get(request, rule_id: int):
    return rule_out(get_rule(request.workspace, rule_id))


@router.patch("/{int:rule_id}", response={200: RuleOut, **problems()}, summary="Change a review rule")
def rule_update(request, rule_id: int, payload: RulePatch):
    rule = get_rule(request.workspace, rule_id)
    fields = payload.dict(exclude_unset=True)
    nulls = [name for name, value in fields.items() if value is None and name not in ("queue_id", "assignee")]
    try:
        if nulls:
            raise ReviewError(nulls[0], "cannot be null")
        values = rules.clean_rule(request.workspace, resolved(request.workspace, fields), rule)
    except ReviewError as exc:
        return as_problem(exc)
    rule, changes = rules.save_rule(request.workspace, values, rule)
    if changes:
        audit.record(request, "review_rule.changed", rule.name, changes)
    return rule_out(rule)


@router.delete("/{int:rule_id}", response={204: None, **problems()}, summary="Delete a review rule")
def rule_delete(request, rule_id: int):
    """The reviews it opened stay."""
    rule = get_rule(request.workspace, rule_id)
    audit.record(request, "review_rule.deleted", rule.name, audit.diff(rules.snapshot(rule), {}))
    rule.delete()
    return Status(204, None)


@router.post(
    "/{int:rule_id}/backfill",
    response={200: BackfillOut, **problems()},
    summary="Apply a review rule to the runs of a past time range",
)
def rule_backfill(request, rule_id: int, payload: BackfillIn):
    """Finished runs started in [since, until) go through the rule as if they had just finished. A run
    already counted by the rule or already reviewed is skipped: sending the same range again opens
    nothing new, and sampling picks the same runs every time."""
    rule = get_rule(request.workspace, rule_id)
    since, until = payload.since, payload.until
    if until <= since:
        return Status(422, {"detail": "until: must be after since", "field": "until"})
    try:
        matched, picked = rules.backfill(rule, since, until)
    except ReviewError as exc:
        return as_problem(exc)
    audit.record(
        request,
        "review_rule.backfilled",
        rule.name,
        {"since": since.isoformat(), "until": until.isoformat(), "matched": matched, "sampled": picked},
    )
    return {"matched": matched, "sampled": picked, "rule": rule_out(get_rule(request.workspace, rule.pk))}
