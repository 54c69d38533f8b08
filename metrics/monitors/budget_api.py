"""/api/v1/budgets: budgets managed as code (a key with the `admin` scope), and the budget check the
agent runtime calls before spending (`GET /api/v1/budgets/check`, a key with the `ingest` scope: the
key the runtime already holds to send its events, which can read nothing else; it answers only
budgets and sums). Every change goes to the audit log. A budget or channel of another workspace
answers 404 (a budget) or 422 naming `channels` (a channel)."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.db.models import prefetch_related_objects
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from backoffice import audit, ratelimit
from backoffice.api_auth import AdminKeyAuth, IngestKeyAuth
from backoffice.api_errors import Input, problems
from metrics.models import Budget, BudgetPeriod, BudgetScope, BudgetUnit, Channel, default_notify_at

from . import budgets
from .budgets import MAX_KEY_CHARS, BudgetError

router = Router(tags=["budgets"], auth=AdminKeyAuth())

ScopeValue = Literal[tuple(BudgetScope.values)]
PeriodValue = Literal[tuple(BudgetPeriod.values)]
UnitValue = Literal[tuple(BudgetUnit.values)]
KEY_HELP = (
    "The agent's id, the workflow's name or the end user's id; empty for a workspace budget, and on the "
    "other scopes for a limit on each of them."
)
NOTIFY_HELP = (
    "Fractions of the limit (above 0, at most 10) whose crossing notifies the channels, once a period."
)


class BudgetIn(Input):
    scope: ScopeValue
    key: str = Field("", max_length=MAX_KEY_CHARS, description=KEY_HELP)
    period: PeriodValue = Field("day", description="A UTC day, or a UTC calendar month.")
    unit: UnitValue = "usd"
    limit: Decimal = Field(gt=0, description="In USD, or in tokens.", examples=["10"])
    notify_at: list[float] = Field(default_factory=default_notify_at, description=NOTIFY_HELP)
    channels: list[int] = Field(default_factory=list, description="Ids of the channels notified.")


class BudgetPatch(Input):
    """Only the fields sent change."""

    scope: ScopeValue | None = None
    key: str | None = Field(None, max_length=MAX_KEY_CHARS)
    period: PeriodValue | None = None
    unit: UnitValue | None = None
    limit: Decimal | None = Field(None, gt=0)
    notify_at: list[float] | None = None
    channels: list[int] | None = None


class BudgetOut(Schema):
    id: int
    scope: str
    key: str
    period: str
    unit: str
    limit: Decimal
    notify_at: list[float]
    channels: list[int]
    spent: Decimal = Field(description="This period's spend: of the highest spender for an each-key budget.")
    created_at: datetime
    updated_at: datetime


class CheckQuery(Input):
    agent: str = Field("", max_length=MAX_KEY_CHARS, description="The agent's id.")
    workflow: str = Field("", max_length=MAX_KEY_CHARS, description="The workflow's name.")
    user: str = Field("", max_length=MAX_KEY_CHARS, description="The end user's id.")


class CheckedBudget(Schema):
    id: int
    scope: str
    key: str = Field(
        description="Whom it limits: for an each-key budget, the agent, workflow or user asked about."
    )
    period: str
    unit: str
    limit: Decimal
    spent: Decimal
    remaining: Decimal = Field(description="What is left of the limit this period, never below 0.")


class CheckOut(Schema):
    allowed: bool = Field(description="False when any of the budgets has reached its limit.")
    budgets: list[CheckedBudget]


def budget_out(budget):
    return {
        **{name: getattr(budget, name) for name in ("scope", "key", "period", "unit", "limit", "notify_at")},
        "id": budget.pk,
        "channels": sorted(channel.pk for channel in budget.channels.all()),
        "spent": budget.spent,
        "created_at": budget.created_at,
        "updated_at": budget.updated_at,
    }


def current(workspace):
    """The workspace's budgets with this period's spend and their channels. Two queries."""
    found = budgets.standings(workspace)
    prefetch_related_objects(found, "channels")
    return found


def get_budget(workspace, budget_id):
    """A budget of the workspace with its spend and channels, or 404."""
    get_object_or_404(Budget.objects.filter(workspace=workspace), pk=budget_id)
    return next(budget for budget in current(workspace) if budget.pk == budget_id)


def as_problem(error):
    return Status(422, {"detail": str(error), "field": error.field})


def with_channels(workspace, fields):
    """`channels` ids as the workspace's channels; BudgetError naming `channels` for any other id."""
    if fields.get("channels") is None:
        fields.pop("channels", None)
        return fields
    wanted = set(fields["channels"])
    found = list(Channel.objects.filter(workspace=workspace, pk__in=wanted))
    if len(found) != len(wanted):
        missing = sorted(wanted - {channel.pk for channel in found})
        raise BudgetError("channels", f"no channel {missing[0]} in this workspace")
    fields["channels"] = found
    return fields


@router.get(
    "/check",
    response={200: CheckOut, **problems()},
    auth=IngestKeyAuth(),
    summary="May the agent spend now? The budgets that limit it, and what each has left",
)
def budget_check(request, filters: Query[CheckQuery]):
    """The workspace's budgets and those of the agent, workflow and end user named, read from roll-ups
    that every committed ingest batch keeps current. `allowed` is false once any has reached its limit."""
    # Counted with the API's requests (an ingest key's own rate is for what it sends).
    limited = ratelimit.limit_api(request)
    if limited is not None:
        return limited
    checked = budgets.check(request.workspace, filters.agent, filters.workflow, filters.user)
    return {
        "allowed": checked.allowed,
        "budgets": [
            {
                **{
                    name: getattr(budget, name)
                    for name in ("scope", "key", "period", "unit", "limit", "spent")
                },
                "id": budget.pk,
                "remaining": budgets.remaining(budget),
            }
            for budget in checked.budgets
        ],
    }


@router.get("", response={200: list[BudgetOut], **problems()}, summary="Budgets, with this period's spend")
def budget_list(request):
    return [budget_out(budget) for budget in current(request.workspace)]


@router.post("", response={201: BudgetOut, **problems()}, summary="Create a budget")
def budget_create(request, payload: BudgetIn):
    try:
        fields = budgets.clean_budget(with_channels(request.workspace, payload.dict()))
        budget, changes = budgets.save_budget(request.workspace, fields)
    except BudgetError as error:
        return as_problem(error)
    audit.record(request, "budget.created", budgets.describe(budget), changes)
    return Status(201, budget_out(get_budget(request.workspace, budget.pk)))


@router.get("/{int:budget_id}", response={200: BudgetOut, **problems()}, summary="A budget")
def budget_get(request, budget_id: int):
    return budget_out(get_budget(request.workspace, budget_id))


@router.patch("/{int:budget_id}", response={200: BudgetOut, **problems()}, summary="Change a budget")
def budget_update(request, budget_id: int, payload: BudgetPatch):
    budget = get_object_or_404(Budget.objects.filter(workspace=request.workspace), pk=budget_id)
    fields = payload.dict(exclude_unset=True)
    try:
        nulls = [name for name, value in fields.items() if value is None]
        if nulls:
            raise BudgetError(nulls[0], "cannot be null")
        fields = budgets.clean_budget(with_channels(request.workspace, fields), budget)
        budget, changes = budgets.save_budget(request.workspace, fields, budget)
    except BudgetError as error:
        return as_problem(error)
    if changes:
        audit.record(request, "budget.changed", budgets.describe(budget), changes)
    return budget_out(get_budget(request.workspace, budget.pk))


@router.delete("/{int:budget_id}", response={204: None, **problems()}, summary="Delete a budget")
def budget_delete(request, budget_id: int):
    budget = get_object_or_404(Budget.objects.filter(workspace=request.workspace), pk=budget_id)
    audit.record(
        request, "budget.deleted", budgets.describe(budget), audit.diff(budgets.snapshot(budget), {})
    )
    budget.delete()
    return Status(204, None)
