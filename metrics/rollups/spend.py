"""The spend roll-up (SpendRollup): cost and tokens of model calls per workspace, scope key and UTC day.

The budget check and Settings › Budgets read it (metrics.monitors.budgets): a budget's period is at
most a calendar month, so a check sums at most 31 rows of each key it names.

It follows the daily trace roll-ups: `follow` is called with the model calls every writer of them
brackets (traces.rollups.daily.follow: the fold, late GenAI records, the cost recompute, the admin,
forgetting an end user), before and after its writes, in its transaction and under the workspace lock.
So it equals a rebuild whatever the order of batches, a resent event or a run.start arriving last
(it sets the agent, the workflow and the end user). The retention purge deletes old rows without
subtracting them, as for the trace roll-ups; the roll-up's own days go with theirs.

Each statement is one INSERT … SELECT … GROUP BY (UNION ALL of the four scopes) upserting a signed
delta, keyed on (workspace, scope, key, day).
"""

from decimal import Decimal

from django.db import connection, transaction

from backoffice.models import Workspace
from metrics.models import BudgetScope, SpendRollup
from traces.locks import lock_workspace

TABLE = SpendRollup._meta.db_table
COLUMNS = ("workspace_id", "scope", "key", "day", "calls", "cost", "tokens")
# The key of each scope: SQL over the model call m, its run r and the run's agent a.
KEYS = {
    BudgetScope.WORKSPACE: "''",
    BudgetScope.AGENT: "a.agent_id",
    BudgetScope.WORKFLOW: "r.workflow",
    BudgetScope.USER: "r.user_id",
}
ROWS = "model_call_stats m JOIN runs r ON r.id = m.run_id LEFT JOIN agents a ON a.id = r.agent_id"


def _select(sign, where, vendor):
    """The signed sums of the calls `where` picks, per scope, key and day: one SELECT per scope."""
    day = "(m.created_at AT TIME ZONE 'UTC')::date" if vendor == "postgresql" else "date(m.created_at)"
    selects = []
    for scope, key in KEYS.items():
        # A call without an agent, a workflow or an end user counts for its workspace only.
        known, group = "", f"m.workspace_id, {day}"
        if scope != BudgetScope.WORKSPACE:
            known, group = f" AND {key} IS NOT NULL AND {key} <> ''", f"{group}, {key}"
        selects.append(
            f"SELECT m.workspace_id, '{scope}', {key}, {day}, {sign}COUNT(*), "  # noqa: S608 - constants
            f"{sign}COALESCE(SUM(m.cost), 0), {sign}COALESCE(SUM(m.total_tokens), 0) FROM {ROWS} "
            f"WHERE m.created_at IS NOT NULL AND {where}{known} GROUP BY {group}"
        )
    return " UNION ALL ".join(selects)


def follow(where, params, sign):
    """Add (sign "") or take away (sign "-") the model calls `where` picks (as `m`). One statement.

    Called by traces.rollups.daily for every scope its writers bracket, so ingest and every other
    writer of model calls keep this roll-up in their own transaction."""
    updates = ", ".join(f"{c} = {TABLE}.{c} + excluded.{c}" for c in ("calls", "cost", "tokens"))
    # Each scope's SELECT repeats `where`, so its parameters are repeated as well.
    sql = (
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "  # noqa: S608 - constants; ids are parameters
        f"SELECT * FROM ({_select(sign, where, connection.vendor)}) AS delta WHERE true "
        f"ON CONFLICT (workspace_id, scope, key, day) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params * len(KEYS))


def rebuild(workspace=None):
    """Recompute the roll-up from the model calls, of one workspace or of every one (the backfill
    migration, the benchmark data set). Each workspace in its own transaction, under its lock."""
    if workspace is not None:
        pks = [workspace.pk]
    else:
        pks = list(Workspace.objects.order_by("pk").values_list("pk", flat=True))
    for pk in pks:
        with transaction.atomic():
            lock_workspace(Workspace(pk=pk))
            SpendRollup.objects.filter(workspace_id=pk).delete()
            follow("m.workspace_id = %s", [pk], "")


def _normal(rows):
    """{(scope, key, day): (calls, cost, tokens)} without the rows left at 0 calls; SQLite adds
    decimals as floats, so costs are compared to 1e-9 there (PostgreSQL's are exact)."""
    places = Decimal("1e-10") if connection.vendor == "postgresql" else Decimal("1e-9")
    return {
        (scope, key, str(day)): (int(calls), Decimal(str(cost)).quantize(places), int(tokens))
        for scope, key, day, calls, cost, tokens in rows
        if calls
    }


def differences(workspace):
    """[(key, in the table, from the model calls)] where they differ; [] when current (tests)."""
    current = _normal(SpendRollup.objects.filter(workspace=workspace).values_list(*COLUMNS[1:]))
    with connection.cursor() as cursor:
        cursor.execute(_select("", "m.workspace_id = %s", connection.vendor), [workspace.pk] * len(KEYS))
        rebuilt = _normal(row[1:] for row in cursor.fetchall())
    return [
        (key, current.get(key), rebuilt.get(key))
        for key in sorted(set(current) | set(rebuilt))
        if current.get(key) != rebuilt.get(key)
    ]
