"""The card semantics of DESIGN §6 on small, hand-made data sets."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.test import TestCase

from metrics.engine import evaluate
from metrics.models import DashboardCard, TrackedEvent
from metrics.rollups import tracked_events as rollups
from tests.factories import make_model_call, make_run, make_task, make_workspace

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def card(**fields):
    defaults = {"title": "t", "kind": "number", "source": "runs", "aggregation": "count", "time_range": "7d"}
    return DashboardCard(**{**defaults, **fields})


def failed():
    return [{"property": "status", "operator": "eq", "value": "failed"}]


def track(workspace, name, properties, ago):
    tracked = TrackedEvent.objects.create(
        workspace=workspace,
        event_id=f"{name}-{ago}-{len(properties)}",
        name=name,
        properties=properties,
        timestamp=NOW - ago,
    )
    rollups.rebuild(workspace)  # as ingest would have kept it
    return tracked


class RateTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        for status in ["completed", "completed", "completed", "failed"]:
            make_run(cls.workspace, status=status, started_at=NOW - timedelta(hours=2))
        make_run(cls.workspace, status="failed", started_at=NOW - timedelta(days=8))

    def test_it_divides_matching_rows_that_meet_the_condition_by_matching_rows(self):
        result = evaluate(card(kind="rate", aggregation="rate", condition=failed()), self.workspace, now=NOW)
        self.assertEqual(result.value, 25.0)
        self.assertEqual((result.numerator, result.denominator), (1, 4))

    def test_it_shows_no_data_rather_than_zero_for_an_empty_denominator(self):
        empty = card(kind="rate", aggregation="rate", condition=failed(), time_range="1h")
        result = evaluate(empty, self.workspace, now=NOW)
        self.assertIsNone(result.value)

    def test_it_compares_with_the_previous_period_in_percentage_points(self):
        result = evaluate(card(kind="rate", aggregation="rate", condition=failed()), self.workspace, now=NOW)
        self.assertEqual(result.previous, 100.0)
        self.assertEqual(result.change, -75.0)

    def test_a_rate_per_day_leaves_days_without_runs_empty(self):
        line = card(kind="line", aggregation="rate", condition=failed(), bucket="day")
        result = evaluate(line, self.workspace, now=NOW)
        self.assertEqual(len(result.buckets), 8)
        self.assertEqual(result.series[0].values[-1], 25.0)
        self.assertEqual(result.series[0].values[:-1], [None] * 7)

    def test_a_rate_card_of_a_sum_is_a_share_of_the_total(self):
        share = card(kind="rate", aggregation="sum", property="cost", condition=failed())
        result = evaluate(share, self.workspace, now=NOW)
        self.assertAlmostEqual(result.value, 25.0)


class BucketTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        make_run(cls.workspace, started_at=NOW - timedelta(days=1), duration_ms=100)
        make_run(cls.workspace, started_at=NOW - timedelta(days=1, hours=1), duration_ms=300)
        make_run(cls.workspace, started_at=NOW - timedelta(days=3), duration_ms=1000)

    def test_empty_buckets_count_as_zero(self):
        result = evaluate(card(kind="bar", bucket="day"), self.workspace, now=NOW)
        self.assertEqual(result.series[0].values, [0, 0, 0, 0, 1, 0, 2, 0])
        self.assertEqual(result.buckets[0], datetime(2026, 11, 13, tzinfo=UTC))

    def test_weeks_start_on_monday_and_months_on_the_first(self):
        weekly = evaluate(card(kind="line", bucket="week", time_range="30d"), self.workspace, now=NOW)
        self.assertTrue(all(moment.weekday() == 0 for moment in weekly.buckets))
        monthly = evaluate(card(kind="line", bucket="month", time_range="90d"), self.workspace, now=NOW)
        self.assertEqual([moment.day for moment in monthly.buckets], [1, 1, 1, 1])

    def test_too_many_buckets_are_coarsened(self):
        result = evaluate(card(kind="line", bucket="hour", time_range="90d"), self.workspace, now=NOW)
        self.assertEqual(result.bucket, "day")

    def test_percentiles_interpolate_like_percentile_cont(self):
        p50 = evaluate(card(aggregation="p50", property="duration_ms"), self.workspace, now=NOW)
        p95 = evaluate(card(aggregation="p95", property="duration_ms"), self.workspace, now=NOW)
        self.assertEqual(p50.value, 300)
        self.assertAlmostEqual(p95.value, 930)

    def test_a_custom_range_covers_whole_days(self):
        custom = card(
            time_range="custom",
            custom_start=NOW.date() - timedelta(days=3),
            custom_end=NOW.date() - timedelta(days=3),
        )
        self.assertEqual(evaluate(custom, self.workspace, now=NOW).value, 1)

    def test_a_card_takes_one_query_whatever_the_data(self):
        chart = card(kind="line", aggregation="p95", property="duration_ms", breakdown="status")
        with self.assertNumQueries(1):
            evaluate(chart, self.workspace, now=NOW)
        for _ in range(20):
            make_run(self.workspace, started_at=NOW - timedelta(days=2), status="failed")
        with self.assertNumQueries(1):
            evaluate(chart, self.workspace, now=NOW)


class BusinessEventTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        track(cls.workspace, "purchase", {"amount": 20, "plan": "pro"}, timedelta(hours=1))
        track(cls.workspace, "purchase", {"amount": 10.5, "plan": "team"}, timedelta(hours=2))
        track(cls.workspace, "purchase", {"amount": "n/a", "plan": "pro"}, timedelta(hours=3))
        track(cls.workspace, "purchase", {"plan": "free"}, timedelta(hours=4))
        track(cls.workspace, "signup", {"amount": 1000}, timedelta(hours=1))

    def test_it_sums_numbers_and_says_how_many_values_it_skipped(self):
        result = evaluate(
            card(source="events", event_name="purchase", aggregation="sum", property="amount"),
            self.workspace,
            now=NOW,
        )
        self.assertEqual(result.value, 30.5)
        self.assertEqual(result.skipped, 1)

    def test_it_counts_distinct_values(self):
        result = evaluate(
            card(source="events", event_name="purchase", aggregation="distinct_count", property="plan"),
            self.workspace,
            now=NOW,
        )
        self.assertEqual(result.value, 3)

    def test_filters_combine_with_and(self):
        filters = [
            {"property": "plan", "operator": "eq", "value": "pro"},
            {"property": "amount", "operator": "gt", "value": "5"},
        ]
        result = evaluate(
            card(source="events", event_name="purchase", filters=filters), self.workspace, now=NOW
        )
        self.assertEqual(result.value, 1)

    def test_not_equal_keeps_rows_without_the_property(self):
        filters = [{"property": "amount", "operator": "ne", "value": "20"}]
        result = evaluate(
            card(source="events", event_name="purchase", filters=filters), self.workspace, now=NOW
        )
        self.assertEqual(result.value, 3)

    def test_a_breakdown_keeps_the_top_groups_and_folds_the_rest_into_other(self):
        pie = card(source="events", kind="pie", breakdown="plan", breakdown_limit=1)
        result = evaluate(pie, self.workspace, now=NOW)
        self.assertEqual(
            [(series.label, series.values) for series in result.series], [("pro", [2.0]), ("Other", [3.0])]
        )
        self.assertTrue(result.series[-1].other)

    def test_a_breakdown_by_event_name(self):
        pie = card(source="events", kind="pie", breakdown="$name")
        result = evaluate(pie, self.workspace, now=NOW)
        self.assertEqual([series.label for series in result.series], ["purchase", "signup"])


class OtherSourcesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        run = make_run(cls.workspace, started_at=NOW - timedelta(hours=1))
        make_task(run, type="tool", status="failed")
        make_task(run, type="tool", status="ok")
        make_task(run, type="llm", status="failed")
        make_model_call(run, model="gpt-4o", total_tokens=100, cost=Decimal("0.5"))
        make_model_call(run, model="gpt-4o-mini", total_tokens=40, status="error", cost=Decimal("0.25"))
        make_run(make_workspace(), started_at=NOW - timedelta(hours=1))  # another workspace's data stays out

    def test_tool_failure_rate_over_tasks(self):
        tools = card(
            source="tasks",
            kind="rate",
            aggregation="rate",
            filters=[{"property": "type", "operator": "eq", "value": "tool"}],
            condition=failed(),
        )
        self.assertEqual(evaluate(tools, self.workspace, now=NOW).value, 50.0)

    def test_tokens_and_cost_by_model(self):
        tokens = card(
            source="model_calls", kind="pie", aggregation="sum", property="total_tokens", breakdown="model"
        )
        cost = card(source="model_calls", aggregation="sum", property="cost")
        result = evaluate(tokens, self.workspace, now=NOW)
        self.assertEqual(
            [(series.label, series.values[0]) for series in result.series],
            [("gpt-4o", 100), ("gpt-4o-mini", 40)],
        )
        self.assertEqual(evaluate(cost, self.workspace, now=NOW).value, 0.75)

    def test_llm_error_rate(self):
        errors = card(
            source="model_calls",
            kind="rate",
            aggregation="rate",
            condition=[{"property": "status", "operator": "ne", "value": "ok"}],
        )
        self.assertEqual(evaluate(errors, self.workspace, now=NOW).value, 50.0)

    def test_it_reads_only_the_workspace_given(self):
        self.assertEqual(evaluate(card(), self.workspace, now=NOW).value, 1)
