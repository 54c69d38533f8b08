"""The alert table a new workspace starts with, as monitors: disabled, until its first channel.

The thresholds are the ones the sources page someone at: error rate above 5 %, p95 latency above 60 s,
tool failure rate above 10 %, model call errors above 2 %, more than 1,000 active executions, cache-hit
rate under 30 %, and a cost spike: an hour's cost per run twice its mean over the day before.
"""

from ..dashboards import rule
from ..models import Aggregation, Monitor, Source, ThresholdDirection

FAILED = [rule("status", "eq", "failed")]
PRESETS = {
    "error_rate": {
        "name": "Run error rate",
        "metric": {"source": Source.RUNS, "aggregation": Aggregation.RATE, "condition": FAILED},
        "alert": 5,
    },
    "p95_latency": {
        "name": "p95 run duration",
        "metric": {"source": Source.RUNS, "aggregation": Aggregation.P95, "property": "duration_ms"},
        "alert": 60_000,
    },
    "tool_failures": {
        "name": "Tool failure rate",
        "metric": {
            "source": Source.TASKS,
            "aggregation": Aggregation.RATE,
            "filters": [rule("type", "eq", "tool")],
            "condition": FAILED,
        },
        "alert": 10,
    },
    "llm_errors": {
        "name": "Model call error rate",
        "metric": {
            "source": Source.MODEL_CALLS,
            "aggregation": Aggregation.RATE,
            "condition": [rule("status", "ne", "ok")],
        },
        "alert": 2,
    },
    "active_runs": {
        "name": "Active executions",
        "metric": {
            "source": Source.RUNS,
            "aggregation": Aggregation.COUNT,
            "filters": [rule("status", "eq", "running")],
        },
        "alert": 1000,
        "window_minutes": 24 * 60,
        "no_data": "ok",
    },
    "cache_hits": {
        "name": "Cache-hit rate",
        "metric": {
            "source": Source.MODEL_CALLS,
            "aggregation": Aggregation.RATE,
            "condition": [rule("cached_tokens", "gt", "0")],
        },
        "alert": 30,
        "direction": ThresholdDirection.BELOW,
    },
    "cost_spike": {
        "name": "Cost per run spike",
        "metric": {"source": Source.RUNS, "aggregation": Aggregation.AVG, "property": "cost"},
        "compare_windows": 24,
        "warning": 1.5,
        "alert": 2,
    },
}


def create(workspace):
    """A new workspace's preset monitors, disabled. One query."""
    Monitor.objects.bulk_create(
        Monitor(workspace=workspace, preset=preset, enabled=False, **fields)
        for preset, fields in PRESETS.items()
    )


def on_workspace_saved(sender, instance, created, raw=False, **kwargs):
    """post_save of Workspace: a new one gets the presets, in the transaction that creates it."""
    if created and not raw:
        create(instance)


def adopt(channel):
    """The workspace's first channel: its presets that still wait for one take it and start. Two
    queries (one without presets waiting)."""
    waiting = list(
        Monitor.objects.filter(workspace_id=channel.workspace_id, enabled=False, channels__isnull=True)
        .exclude(preset="")
        .only("pk")
    )
    if not waiting:
        return 0
    channel.monitors.add(*waiting)
    Monitor.objects.filter(pk__in=[monitor.pk for monitor in waiting]).update(enabled=True)
    return len(waiting)
