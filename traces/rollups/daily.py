"""Keeping the daily trace roll-ups (the trace_rollups table, model TraceRollup) current.

A writer of runs, tasks or model calls names the rows it may change, as a Scope, and brackets its
writes with two statements:

    subtract(scope)   # before: take away what those rows add to the roll-ups now
    ... its writes ...
    add(scope)        # after: add what they add once written (new rows of the scope included)

Each is ONE statement whatever the sources: an INSERT … SELECT … GROUP BY over the three tables
(UNION ALL) that upserts a signed delta, `ON CONFLICT … DO UPDATE SET n = n + excluded.n, …`. As
both statements read the same scope, the result is right by construction whatever the writes were,
and whatever the order of the batches: an event arriving late, a batch split in two or sent twice
only changes which rows the scope holds at each step. The two statements must run in the writer's
transaction, under the workspace's ingest lock (traces.locks.lock_workspace): two writers bracketing
the same rows at once would each subtract the other's state.

Scopes (see Scope):
- `runs`: those runs with all their tasks and model calls (a run's agent and workflow are dimensions
  of its tasks and calls, its end user one of the spend roll-up's): the cost recompute, the admin,
  and the ingest fold for the runs whose run.start is in the batch (it sets the agent and the
  workflow) or that get their end user from it;
- `run_rows`, `task_keys`, `call_keys`: the other runs of a batch, and only their tasks and model
  calls named by its events, so a batch costs what it holds, not what its runs hold;
- `tasks`, `calls`: those rows only.

The retention purge deletes rows without subtracting them: the days before its cutoff keep what they
summed (the dashboards' history) until the roll-ups' own retention deletes those days whole
(backoffice.retention). `differences()` therefore compares the days from the cutoff on after a purge.

Another app's roll-up over the same rows follows every subtract and add (`follow`): metrics keeps
its spend roll-up this way, so every writer above keeps it too.

`rebuild()` recomputes the table from the raw rows (the backfill migration, the benchmark data set);
`differences()` compares the table with what a rebuild would give (tests).
"""

import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction

from backoffice.models import Workspace
from traces.locks import lock_workspace
from traces.models import DURATION_BUCKETS_MS, TraceRollup

TABLE = TraceRollup._meta.db_table
DIMENSIONS = (
    "agent_pk",
    "status",
    "type",
    "name",
    "workflow",
    "model",
    "provider",
    "finish_reason",
    "error_type",
)
KEY = ("workspace_id", "source", "day", *DIMENSIONS)
# The numeric properties summed; those that may be null also get their count of non-null values.
SUMMED = (
    "duration_ms",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "model_calls",
    "attempt",
    "latency_ms",
    "ttft_ms",
    "cost",
)
NULLABLE = ("duration_ms", "latency_ms", "ttft_ms", "cost")
BUCKETS = tuple(f"duration_le_{ms}" for ms in DURATION_BUCKETS_MS)
MEASURES = ("n", *(c for p in SUMMED for c in (f"{p}_sum", *([f"{p}_count"] if p in NULLABLE else []))))
MEASURES += BUCKETS
COLUMNS = (*KEY, *MEASURES)
COST_AT = MEASURES.index("cost_sum")  # the one decimal measure
# (source key, handler) of the roll-ups that follow these writes (see follow).
_followers = []


@dataclass(frozen=True)
class Source:
    """How one raw table adds to the roll-ups: its rows, their day, dimensions and numeric columns."""

    key: str
    rows: str  # FROM …, the run joined as r for its agent and workflow
    alias: str
    time: str
    dimensions: dict  # roll-up column → SQL, or {vendor: SQL}
    sums: dict  # property → SQL
    duration: str  # SQL of the duration in ms that the histogram buckets count

    def select(self, sign, where, vendor):
        """One SELECT of signed sums per key, for the rows `where` picks."""
        day = f"({self.time} AT TIME ZONE 'UTC')::date" if vendor == "postgresql" else f"date({self.time})"
        dimensions = {
            column: sql[vendor] if isinstance(sql, dict) else sql for column, sql in self.dimensions.items()
        }
        group = [f"{self.alias}.workspace_id", day, *dimensions.values()]
        values = [f"{self.alias}.workspace_id", f"'{self.key}'", day]
        values += [dimensions.get(column, "''") for column in DIMENSIONS]
        values.append(f"{sign}COUNT(*)")
        for prop in SUMMED:
            expression = self.sums.get(prop)
            if expression is None:
                values += ["0"] * (2 if prop in NULLABLE else 1)
                continue
            values.append(f"{sign}COALESCE(SUM({expression}), 0)")
            if prop in NULLABLE:
                values.append(f"{sign}COUNT({expression})")
        values += [f"{sign}COUNT(CASE WHEN {self.duration} <= {ms} THEN 1 END)" for ms in DURATION_BUCKETS_MS]
        return (
            f"SELECT {', '.join(values)} FROM {self.rows} "  # noqa: S608 - constants of this module
            f"WHERE {self.time} IS NOT NULL AND {where} GROUP BY {', '.join(group)}"
        )


AGENT = "COALESCE(r.agent_id, 0)"
# The `type` of a model call's error object (a plain-text error has none), cut to the column.
ERROR_TYPE = {
    "postgresql": "COALESCE(SUBSTR(m.error ->> 'type', 1, 64), '')",
    "sqlite": "COALESCE(SUBSTR(CAST(json_extract(m.error, '$.type') AS TEXT), 1, 64), '')",
}
SOURCES = {
    "runs": Source(
        key="runs",
        rows="runs r",
        alias="r",
        time="r.started_at",
        dimensions={"agent_pk": AGENT, "status": "r.status", "workflow": "r.workflow"},
        sums={
            "duration_ms": "r.duration_ms",
            "total_tokens": "r.total_tokens",
            "prompt_tokens": "r.prompt_tokens",
            "completion_tokens": "r.completion_tokens",
            "model_calls": "r.model_calls",
            "cost": "r.cost",
        },
        duration="r.duration_ms",
    ),
    "tasks": Source(
        key="tasks",
        rows="tasks t JOIN runs r ON r.id = t.run_id",
        alias="t",
        time="t.started_at",
        dimensions={
            "agent_pk": AGENT,
            "status": "t.status",
            "type": "t.type",
            "name": "t.name",
            "workflow": "r.workflow",
        },
        sums={
            "duration_ms": "t.duration_ms",
            "total_tokens": "t.total_tokens",
            "cost": "t.cost",
            "attempt": "t.attempt",
        },
        duration="t.duration_ms",
    ),
    "model_calls": Source(
        key="model_calls",
        rows="model_call_stats m JOIN runs r ON r.id = m.run_id",
        alias="m",
        time="m.created_at",
        dimensions={
            "agent_pk": AGENT,
            "status": "m.status",
            "model": "m.model",
            "provider": "m.provider",
            "finish_reason": "m.finish_reason",
            "workflow": "r.workflow",
            "error_type": ERROR_TYPE,
        },
        sums={
            "total_tokens": "m.total_tokens",
            "prompt_tokens": "m.prompt_tokens",
            "completion_tokens": "m.completion_tokens",
            "cached_tokens": "m.cached_tokens",
            "latency_ms": "m.latency_ms",
            "ttft_ms": "m.ttft_ms",
            "cost": "m.cost",
        },
        duration="m.latency_ms",
    ),
}


@dataclass(frozen=True)
class Scope:
    """The rows a writer may change. A row may be named more than once: it counts once.

    - runs: run pks, with all their tasks and model calls;
    - run_rows: run pks, their own row only;
    - tasks, calls: task and model-call pks;
    - task_keys: (run pk, step_id) pairs; call_keys: (run pk, call_id) pairs.
    """

    runs: tuple = ()
    run_rows: tuple = ()
    tasks: tuple = ()
    calls: tuple = ()
    task_keys: tuple = ()
    call_keys: tuple = ()

    @classmethod
    def of(cls, **parts):
        return cls(**{name: tuple(sorted(set(values))) for name, values in parts.items()})

    def __bool__(self):
        return any(getattr(self, name) for name in self.__dataclass_fields__)


def _in(column, ids, vendor):
    """`column` is one of `ids`, with the ids as ONE parameter whatever their number."""
    if vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]  # noqa: S608


def _pair_in(run_column, key_column, pairs, vendor):
    """(run_column, key_column) is one of the (run pk, text) `pairs`: served by the unique index."""
    if vendor == "postgresql":
        runs, keys = zip(*pairs, strict=True)
        sql = f"({run_column}, {key_column}) IN (SELECT * FROM unnest(%s::bigint[], %s::text[]))"  # noqa: S608
        return sql, [list(runs), list(keys)]
    sql = (
        f"({run_column}, {key_column}) IN "  # noqa: S608
        "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(%s))"
    )
    return sql, [json.dumps([list(pair) for pair in pairs])]


def _picks(scope, vendor):
    """{source key: (WHERE, params)} picking, as the source's alias, the rows of the scope.

    A source named in several ways picks its rows by `id IN (one subquery per way, UNION ALL)`: a
    row named twice is still picked once, and each way keeps its own index (an OR of them would
    not: PostgreSQL scans the whole table for `a = ANY(…) OR (a, b) IN (SELECT …)`)."""
    ways = {
        "runs": [(_in, ("id", sorted(set(scope.runs + scope.run_rows))))],
        "tasks": [
            (_in, ("run_id", scope.runs)),
            (_in, ("id", scope.tasks)),
            (_pair_in, ("run_id", "step_id", scope.task_keys)),
        ],
        "model_calls": [
            (_in, ("run_id", scope.runs)),
            (_in, ("id", scope.calls)),
            (_pair_in, ("run_id", "call_id", scope.call_keys)),
        ],
    }
    picked = {}
    for key, options in ways.items():
        source = SOURCES[key]
        table = source.rows.split()[0]
        picks, params = [], []
        for build, (*columns, values) in options:
            if values:
                where, more = build(*columns, values, vendor)
                picks.append(f"SELECT id FROM {table} WHERE {where}")  # noqa: S608 - constants
                params += more
        if picks:
            picked[key] = (f"{source.alias}.id IN ({' UNION ALL '.join(picks)})", params)
    return picked


def _union(parts):
    """The (SELECT, params) parts as one SELECT and its params."""
    return " UNION ALL ".join(sql for sql, _ in parts), [param for _, params in parts for param in params]


def _upsert(parts):
    """One statement that adds the signed rows of all the SELECTs into the table."""
    union, params = _union(parts)
    updates = ", ".join(f"{c} = {TABLE}.{c} + excluded.{c}" for c in MEASURES)
    # `WHERE true`: SQLite cannot otherwise tell an upsert's ON from a join's.
    # Every name is a constant of this module; ids travel as parameters.
    sql = (
        f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT * FROM ({union}) AS delta WHERE true "  # noqa: S608
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"
    )
    return sql, params


def _apply(scope, sign):
    if not scope:
        return
    vendor = connection.vendor
    picked = _picks(scope, vendor)
    # One SELECT per source, so that no key comes twice out of one upsert (PostgreSQL refuses to
    # update a row twice in one statement).
    parts = [(SOURCES[key].select(sign, where, vendor), params) for key, (where, params) in picked.items()]
    sql, params = _upsert(parts)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for source, handler in _followers:
        if source in picked:
            handler(*picked[source], sign)


def follow(source, handler):
    """Have handler(where, params, sign) called by every subtract and add, in the same transaction
    and after this module's own statement, with `where` picking the scope's rows of `source` (as
    its alias: `m` for model calls) and `sign` "-" or "". For the roll-ups other apps keep over the
    same rows (metrics' spend roll-up), which traces does not import."""
    _followers.append((source, handler))


def subtract(scope):
    """Before writing: take away the scope's rows as they are. One statement."""
    _apply(scope, "-")


def add(scope):
    """After writing: add the scope's rows as they are now. One statement."""
    _apply(scope, "")


def _whole(workspace_pk, vendor):
    """(SELECT, params) per source for every row of a workspace."""
    return [
        (source.select("", f"{source.alias}.workspace_id = %s", vendor), [workspace_pk])
        for source in SOURCES.values()
    ]


def rebuild(workspace=None):
    """Recompute the roll-ups of a workspace, or of every workspace, from the raw rows.

    Each workspace in its own transaction under its ingest lock, so ingest may go on meanwhile.
    """
    if workspace is not None:
        pks = [workspace.pk]
    else:
        # Only the keys: the backfill migration calls this, before any later column of workspaces exists.
        pks = list(Workspace.objects.order_by("pk").values_list("pk", flat=True))
    for pk in pks:
        with transaction.atomic():
            lock_workspace(Workspace(pk=pk))
            union, params = _union(_whole(pk, connection.vendor))
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {TABLE} WHERE workspace_id = %s", [pk])  # noqa: S608
                cursor.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) {union}", params)  # noqa: S608


def prune(workspace):
    """Delete the rows whose count came down to 0 (readers ignore them; this keeps the table small)."""
    return TraceRollup.objects.filter(workspace=workspace, n=0).delete()[0]


# -- comparing with the raw rows (tests) ---------------------------------------------------------


def _normal(row):
    """A row as comparable values: the day as text, counts as int, the cost at the column's precision.

    SQLite adds decimals as floats: its costs are compared to 1e-9 (PostgreSQL's are exact)."""
    key, measures = row[: len(KEY)], row[len(KEY) :]
    key = (key[0], key[1], str(key[2]), int(key[3]), *key[4:])
    cost = Decimal(str(measures[COST_AT])).quantize(Decimal("1e-10"))
    if connection.vendor != "postgresql":
        cost = cost.quantize(Decimal("1e-9"))
    return key, tuple(cost if at == COST_AT else int(m) for at, m in enumerate(measures))


def current_rows(workspace):
    """The table's rows of a workspace, those with n = 0 left out: {key: measures}."""
    rows = TraceRollup.objects.filter(workspace=workspace).exclude(n=0).values_list(*COLUMNS)
    return dict(_normal(row) for row in rows)


def rebuilt_rows(workspace):
    """The rows rebuild() would write for a workspace, without writing them: {key: measures}."""
    with connection.cursor() as cursor:
        cursor.execute(*_union(_whole(workspace.pk, connection.vendor)))
        return dict(_normal(row) for row in cursor.fetchall())


def differences(workspace):
    """[(key, in the table, from the raw rows)] for every key where they differ; [] when current."""
    current, rebuilt = current_rows(workspace), rebuilt_rows(workspace)
    return [
        (key, current.get(key), rebuilt.get(key))
        for key in sorted(set(current) | set(rebuilt), key=repr)
        if current.get(key) != rebuilt.get(key)
    ]
