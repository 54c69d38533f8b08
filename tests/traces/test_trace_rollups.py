"""The daily trace roll-ups: every writer keeps them equal to a rebuild from the raw rows, and they give
the default dashboard cards' numbers. (The fold under any order, split or resend of batches:
tests/traces/test_ingest_order.py; purge: tests/backoffice/test_purge.py.)"""

from datetime import timedelta
from decimal import Decimal

from django.contrib import admin
from django.db.models import Q, Sum
from django.test import RequestFactory, TestCase

from backoffice import cost_recompute
from metrics.dashboards import DEFAULT_CARDS
from metrics.engine import evaluate
from metrics.models import DashboardCard, TimeRange
from metrics.sources import SOURCES as CARD_SOURCES
from tests.events import BASE, event, workflow_run
from tests.factories import make_workspace
from traces.ingest import ingest_batch
from traces.models import Agent, ModelCall, ModelPrice, Run, Task, TraceRollup
from traces.rollups import daily as trace_rollups
from traces.rollups import daily_spec as rollup_spec

DAY = 86400  # seconds: tests/events.py times are seconds after BASE, 09:00 UTC


def extra_failures(run_id, at):
    """A failed tool call and a failed model call, so the rate cards have something to count."""
    return [
        event("tool.call", {"run_id": run_id, "step_id": f"{run_id}-t", "tool": "charge"}, at=at),
        event("tool.failed", {"run_id": run_id, "step_id": f"{run_id}-t", "error": "declined"}, at=at + 1),
        event(
            "llm.call",
            {"run_id": run_id, "model": "gpt-4o-mini", "status": "error", "error": "overloaded", "cost": "0"},
            at=at + 2,
        ),
    ]


def seed(workspace):
    """Runs on two days, one failed with a failed tool call and model call, sent in three batches."""
    first = workflow_run("r-1", steps=2)
    second = workflow_run("r-2", steps=3, fail=True, start=DAY) + extra_failures("r-2", DAY + 3)
    ingest_batch(workspace, first[5:] + second[:9])
    ingest_batch(workspace, second[9:])
    ingest_batch(workspace, first[:5])


class RebuildTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        seed(cls.workspace)

    def test_ingest_left_the_rows_a_rebuild_gives(self):
        self.assertEqual(trace_rollups.differences(self.workspace), [])
        self.assertEqual(
            TraceRollup.objects.filter(workspace=self.workspace, source="runs").aggregate(n=Sum("n"))["n"], 2
        )

    def test_rebuild_restores_a_lost_or_damaged_table(self):
        TraceRollup.objects.filter(workspace=self.workspace, source="tasks").update(n=99)
        TraceRollup.objects.filter(workspace=self.workspace, source="runs").delete()
        self.assertNotEqual(trace_rollups.differences(self.workspace), [])
        expected = trace_rollups.rebuilt_rows(self.workspace)
        trace_rollups.rebuild()
        self.assertEqual(trace_rollups.current_rows(self.workspace), expected)
        trace_rollups.rebuild(self.workspace)
        self.assertEqual(trace_rollups.current_rows(self.workspace), expected)

    def test_deleting_the_workspace_deletes_its_rollups(self):
        other = make_workspace()
        seed(other)
        other.delete()
        self.assertTrue(TraceRollup.objects.filter(workspace=self.workspace).exists())
        self.assertFalse(TraceRollup.objects.exclude(workspace=self.workspace).exists())

    def test_a_batch_without_runs_costs_no_rollup_statement(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            ingest_batch(self.workspace, [event("track", {"name": "signup"})])
        self.assertFalse([q for q in queries.captured_queries if "trace_rollups" in q["sql"]])

    def test_a_row_named_twice_in_a_scope_counts_once(self):
        run = Run.objects.get(run_id="r-2")
        tasks = list(run.tasks.values_list("pk", "step_id"))
        calls = list(ModelCall.objects.filter(run=run).values_list("pk", "call_id"))
        trace_rollups.subtract(
            trace_rollups.Scope.of(
                runs=[run.pk],
                run_rows=[run.pk],
                tasks=[pk for pk, _ in tasks],
                task_keys=[(run.pk, step) for _, step in tasks],
                calls=[pk for pk, _ in calls],
                call_keys=[(run.pk, call) for _, call in calls],
            )
        )
        trace_rollups.add(trace_rollups.Scope.of(runs=[run.pk]))
        self.assertEqual(trace_rollups.differences(self.workspace), [])


class CostRecomputeTests(TestCase):
    def test_recomputed_costs_reach_the_rollups(self):
        workspace = make_workspace()
        price = ModelPrice.objects.create(
            workspace=workspace, model_pattern="house-model", input_per_million=10, output_per_million=20
        )
        calls = [
            event(
                "llm.call",
                {"run_id": "r", "model": "house-model", "prompt_tokens": 1000, "completion_tokens": 500},
                at=n,
            )
            for n in range(3)
        ]
        ingest_batch(workspace, [event("run.start", {"run_id": "r"}), *calls])
        price.input_per_million = 30
        price.save()
        job = cost_recompute.start(
            workspace, None, BASE.date() - timedelta(days=10), BASE.date() + timedelta(days=10)
        )
        while job.status != "done":
            job = cost_recompute.step(job.pk, workspace, batch=2)
        self.assertEqual(trace_rollups.differences(workspace), [])
        rollup = TraceRollup.objects.get(workspace=workspace, source="model_calls")
        self.assertEqual(rollup.cost_sum, 3 * Decimal("0.04"))  # 1000 × $30/M + 500 × $20/M each
        self.assertEqual(
            TraceRollup.objects.get(workspace=workspace, source="runs").cost_sum, rollup.cost_sum
        )


class AdminTests(TestCase):
    """Edits and deletions in the admin go through the same bracket as the fold."""

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        seed(cls.workspace)

    def setUp(self):
        self.request = RequestFactory().post("/")

    def model_admin(self, model):
        return admin.site._registry[model]

    def test_editing_a_task_and_moving_it_to_another_run(self):
        task = Task.objects.get(step_id="r-1-step-0")
        task.status, task.run = "failed", Run.objects.get(run_id="r-2")
        self.model_admin(Task).save_model(self.request, task, None, True)
        self.assertEqual(trace_rollups.differences(self.workspace), [])

    def test_editing_a_run_moves_its_tasks_and_calls(self):
        run = Run.objects.get(run_id="r-1")
        run.workflow, run.agent = "renamed", None
        self.model_admin(Run).save_model(self.request, run, None, True)
        self.assertEqual(trace_rollups.differences(self.workspace), [])
        self.assertTrue(TraceRollup.objects.filter(source="tasks", workflow="renamed", agent_pk=0).exists())

    def test_deleting_runs_calls_and_agents(self):
        self.model_admin(ModelCall).delete_model(self.request, ModelCall.objects.filter(run__run_id="r-2")[0])
        self.model_admin(Run).delete_queryset(self.request, Run.objects.filter(run_id="r-1"))
        self.model_admin(Agent).delete_model(self.request, Agent.objects.get(workspace=self.workspace))
        self.assertEqual(trace_rollups.differences(self.workspace), [])
        self.assertEqual(set(TraceRollup.objects.exclude(n=0).values_list("agent_pk", flat=True)), {0})


class ReadSideTests(TestCase):
    """rollup_spec describes the roll-ups well enough to give the engine's numbers for whole days."""

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        seed(cls.workspace)

    def test_the_spec_names_properties_of_metrics_sources(self):
        for source in rollup_spec.SOURCES:
            columns = {column.key: column for column in CARD_SOURCES[source].columns}
            for key in rollup_spec.DIMENSIONS[source]:
                self.assertFalse(columns[key].numeric, (source, key))
            for key, measure in rollup_spec.MEASURES[source].items():
                self.assertTrue(columns[key].numeric, (source, key))
                for column in (measure.sum, measure.count):
                    TraceRollup._meta.get_field(column)
            # Every column of the source is covered but the end user (too many values to summarise).
            covered = set(rollup_spec.DIMENSIONS[source]) | set(rollup_spec.MEASURES[source])
            self.assertEqual(set(columns) - covered, {"user_id"} if source == "runs" else set())

    def test_the_default_trace_cards_are_covered_but_the_percentile(self):
        covered = {
            card["title"]: rollup_spec.covers(
                card["source"],
                card.get("aggregation", "count"),
                card.get("property", ""),
                card.get("breakdown", ""),
                [*card.get("filters", []), *card.get("condition", [])],
                card.get("bucket", "day") if card["kind"] in ("line", "bar") else None,
            )
            for card in DEFAULT_CARDS
            if card["source"] in rollup_spec.SOURCES
        }
        self.assertEqual([title for title, ok in covered.items() if not ok], ["p95 run duration"])

    def rows(self, source, **filters):
        return (
            TraceRollup.objects.filter(workspace=self.workspace, source=source, **filters)
            .exclude(n=0)
            .filter(day__gte=BASE.date(), day__lte=BASE.date() + timedelta(days=1))
        )

    def evaluate(self, title):
        fields = next(card for card in DEFAULT_CARDS if card["title"] == title)
        card = DashboardCard(**fields)
        return evaluate(
            card,
            self.workspace,
            time_range=TimeRange.CUSTOM,
            custom_start=BASE.date(),
            custom_end=BASE.date() + timedelta(days=1),
        )

    def test_rates_from_the_rollups_equal_the_engines(self):
        tools = self.rows("tasks", type="tool").aggregate(
            rows=Sum("n"), hits=Sum("n", filter=Q(status="failed"))
        )
        result = self.evaluate("Tool failure rate")
        self.assertEqual((result.numerator, result.denominator), (tools["hits"], tools["rows"]))
        self.assertEqual((tools["hits"], tools["rows"]), (1, 6))
        calls = self.rows("model_calls").aggregate(rows=Sum("n"), hits=Sum("n", filter=~Q(status="ok")))
        result = self.evaluate("LLM error rate")
        self.assertEqual((result.numerator, result.denominator), (calls["hits"], calls["rows"]))
        self.assertEqual((calls["hits"], calls["rows"]), (1, 6))

    def test_sums_per_day_by_model_equal_the_engines(self):
        for title, column in (
            ("Tokens per day by model", "total_tokens_sum"),
            ("Cost per day by model", "cost_sum"),
        ):
            result = self.evaluate(title)
            engine = {
                (series.label, moment.date()): value
                for series in result.series
                for moment, value in zip(result.buckets, series.values, strict=True)
                if value
            }
            summed = {
                (row["model"], row["day"]): float(row["total"])
                for row in self.rows("model_calls").values("model", "day").annotate(total=Sum(column))
                if row["total"]
            }
            self.assertEqual(engine.keys(), summed.keys(), title)
            for key, value in engine.items():
                self.assertAlmostEqual(value, summed[key], places=9, msg=(title, key))
