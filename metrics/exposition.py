"""Prometheus figures of the backoffice, computed from the database at each scrape.

Why aggregate queries rather than counters kept in memory: the web tier is several stateless
processes (possibly on several hosts), so in-process counters would each see a slice, and ingest
is idempotent and order-independent, so counting events as they arrive would count replays and
status changes twice. The tables are the truth. A scrape costs a handful of GROUP BY queries (one
per table), each a single pass; past tens of millions of rows, keep roll-up counters updated by
the fold instead.
"""

import time

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from backoffice.models import ApiKey, Workspace
from traces.models import ModelCall, Run, Task, TaskType

from .models import Dashboard, TrackedEvent


def _money(value):
    return float(value or 0)


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
        rows = (
            Run.objects.values("workspace_id", "status")
            .annotate(
                n=Count("id"),
                prompt=Sum("prompt_tokens"),
                completion=Sum("completion_tokens"),
                cost=Sum("cost"),
            )
            .order_by()
        )
        tokens, costs = {}, {}
        for row in rows:
            workspace = slugs.get(row["workspace_id"], str(row["workspace_id"]))
            runs.add_metric([workspace, row["status"]], row["n"])
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
        rows = (
            Task.objects.values("workspace_id", "status")
            .annotate(n=Count("id"), tool=Count("id", filter=Q(type=TaskType.TOOL)))
            .order_by()
        )
        for row in rows:
            workspace = slugs.get(row["workspace_id"], str(row["workspace_id"]))
            tasks.add_metric([workspace, row["status"]], row["n"])
            if row["tool"]:
                tools.add_metric([workspace, row["status"]], row["tool"])
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
        rows = (
            ModelCall.objects.values("workspace_id", "model", "status")
            .annotate(
                n=Count("id"),
                prompt=Sum("prompt_tokens"),
                completion=Sum("completion_tokens"),
                cached=Sum("cached_tokens"),
                cost=Sum("cost"),
            )
            .order_by()
        )
        totals = {}
        for row in rows:
            workspace = slugs.get(row["workspace_id"], str(row["workspace_id"]))
            calls.add_metric([workspace, row["model"], row["status"]], row["n"])
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
        for row in TrackedEvent.objects.values("workspace_id").annotate(n=Count("id")).order_by():
            events.add_metric([slugs.get(row["workspace_id"], str(row["workspace_id"]))], row["n"])
        yield events

        yield GaugeMetricFamily(
            "backoffice_scrape_duration_seconds",
            "Time spent computing these figures.",
            value=time.perf_counter() - started,
        )
