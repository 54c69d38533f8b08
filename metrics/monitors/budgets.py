"""Budgets: what a workspace, agent, workflow or end user may spend per day or calendar month, and
what the current period has spent, read from the spend roll-up (metrics.rollups.spend).

Periods are UTC days and UTC calendar months (workspaces have no time zone of their own), the days of
the roll-up. A budget with an empty key on the agent, workflow or user scope limits each of them on
its own: the check speaks of the one it is asked about, Settings › Budgets of the highest spender.

`standings` is ONE query whatever the budgets: the roll-up rows of the current month grouped by scope
and key (at most 31 days of each), joined to the budgets they count for. The check narrows both sides
to the keys it is asked about, so it reads a few dozen rows through the roll-up's unique key.
`spenders` is the same join kept per key, for the notifications (metrics.monitors.budget_notices).
"""

from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from backoffice import audit
from metrics.models import Budget, BudgetPeriod, BudgetScope, BudgetUnit, SpendRollup, default_notify_at

MAX_FRACTIONS = 10
MAX_FRACTION = 10  # a fraction of the limit: 10 is ten times over it
MAX_KEY_CHARS = 200
SPENT = {
    (BudgetPeriod.DAY, BudgetUnit.USD): "s.day_cost",
    (BudgetPeriod.MONTH, BudgetUnit.USD): "s.month_cost",
    (BudgetPeriod.DAY, BudgetUnit.TOKENS): "s.day_tokens",
    (BudgetPeriod.MONTH, BudgetUnit.TOKENS): "s.month_tokens",
}
# What a budget's period has spent, of the roll-up row s it is joined to.
SPENT_SQL = (
    "CASE "
    + " ".join(
        f"WHEN b.period = '{period}' AND b.unit = '{unit}' THEN {sql}"
        for (period, unit), sql in SPENT.items()
    )
    + " END"
)


class BudgetError(Exception):
    """A budget's field is not acceptable: `field` names it."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def today():
    return timezone.now().astimezone(UTC).date()


def period_start(period, day):
    """The first day of the period holding `day`."""
    return day.replace(day=1) if period == BudgetPeriod.MONTH else day


def period_end(period, day):
    """The first day after the period holding `day`."""
    if period == BudgetPeriod.DAY:
        return day + timedelta(days=1)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _sums(where):
    """A SELECT of each (workspace, scope, key)'s spend this month and today, over the roll-up rows
    `where` picks (as s). Its parameters: _sums_params(day), then those of `where`."""
    return (
        "SELECT s.workspace_id, s.scope, s.key, "  # noqa: S608 - constants; values are parameters
        "SUM(CASE WHEN s.day >= %s THEN s.cost ELSE 0 END) AS day_cost, SUM(s.cost) AS month_cost, "
        "SUM(CASE WHEN s.day >= %s THEN s.tokens ELSE 0 END) AS day_tokens, SUM(s.tokens) AS month_tokens "
        f"FROM {SpendRollup._meta.db_table} s WHERE s.day >= %s AND s.day <= %s AND {where} "
        "GROUP BY s.workspace_id, s.scope, s.key"
    )


def _sums_params(day):
    month = period_start(BudgetPeriod.MONTH, day)
    return [day.isoformat(), day.isoformat(), month.isoformat(), day.isoformat()]


# The roll-up sums s a budget b counts: its own key's, or every key's of its scope when it has none.
JOIN = "s.workspace_id = b.workspace_id AND s.scope = b.scope AND (b.key = '' OR s.key = b.key)"


def _narrowed(keys):
    """(WHERE on the roll-up, its params, WHERE on the budgets, its params) keeping the workspace's
    and these keys' ({scope: key}) rows and budgets."""
    rows, row_params = ["s.scope = %s"], [BudgetScope.WORKSPACE]
    wanted, wanted_params = ["b.scope = %s"], [BudgetScope.WORKSPACE]
    for scope, key in keys.items():
        rows.append("(s.scope = %s AND s.key = %s)")
        row_params += [scope, key]
        wanted.append("(b.scope = %s AND b.key IN (%s, ''))")
        wanted_params += [scope, key]
    return f"({' OR '.join(rows)})", row_params, f"({' OR '.join(wanted)})", wanted_params


def standings(workspace, keys=None, day=None):
    """The workspace's budgets, each with `spent` in its current period (a Decimal: USD, or tokens;
    for a budget of each key, its highest spender's) and `over` (how many of its keys have reached
    the limit). One query.

    `keys` ({scope: key}) keeps the budgets that limit those keys, and the workspace's budgets."""
    day = day or today()
    rows, row_params, wanted, wanted_params = (
        _narrowed(keys) if keys is not None else ("true", [], "true", [])
    )
    sql = (
        f'SELECT b.*, COALESCE(MAX({SPENT_SQL}), 0) AS spent, COUNT(CASE WHEN {SPENT_SQL} >= b."limit" '  # noqa: S608 - constants
        f"THEN 1 END) AS over FROM {Budget._meta.db_table} b "
        f"LEFT JOIN ({_sums(f's.workspace_id = %s AND {rows}')}) s ON {JOIN} "
        f"WHERE b.workspace_id = %s AND {wanted} GROUP BY b.id "
        "ORDER BY b.scope, b.key, b.period, b.unit, b.id"
    )
    params = [*_sums_params(day), workspace.pk, *row_params, workspace.pk, *wanted_params]
    found = list(Budget.objects.raw(sql, params))
    for budget in found:
        budget.spent = as_amount(budget.spent, budget.unit)
        budget.limit = Decimal(budget.limit)
    return found


def spenders(budgets, day=None, least=0.0):
    """[(budget, key, spent)] for every key of these budgets (of any workspaces) whose current period
    has spent at least `least` times the limit. One query."""
    if not budgets:
        return []
    day = day or today()
    by_pk = {budget.pk: budget for budget in budgets}
    ids = ", ".join(["%s"] * len(by_pk))
    table = Budget._meta.db_table
    workspaces = f"s.workspace_id IN (SELECT workspace_id FROM {table} WHERE id IN ({ids}))"  # noqa: S608
    sql = (
        f"SELECT b.id, s.key, {SPENT_SQL} AS spent FROM {table} b JOIN ({_sums(workspaces)}) s "  # noqa: S608
        f'ON {JOIN} WHERE b.id IN ({ids}) AND {SPENT_SQL} >= b."limit" * %s ORDER BY b.id, s.key'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_sums_params(day), *by_pk, *by_pk, least])
        rows = cursor.fetchall()
    return [(by_pk[pk], key, as_amount(spent, by_pk[pk].unit)) for pk, key, spent in rows]


def as_amount(value, unit):
    """A sum as the database gives it (SQLite: a float) as an exact Decimal of the unit."""
    amount = Decimal(str(value or 0))
    return amount.to_integral_value() if unit == BudgetUnit.TOKENS else amount.quantize(Decimal("1e-8"))


def remaining(budget):
    return max(budget.limit - budget.spent, Decimal(0))


def fraction_spent(budget):
    """The spent share of the limit, 0 to 1 (for the page's bars)."""
    return min(budget.spent / budget.limit, Decimal(1)) if budget.limit else Decimal(1)


@dataclass
class Check:
    allowed: bool
    budgets: list


def check(workspace, agent="", workflow="", user=""):
    """May the agent spend now? Every budget of the workspace, and those of the agent, workflow and end
    user named, with what their period has spent; not allowed when any has reached its limit."""
    named = {BudgetScope.AGENT: agent, BudgetScope.WORKFLOW: workflow, BudgetScope.USER: user}
    keys = {scope: key for scope, key in named.items() if key}
    budgets = standings(workspace, keys)
    for budget in budgets:
        # A budget for each agent (workflow, user) speaks of the one asked about.
        budget.key = budget.key or keys.get(budget.scope, "")
    return Check(allowed=all(budget.spent < budget.limit for budget in budgets), budgets=budgets)


# -- changing budgets (the API and Settings › Budgets) ----------------------------------------------


def clean_fractions(fractions):
    """The notify fractions sorted, each once; BudgetError naming `notify_at` when one is not valid."""
    if len(fractions) > MAX_FRACTIONS:
        raise BudgetError("notify_at", f"at most {MAX_FRACTIONS} fractions")
    for fraction in fractions:
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0 < fraction <= MAX_FRACTION
        ):
            raise BudgetError("notify_at", f"each fraction is a number above 0 and at most {MAX_FRACTION}")
    return sorted({float(fraction) for fraction in fractions})


def clean_budget(values, budget=None):
    """The fields of a budget as they will be saved: `values` over the budget's (when it is changed),
    checked together. Raises BudgetError naming the field."""
    fields = (
        snapshot(budget)
        if budget is not None
        else {
            "key": "",
            "period": BudgetPeriod.DAY,
            "unit": BudgetUnit.USD,
            "notify_at": default_notify_at(),
        }
    )
    fields.update(values)
    fields["key"] = (fields.get("key") or "").strip()
    if fields.get("scope") not in BudgetScope.values:
        raise BudgetError("scope", f"one of {', '.join(BudgetScope.values)}")
    if fields.get("period") not in BudgetPeriod.values:
        raise BudgetError("period", f"one of {', '.join(BudgetPeriod.values)}")
    if fields.get("unit") not in BudgetUnit.values:
        raise BudgetError("unit", f"one of {', '.join(BudgetUnit.values)}")
    if fields["scope"] == BudgetScope.WORKSPACE and fields["key"]:
        raise BudgetError("key", "a workspace budget has no key")
    if len(fields["key"]) > MAX_KEY_CHARS:
        raise BudgetError("key", f"at most {MAX_KEY_CHARS} characters")
    try:
        limit = Decimal(str(fields.get("limit")))
    except ArithmeticError:
        limit = None
    if limit is None or not limit.is_finite() or limit >= Decimal("1e14"):
        raise BudgetError("limit", "a number above 0 and below 100,000,000,000,000")
    fields["limit"] = limit.quantize(Decimal("1e-6"))
    if fields["limit"] <= 0:
        raise BudgetError("limit", "a number above 0 (to the millionth)")
    if fields["unit"] == BudgetUnit.TOKENS and fields["limit"] != fields["limit"].to_integral_value():
        raise BudgetError("limit", "a whole number of tokens")
    fields["notify_at"] = clean_fractions(fields.get("notify_at") or [])
    return fields


def snapshot(budget):
    """A budget's fields as the audit log and clean_budget see them."""
    return {
        "scope": budget.scope,
        "key": budget.key,
        "period": budget.period,
        "unit": budget.unit,
        "limit": budget.limit,
        "notify_at": list(budget.notify_at),
        "channels": sorted(budget.channels.values_list("pk", flat=True)) if budget.pk else [],
    }


def save_budget(workspace, fields, budget=None):
    """Create or change a budget from clean_budget's fields (`channels` a list of the workspace's
    Channel objects, when given). Returns (budget, audit changes); BudgetError naming `key` when the
    same budget exists."""
    before = snapshot(budget) if budget is not None else {}
    budget = budget or Budget(workspace=workspace)
    channels = fields.pop("channels", None)
    for name, value in fields.items():
        setattr(budget, name, value)
    budget.updated_at = timezone.now()
    try:
        with transaction.atomic():
            budget.save()
            if channels is not None:
                budget.channels.set(channels)
    except IntegrityError:
        raise BudgetError("key", "this scope and key has a budget of this period and unit already") from None
    return budget, audit.diff(before, snapshot(budget))


def describe(budget, key=None):
    """`Agent support-bot, USD a day` (for messages, the audit log and the page)."""
    key = key if key is not None else budget.key
    what = (
        "Workspace"
        if budget.scope == BudgetScope.WORKSPACE
        else f"{budget.get_scope_display()} {key or '(each)'}"
    )
    return f"{what}, {budget.get_unit_display()} a {budget.period}"
