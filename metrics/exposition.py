"""Prometheus figures of the backoffice, computed from the database at each scrape.

Why the database rather than counters kept in memory: the web tier is several stateless processes
(possibly on several hosts), so in-process counters would each see a slice, and ingest is idempotent
and order-independent, so counting events as they arrive would count replays and status changes
twice. The tables are the truth.

Why the daily roll-ups rather than the raw tables: a scrape comes every 15 to 60 seconds, and a GROUP BY
over tens of millions of tasks and business events takes seconds of database time each time. The
roll-ups (trace_rollups, tracked_event_rollups) are kept equal to the raw rows in every writer's
transaction, so summing their rows gives the same totals at a cost that grows with days × groups, not
with rows. The one thing they leave out is tasks without a start time, counted from the raw rows
through the index that serves cards over tasks.
"""

import time

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from backoffice.models import ApiKey, Workspace
from traces.models import Task, TaskType, TraceRollup

from .models import Dashboard, TrackedEventRollup


def _money(value):
    return float(value or 0)


def rolled_up(source, *dimensions):
    """The trace roll-ups of `source`, grouped by workspace and `dimensions`, ready for annotate().

    A key whose rows have all gone stays with n = 0 until pruned: it is left out, as the raw rows
    would not give it.
    """
    return (
        TraceRollup.objects.filter(source=source).exclude(n=0).values("workspace_id", *dimensions).order_by()
    )


class BackofficeCollector:
    """A prometheus_client collector; every collect() reads the database afresh."""

    def collect(self):
        started = time.perf_counter()
        slugs = dict(Workspace.objects.order_by().values_list("id", "slug"))

        yield GaugeMetricFamily("backoffice_workspaces", "Workspaces.", value=len(slugs))
        yield GaugeMetricFamily(
            "backoffice_users",
            "Active user accounts.",
            value=get_user_model().objects.filter(is_active=True).count(),
        )
        yield GaugeMetricFamily(
            "backoffice_api_keys", "Usable API keys.", value=ApiKey.objects.usable().count()
        )
        yield GaugeMetricFamily(
            "backoffice_dashboards", "Metric dashboards.", value=Dashboard.objects.count()
        )

        runs = CounterMetricFamily("backoffice_runs", "Runs by status.", labels=["workspace", "status"])
        run_tokens = CounterMetricFamily(
            "backoffice_run_tokens", "Tokens of runs.", labels=["workspace", "kind"]
        )
        run_cost = CounterMetricFamily(
            "backoffice_run_cost_usd", "Cost of runs in US dollars.", labels=["workspace"]
        )
        rows = rolled_up("runs", "status").annotate(
            count=Sum("n"),
            prompt=Sum("prompt_tokens_sum"),
            completion=Sum("completion_tokens_sum"),
            cost=Sum("cost_sum"),
        )
        tokens, costs = {}, {}
        for row in rows:
            workspace = slugs.get(row["workspace_id"], str(row["workspace_id"]))
            runs.add_metric([workspace, row["status"]], row["count"])
            prompt, completion = tokens.get(workspace, (0, 0))
            tokens[workspace] = (prompt + (row["prompt"] or 0), completion + (row["completion"] or 0))
            costs[workspace] = costs.get(workspace, 0.0) + _money(row["cost"])
        for workspace, (prompt, completion) in tokens.items():
            run_tokens.add_metric([workspace, "prompt"], prompt)
            run_tokens.add_metric([workspace, "completion"], completion)
            run_cost.add_metric([workspace], costs[workspace])
        yield from (runs, run_tokens, run_cost)

        tasks = CounterMetricFamily(
            "backoffice_tasks", "Tasks (steps) by status.", labels=["workspace", "status"]
        )
        tools = CounterMetricFamily(
            "backoffice_tool_calls", "Tool calls by status.", labels=["workspace", "status"]
        )
        tool = Q(type=TaskType.TOOL)
        counted = {}
        for rows in (
            rolled_up("tasks", "status").annotate(count=Sum("n"), tool=Sum("n", filter=tool)),
            # Not in the roll-ups (no day): the task_by_time index finds them, workspace by workspace.
            Task.objects.filter(workspace_id__in=list(slugs), started_at__isnull=True)
            .values("workspace_id", "status")
            .annotate(count=Count("id"), tool=Count("id", filter=tool))
            .order_by(),
        ):
            for row in rows:
                total = counted.setdefault((row["workspace_id"], row["status"]), [0, 0])
                total[0] += row["count"]
                total[1] += row["tool"] or 0
        for (workspace_id, status), (n, tool_calls) in counted.items():
            workspace = slugs.get(workspace_id, str(workspace_id))
            tasks.add_metric([workspace, status], n)
            if tool_calls:
                tools.add_metric([workspace, status], tool_calls)
        yield from (tasks, tools)

        calls = CounterMetricFamily(
            "backoffice_llm_calls", "Model calls by status.", labels=["workspace", "model", "status"]
        )
        call_tokens = CounterMetricFamily(
            "backoffice_llm_tokens", "Tokens of model calls.", labels=["workspace", "model", "kind"]
        )
        call_cost = CounterMetricFamily(
            "backoffice_llm_cost_usd", "Cost of model calls in US dollars.", labels=["workspace", "model"]
        )
        rows = rolled_up("model_calls", "model", "status").annotate(
            count=Sum("n"),
            prompt=Sum("prompt_tokens_sum"),
            completion=Sum("completion_tokens_sum"),
            cached=Sum("cached_tokens_sum"),
            cost=Sum("cost_sum"),
        )
        totals = {}
        for row in rows:
            workspace = slugs.get(row["workspace_id"], str(row["workspace_id"]))
            calls.add_metric([workspace, row["model"], row["status"]], row["count"])
            total = totals.setdefault((workspace, row["model"]), [0, 0, 0, 0.0])
            for index, name in enumerate(("prompt", "completion", "cached")):
                total[index] += row[name] or 0
            total[3] += _money(row["cost"])
        for (workspace, model), (prompt, completion, cached, cost) in totals.items():
            call_tokens.add_metric([workspace, model, "prompt"], prompt)
            call_tokens.add_metric([workspace, model, "completion"], completion)
            call_tokens.add_metric([workspace, model, "cached"], cached)
            call_cost.add_metric([workspace, model], cost)
        yield from (calls, call_tokens, call_cost)

        events = CounterMetricFamily(
            "backoffice_business_events", "Business events (track).", labels=["workspace"]
        )
        # Each event is in exactly one roll-up row (its day, name and dimensions).
        rows = TrackedEventRollup.objects.values("workspace_id").annotate(n=Sum("events")).order_by()
        for row in rows.filter(n__gt=0):
            events.add_metric([slugs.get(row["workspace_id"], str(row["workspace_id"]))], row["n"])
        yield events

        yield GaugeMetricFamily(
            "backoffice_scrape_duration_seconds",
            "Time spent computing these figures.",
            value=time.perf_counter() - started,
        )
