"""A workflow's graph aggregated over the runs of a period, in a fixed number of SQL queries.

Per node (a task name): how many runs reached it, the share of those in which it failed, and the
p50 / p95 of its durations; per edge: how many runs took it. Edges follow the same rules as a single
run's inferred flow (see inference.py), computed in SQL with window functions and a recursive query,
so the cost grows with the tasks of the period and never with a loop over runs in Python. The period
is capped at the latest MAX_RUNS runs.
"""

from collections import defaultdict

from django.db import connections
from django.db.models import Case, CharField, Count, F, Max, Min, Q, When, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber

from traces.models import Run, Task

from .inference import FAN_OUT, UNREACHED, Edge, Graph, Node, definition_edges, definition_nodes

MAX_RUNS = 5000
WARN_BELOW = 0.1  # a failure rate under this shows amber, at or above it red


def task_label():
    """A task's node name: its name, or its step id when it has none (as Step.label)."""
    return Case(When(name="", then=F("step_id")), default=F("name"), output_field=CharField())


def runs_in_period(workspace, workflow, start, end):
    """The latest MAX_RUNS runs of the workflow started in [start, end): a subquery."""
    runs = Run.objects.filter(
        workspace=workspace, workflow=workflow, started_at__gte=start, started_at__lt=end
    )
    return runs.order_by("-started_at", "-id").values("id")[:MAX_RUNS]


def node_stats(scope):
    """{label: {reached, failed, visits, type, first}} over the tasks of the runs in scope."""
    rows = (
        Task.objects.filter(run__in=scope)
        .annotate(label=task_label())
        .values("label")
        .annotate(
            reached=Count("run", distinct=True),
            failed=Count("run", distinct=True, filter=Q(status="failed")),
            visits=Count("id"),
            kind=Max("type"),
            first=Min("sequence"),
        )
        .order_by("first", "label")
    )
    return {row["label"]: row for row in rows}


def duration_percentiles(scope):
    """{label: (p50, p95)} of task durations, nearest rank, picked in SQL with window functions."""
    ranked = (
        Task.objects.filter(run__in=scope, duration_ms__isnull=False)
        .annotate(
            label=task_label(),
            place=Window(RowNumber(), partition_by=[task_label()], order_by=[F("duration_ms"), F("id")]),
            size=Window(Count("id"), partition_by=[task_label()]),
        )
        # ceil(p × size) as integer arithmetic that SQLite and PostgreSQL agree on.
        .filter(Q(place=(F("size") * 50 + 99) / 100) | Q(place=(F("size") * 95 + 99) / 100))
        .values_list("label", "place", "size", "duration_ms")
    )
    result = defaultdict(lambda: [None, None])
    for label, place, size, value in ranked:
        if place == (size * 50 + 99) // 100:
            result[label][0] = value
        if place == (size * 95 + 99) // 100:
            result[label][1] = value
    return dict(result)


# The moves of the runs in scope: (run, kind, source label, target label), "flow" or "succession".
MOVES_SQL = """
WITH RECURSIVE
scope AS (
    SELECT id, run_id, parent_id, sequence, type,
           CASE WHEN name = '' THEN step_id ELSE name END AS label
    FROM tasks WHERE run_id IN ({runs})
),
siblings AS (
    SELECT c.id, c.run_id, c.parent_id, c.label, p.type AS parent_type, p.label AS parent_label,
           ROW_NUMBER() OVER (PARTITION BY c.run_id, c.parent_id ORDER BY c.sequence, c.id) AS place,
           ROW_NUMBER() OVER (
               PARTITION BY c.run_id, c.parent_id ORDER BY c.sequence DESC, c.id DESC
           ) AS place_from_end,
           LAG(c.id) OVER (PARTITION BY c.run_id, c.parent_id ORDER BY c.sequence, c.id) AS before_id
    FROM scope c LEFT JOIN scope p ON p.id = c.parent_id
),
exits(root, node) AS (
    SELECT before_id, before_id FROM siblings WHERE before_id IS NOT NULL
    UNION ALL
    SELECT e.root, c.id FROM exits e JOIN siblings c ON c.parent_id = e.node
    WHERE c.parent_type IN (%s, %s) OR c.place_from_end = 1
),
moves AS (
    SELECT run_id, 'flow' AS kind, parent_label AS source, label AS target FROM siblings
    WHERE parent_id IS NOT NULL AND (parent_type IN (%s, %s) OR place = 1)
    UNION ALL
    SELECT c.run_id, 'flow', leaf.label, c.label
    FROM siblings c
    JOIN exits e ON e.root = c.before_id
    JOIN scope leaf ON leaf.id = e.node
    WHERE (c.parent_type IS NULL OR c.parent_type NOT IN (%s, %s))
      AND NOT EXISTS (SELECT 1 FROM scope k WHERE k.parent_id = e.node)
    UNION ALL
    SELECT c.run_id, 'succession', before.label, c.label
    FROM siblings c JOIN scope before ON before.id = c.before_id
    WHERE c.parent_type IS NULL OR c.parent_type NOT IN (%s, %s)
)
"""
# Fixed SQL: the values of a move travel as parameters.
EDGES_SQL = MOVES_SQL + "SELECT kind, source, target, COUNT(DISTINCT run_id) FROM moves GROUP BY 1, 2, 3"  # noqa: S608
TAKING_SQL = MOVES_SQL + "SELECT run_id FROM moves WHERE kind = %s AND source = %s AND target = %s"  # noqa: S608
MOVE_KINDS = ("flow", "succession")


def _moves(template, scope, *extra):
    runs_sql, runs_params = scope.query.sql_with_params()
    return template.format(runs=runs_sql), [*runs_params, *sorted(FAN_OUT) * 4, *extra]


def runs_taking(scope, kind, source, target):
    """A Q of the runs of `scope` (a values("id") queryset) that made the move (kind, source, target):
    the runs a workflow graph's edge counts, for the Runs list's edge filter. Its SQL is the one that
    counted them, so the list holds exactly as many."""
    sql, params = _moves(TAKING_SQL, scope, kind, source, target)
    return Q(pk__in=RawSQL(sql, params))  # noqa: S611 (fixed SQL; values travel as parameters)


def edge_runs(scope):
    """{kind: {(source, target): runs that took it}} for kind "flow" and "succession"."""
    sql, params = _moves(EDGES_SQL, scope)
    # The runs' own database: a read replica when the request reads one (backoffice.replicas).
    with connections[scope.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = {"flow": {}, "succession": {}}
    for kind, source, target, runs in rows:
        result[kind][(source, target)] = runs
    return result


def stats_for(row, percentiles):
    reached = row["reached"] if row else 0
    p50, p95 = percentiles.get(row["label"], (None, None)) if row else (None, None)
    return {
        "label": row["label"] if row else None,  # the task name its runs are counted by
        "reached": reached,
        "failed": row["failed"] if row else 0,
        "failure_rate": (row["failed"] / reached) if reached else 0,
        "visits": row["visits"] if row else 0,
        "p50_ms": p50,
        "p95_ms": p95,
    }


def health(stats):
    """The colour class of a node across runs: reached or not, and how often it failed."""
    if not stats["reached"]:
        return UNREACHED
    if not stats["failed"]:
        return "ok"
    return "warn" if stats["failure_rate"] < WARN_BELOW else "failed"


def workflow_graph(workspace, workflow, start, end):
    """(graph, runs counted, capped?) for the workflow over [start, end). Six queries at most."""
    scope = runs_in_period(workspace, workflow, start, end)
    counted = Run.objects.filter(pk__in=scope).count()
    graph = Graph(across_runs=True)
    if not counted:
        return graph, 0, False
    nodes, percentiles, moves = node_stats(scope), duration_percentiles(scope), edge_runs(scope)
    definition = (
        Run.objects.filter(pk__in=scope, graph__isnull=False)
        .order_by("-started_at", "-id")
        .values_list("graph", flat=True)
        .first()
    )
    if definition and any(True for _ in definition_nodes(definition)):
        overlay_declared(graph, definition, nodes, percentiles, moves)
    else:
        for label, row in nodes.items():
            graph.nodes[label] = make_node(label, label, row["kind"], row, percentiles)
        graph.edges = [Edge(s, t, count=n, via=("flow", s, t)) for (s, t), n in moves["flow"].items()]
    return graph, counted, counted >= MAX_RUNS


def make_node(key, name, type_, row, percentiles):
    stats = stats_for(row, percentiles)
    return Node(
        key=key,
        name=name,
        type=type_ or "function",
        status=health(stats),
        stats=stats,
    )


def overlay_declared(graph, definition, nodes, percentiles, moves):
    """The declared workflow of the latest run, each node and edge counted over the period."""
    graph.declared = True
    aliases = {}
    for item in definition_nodes(definition):
        key, name = item["id"], item.get("name") or item["id"]
        row = nodes.get(name) or nodes.get(key)
        graph.nodes[key] = make_node(key, name, item.get("type") or (row and row["kind"]), row, percentiles)
        for alias in (key, name):
            aliases.setdefault(alias, key)
    taken = {}  # pair → (runs, the move counted)
    for kind in MOVE_KINDS:
        for (a, b), runs in moves[kind].items():
            if a in aliases and b in aliases:
                pair = (aliases[a], aliases[b])
                if runs > taken.get(pair, (0, None))[0]:
                    taken[pair] = (runs, (kind, a, b))
    for item in definition_edges(definition, graph.nodes):
        pair = (item["source"], item["target"])
        runs, via = taken.get(pair, (0, None))
        graph.edges.append(Edge(*pair, label=item["label"], taken=bool(runs), count=runs, via=via))
