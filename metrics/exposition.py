"""Prometheus figures of the backoffice, computed from the database at each scrape.

Why the database rather than counters kept in memory: the web tier is several stateless processes
(possibly on several hosts), so in-process counters would each see a slice, and ingest is idempotent
and order-independent, so counting events as they arrive would count replays and status changes
twice. The tables are the truth.

Why the daily roll-ups rather than the raw tables: a scrape comes every 15 to 60 seconds, and a GROUP BY
over tens of millions of tasks and business events takes seconds of database time each time. The
roll-ups (trace_rollups, tracked_event_rollups) are kept equal to the raw rows in every writer's
transaction (the retention purge leaves them the days whose rows it deleted), so summing their rows gives
the same totals at a cost that grows with days × groups, not with rows. The one thing they leave out is
tasks without a start time, counted from the raw rows through the index that serves cards over tasks.

The durations are histograms with the roll-ups' buckets (traces.models.DURATION_BUCKETS_MS), labelled
by workspace, agent (its agent_id) and workflow. So that a workspace with thousands of agents or
workflows cannot flood Prometheus, each workspace shows its TOP agents and TOP workflows by runs under
their own names and folds the rest into "other" (tools, in the per-tool counters, and LLM error types
likewise): at most (TOP + 1)² agent × workflow pairs per workspace and histogram.
"""

import time
from collections import Counter
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from backoffice import worker
from backoffice.models import ApiKey, Workspace
from traces.models import (
    DURATION_BUCKETS_MS,
    Agent,
    Exporter,
    RunStatus,
    Task,
    TaskStatus,
    TaskType,
    TraceRollup,
)
from traces.rollups.daily import BUCKETS

from .models import Dashboard, TrackedEventRollup

TOP = 10
OTHER = "other"
# How a gate's task status reads as the outcome of its request. A gate that ended without a decision
# (its step failed or was skipped: what an engine records when nobody answered in time) timed out.
GATE_OUTCOMES = {
    TaskStatus.APPROVED: "approved",
    TaskStatus.REJECTED: "rejected",
    TaskStatus.FAILED: "timed_out",
    TaskStatus.SKIPPED: "timed_out",
}
DURATIONS = [Sum(column) for column in BUCKETS]


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

        yield from RunFigures(slugs).collect()
        yield from exporter_figures(slugs)

        jobs = worker.status()
        yield GaugeMetricFamily(
            "backoffice_worker_queue_depth", "Background jobs waiting for a worker.", value=jobs["queued"]
        )
        yield GaugeMetricFamily(
            "backoffice_worker_failures", "Failed background jobs (those kept).", value=jobs["failures"]
        )
        if jobs["last_heartbeat"]:
            yield GaugeMetricFamily(
                "backoffice_worker_heartbeat_timestamp_seconds",
                "When a worker last reported itself alive (seconds since the epoch).",
                value=datetime.fromisoformat(jobs["last_heartbeat"]).timestamp(),
            )

        yield GaugeMetricFamily(
            "backoffice_scrape_duration_seconds",
            "Time spent computing these figures.",
            value=time.perf_counter() - started,
        )


def exporter_figures(slugs):
    """Each trace exporter's backlog (runs waiting to be sent) and the times of its last success and
    last error (0 when none yet), labelled by workspace and exporter name. One query."""
    labels = ["workspace", "exporter"]
    backlog = GaugeMetricFamily("backoffice_exporter_backlog", "Runs waiting to be exported.", labels=labels)
    success = GaugeMetricFamily(
        "backoffice_exporter_last_success_timestamp_seconds", "When an export last succeeded.", labels=labels
    )
    error = GaugeMetricFamily(
        "backoffice_exporter_last_error_timestamp_seconds", "When an export last failed.", labels=labels
    )
    rows = Exporter.objects.values("id", "workspace_id", "name", "last_success_at", "last_error_at")
    for row in rows.annotate(waiting=Count("items")).order_by("id"):
        names = [slugs.get(row["workspace_id"], str(row["workspace_id"])), row["name"]]
        backlog.add_metric(names, row["waiting"])
        for family, at in ((success, row["last_success_at"]), (error, row["last_error_at"])):
            family.add_metric(names, at.timestamp() if at else 0)
    return backlog, success, error


def top(counts):
    """The TOP keys of a Counter with the highest counts (ties by key, so every scrape agrees)."""
    return {key for key, _ in sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:TOP]}


def durations(queryset, total, sum_column):
    """The roll-up rows of `queryset` with their histogram: n, the bucket counts, the +Inf count and
    the sum (ms) of the duration that `total` and `sum_column` name."""
    buckets = {f"le_{index}": aggregate for index, aggregate in enumerate(DURATIONS)}
    return queryset.annotate(count=Sum("n"), total=Sum(total), ms=Sum(sum_column), **buckets)


class RunFigures:
    """What every deployment should watch about its agents: durations of runs, steps, tools and model
    calls, runs in progress, model errors by type, gate outcomes, tool calls and failures by tool.
    Four queries over the roll-ups whatever the rows."""

    def __init__(self, slugs):
        self.slugs = slugs

    def workspace(self, pk):
        return self.slugs.get(pk, str(pk))

    def collect(self):
        # The agent's own id labels it: names change and repeat. Joined here, one value per agent_pk.
        agent_key = Subquery(Agent.objects.filter(pk=OuterRef("agent_pk")).values("agent_id"))
        by_agent = rolled_up("runs", "agent_pk", "workflow", "status").annotate(agent_key=agent_key)
        runs = list(durations(by_agent, "duration_ms_count", "duration_ms_sum"))
        tasks = list(
            durations(
                rolled_up("tasks", "agent_pk", "workflow", "type", "status"),
                "duration_ms_count",
                "duration_ms_sum",
            )
        )
        calls = list(
            durations(
                rolled_up("model_calls", "agent_pk", "workflow", "status", "error_type"),
                "latency_ms_count",
                "latency_ms_sum",
            )
        )
        tools = list(rolled_up("tasks", "name", "status").filter(type=TaskType.TOOL).annotate(count=Sum("n")))
        self.rank(runs)
        yield self.histogram("backoffice_run_duration_seconds", "Duration of ended runs.", runs)
        steps = [row for row in tasks if row["type"] != TaskType.TOOL]
        yield self.histogram(
            "backoffice_step_duration_seconds", "Duration of ended steps (tasks that are not tools).", steps
        )
        tool_rows = [row for row in tasks if row["type"] == TaskType.TOOL]
        yield self.histogram("backoffice_tool_duration_seconds", "Duration of ended tool calls.", tool_rows)
        yield self.histogram("backoffice_llm_duration_seconds", "Latency of model calls.", calls)
        yield self.running(runs)
        yield self.llm_errors(calls)
        yield self.gates(tasks)
        yield from self.by_tool(tools)

    def rank(self, runs):
        """Each workspace's TOP agents and workflows by runs, and the agent ids the runs' rows carry."""
        agents, workflows = Counter(), Counter()
        for row in runs:
            agents[row["workspace_id"], row["agent_pk"]] += row["count"]
            workflows[row["workspace_id"], row["workflow"]] += row["count"]
        self.top_agents = self.per_workspace(agents)
        self.top_workflows = self.per_workspace(workflows)
        self.agent_ids = {row["agent_pk"]: row["agent_key"] for row in runs}

    @staticmethod
    def per_workspace(counts):
        grouped = {}
        for (workspace_id, key), n in counts.items():
            grouped.setdefault(workspace_id, Counter())[key] = n
        return {(workspace_id, key) for workspace_id, found in grouped.items() for key in top(found)}

    def labels(self, row):
        ws = row["workspace_id"]
        agent = row["agent_pk"]
        if (ws, agent) not in self.top_agents:
            agent = OTHER
        else:
            agent = self.agent_ids.get(agent, "none") if agent else "none"
        workflow = row["workflow"] if (ws, row["workflow"]) in self.top_workflows else OTHER
        return self.workspace(ws), agent, workflow or "none"

    def histogram(self, name, documentation, rows):
        family = HistogramMetricFamily(name, documentation, labels=["workspace", "agent", "workflow"])
        merged = {}
        for row in rows:
            if not row["total"]:
                continue
            values = merged.setdefault(self.labels(row), [0] * (len(BUCKETS) + 2))
            for index in range(len(BUCKETS)):
                values[index] += row[f"le_{index}"] or 0
            values[-2] += row["total"]
            values[-1] += row["ms"] or 0
        for labels, values in sorted(merged.items()):
            buckets = [(str(ms / 1000), values[index]) for index, ms in enumerate(DURATION_BUCKETS_MS)]
            buckets.append(("+Inf", values[-2]))
            family.add_metric(list(labels), buckets, values[-1] / 1000)
        return family

    def running(self, runs):
        family = GaugeMetricFamily(
            "backoffice_runs_running", "Runs in progress now.", labels=["workspace", "agent", "workflow"]
        )
        for labels, n in self.summed(runs, lambda row: row["status"] == RunStatus.RUNNING).items():
            family.add_metric(list(labels), n)
        return family

    def summed(self, rows, keep):
        totals = Counter()
        for row in rows:
            if keep(row):
                totals[self.labels(row)] += row["count"]
        return dict(sorted(totals.items()))

    def llm_errors(self, calls):
        family = CounterMetricFamily(
            "backoffice_llm_errors", "Failed model calls by error type.", labels=["workspace", "error_type"]
        )
        failed = Counter()
        for row in calls:
            if row["status"] != "ok":
                failed[row["workspace_id"], row["error_type"] or "unknown"] += row["count"]
        self.add_top(family, failed)
        return family

    def gates(self, tasks):
        family = CounterMetricFamily(
            "backoffice_gate_requests",
            "Decided approval gates by outcome (approved, rejected, timed_out).",
            labels=["workspace", "outcome"],
        )
        outcomes = Counter()
        for row in tasks:
            if row["type"] == TaskType.GATE and row["status"] in GATE_OUTCOMES:
                outcomes[self.workspace(row["workspace_id"]), GATE_OUTCOMES[row["status"]]] += row["count"]
        for labels, n in sorted(outcomes.items()):
            family.add_metric(list(labels), n)
        return family

    def by_tool(self, rows):
        calls = CounterMetricFamily(
            "backoffice_tool_invocations", "Tool calls by tool.", labels=["workspace", "tool"]
        )
        failures = CounterMetricFamily(
            "backoffice_tool_failures", "Failed tool calls by tool.", labels=["workspace", "tool"]
        )
        called, failed = Counter(), Counter()
        for row in rows:
            called[row["workspace_id"], row["name"]] += row["count"]
            if row["status"] == TaskStatus.FAILED:
                failed[row["workspace_id"], row["name"]] += row["count"]
        kept = self.add_top(calls, called)
        self.add_top(failures, failed, kept)
        return calls, failures

    def add_top(self, family, counts, kept=None):
        """Each workspace's TOP keys by count under their names, the others summed as "other" (or the
        keys of `kept`, so failures by tool name the same tools as calls). Returns the keys shown."""
        kept = kept if kept is not None else self.per_workspace(counts)
        shown = Counter()
        for (workspace_id, key), n in counts.items():
            shown[self.workspace(workspace_id), key if (workspace_id, key) in kept else OTHER] += n
        for labels, n in sorted(shown.items()):
            family.add_metric(list(labels), n)
        return kept
