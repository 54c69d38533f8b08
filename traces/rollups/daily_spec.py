"""What the daily trace roll-ups (trace_rollups, traces.models.TraceRollup) can answer, for readers.

The metrics engine may read a card over runs, tasks or model calls from the roll-ups instead of the
raw rows when `covers(...)` says every property the card uses is in them. The property keys are those
of metrics/sources.py (the card's `property`, `breakdown` and the `property` of its filter and
condition rules); the source keys are metrics.models.Source values. (`traces` does not import
`metrics`: the keys are repeated here, and tests/traces/test_trace_rollups.py checks they agree.)

How a covered card reads the roll-ups:
- rows: `trace_rollups WHERE workspace_id = %s AND source = %s AND day >= %s AND day < %s AND n <> 0`
  (served by the unique key's prefix). A row with n = 0 is a key whose rows all went: ignore it.
- time: `day` is the UTC date of the row's time column (runs.started_at, tasks.started_at,
  model_call_stats.created_at). Whole UTC days inside the period come from here; the parts of the
  first and last days that the period only partly covers must still come from the raw rows (the
  same card, restricted to those hours), then the two are added up. Day, week (Monday) and month
  buckets are unions of whole days; hour buckets are not covered.
- a dimension's value is the roll-up column named in DIMENSIONS, except `agent`, which is the
  agent's name: `LEFT JOIN agents ON agents.id = trace_rollups.agent_pk` (agent_pk 0 joins nothing,
  as a run without an agent gives NULL on the raw path). Every filter and condition operator of
  the engine (eq, ne, contains, set, not_set, and the numeric ones, which never match a text
  column) is a function of that value alone, so it evaluates per roll-up row exactly as per raw row.
- aggregations: count → SUM(n); rate → SUM(n of rows meeting the condition) / SUM(n); sum of a
  numeric property → SUM(its `sum` column); avg → SUM(sum column) / SUM(its `count` column) (which
  is `n` for properties that are never null); distinct count of a dimension → COUNT(DISTINCT value)
  over rows with n <> 0. min, max and the percentiles are not covered, nor any JSON property
  (`metadata.<key>`), nor a filter on a numeric property (`duration_ms > 1000`).
- the top-N breakdown ranks groups by COUNT(*) (→ SUM(n)) or by SUM(v) (→ SUM(sum column)).

Sums are exact (integers; cost as numeric(30, 10) on PostgreSQL). The raw path sums float casts of
each value, so a result from here equals it to floating-point precision.
"""

from dataclasses import dataclass

SOURCES = ("runs", "tasks", "model_calls")
# Aggregations (metrics.models.Aggregation values) that add up from per-key counts and sums.
AGGREGATIONS = ("count", "rate", "sum", "avg", "distinct_count")
BUCKETS = ("day", "week", "month")


@dataclass(frozen=True)
class Measure:
    """A numeric property: the column of its sum and the column of its non-null count."""

    sum: str
    count: str


def _measure(prop, nullable=False):
    return Measure(sum=f"{prop}_sum", count=f"{prop}_count" if nullable else "n")


# Property key → roll-up column, per source. `agent` is the agent's primary key (join agents).
DIMENSIONS = {
    "runs": {"status": "status", "agent": "agent_pk", "workflow": "workflow"},
    "tasks": {
        "status": "status",
        "type": "type",
        "name": "name",
        "agent": "agent_pk",  # the agent of the task's run
        "workflow": "workflow",  # the workflow of the task's run
    },
    "model_calls": {
        "model": "model",
        "provider": "provider",
        "status": "status",
        "finish_reason": "finish_reason",
        "agent": "agent_pk",  # the agent of the call's run
    },
}
MEASURES = {
    "runs": {
        "duration_ms": _measure("duration_ms", nullable=True),
        "total_tokens": _measure("total_tokens"),
        "prompt_tokens": _measure("prompt_tokens"),
        "completion_tokens": _measure("completion_tokens"),
        "model_calls": _measure("model_calls"),
        "cost": _measure("cost", nullable=True),
    },
    "tasks": {
        "duration_ms": _measure("duration_ms", nullable=True),
        "total_tokens": _measure("total_tokens"),
        "cost": _measure("cost", nullable=True),
        "attempt": _measure("attempt"),
    },
    "model_calls": {
        "total_tokens": _measure("total_tokens"),
        "prompt_tokens": _measure("prompt_tokens"),
        "completion_tokens": _measure("completion_tokens"),
        "cached_tokens": _measure("cached_tokens"),
        "latency_ms": _measure("latency_ms", nullable=True),
        "ttft_ms": _measure("ttft_ms", nullable=True),
        "cost": _measure("cost", nullable=True),
    },
}


def covers(source, aggregation, prop="", breakdown="", rules=(), bucket=None):
    """Can a card with these settings be read from the roll-ups (whole days of its period)?

    `prop` is the card's property (numeric for sum/avg, a dimension for distinct count), `rules`
    its filter and condition rules ({"property": …, "operator": …}), `bucket` its chart bucket
    (None for figures).
    """
    if source not in SOURCES or aggregation not in AGGREGATIONS:
        return False
    if bucket is not None and bucket not in BUCKETS:
        return False
    dimensions, measures = DIMENSIONS[source], MEASURES[source]
    if aggregation in ("sum", "avg") and prop not in measures:
        return False
    if aggregation == "distinct_count" and prop not in dimensions:
        return False
    if breakdown and breakdown not in dimensions:
        return False
    return all(rule.get("property") in dimensions for rule in rules)
