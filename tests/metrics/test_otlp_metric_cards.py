"""Cards over OTLP metric points: percentiles from histogram buckets against hand-computed values,
sums, averages, last values, breakdowns by point and resource attribute. Points go in through
POST /v1/metrics, timed from tests.events.BASE."""

from datetime import timedelta

from django.test import Client, TestCase

from metrics.engine import evaluate, window_series, window_values
from metrics.models import DashboardCard
from metrics.otlp_cards import histogram_percentile
from tests.events import BASE
from tests.factories import make_api_key, make_workspace
from tests.metrics.otlp import (
    CUMULATIVE,
    export,
    gauge_metric,
    histogram_metric,
    histogram_point,
    number_point,
    sum_metric,
)

NOW = BASE + timedelta(hours=12)
DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"


def card(**fields):
    defaults = {
        "title": "t",
        "kind": "number",
        "source": "otlp_metric",
        "metric_name": DURATION,
        "aggregation": "p50",
        "time_range": "24h",
    }
    return DashboardCard(**{**defaults, **fields})


def duration(at, counts, total, low, high, **attrs):
    point = histogram_point(at, [100, 200, 400], counts, total, **attrs)
    point.min, point.max = low, high
    return point


class MetricCardTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    @classmethod
    def send(cls, request, client):
        response = client.post(
            "/v1/metrics",
            request.SerializeToString(),
            content_type="application/x-protobuf",
            headers={"Authorization": f"Bearer {cls.key}"},
        )
        assert response.status_code == 200, response.content
        assert b"rejected" not in response.content, response.content

    def figure(self, **fields):
        return evaluate(card(**fields), self.workspace, now=NOW).value


class PercentileTest(MetricCardTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # Two delta points of one series: together [2, 5, 2, 1] over (…, 100], (100, 200], (200, 400],
        # (400, …), smallest value 20, largest 1000.
        points = [duration(0, [1, 3, 1, 0], 900.0, 20, 350), duration(60, [1, 2, 1, 1], 1700.0, 40, 1000)]
        cls.send(export(histogram_metric(DURATION, points, unit="ms")), Client())

    def test_percentiles_are_interpolated_inside_their_bucket(self):
        # p50: rank 5 of 10 falls in (100, 200] after 2 below it: 100 + 100 × 3/5.
        self.assertAlmostEqual(self.figure(aggregation="p50"), 160.0)
        # p90: rank 9 is the last of (200, 400], after 7: 200 + 200 × 2/2.
        self.assertAlmostEqual(self.figure(aggregation="p90"), 400.0)
        # p95, p99: in the overflow bucket, which ends at the largest value seen: 400 + 600 × 0.5 / 0.9.
        self.assertAlmostEqual(self.figure(aggregation="p95"), 700.0)
        self.assertAlmostEqual(self.figure(aggregation="p99"), 940.0)

    def test_the_unit_comes_from_the_metric(self):
        self.assertEqual(evaluate(card(), self.workspace, now=NOW).unit, "ms")

    def test_sum_and_average_of_the_observations(self):
        self.assertAlmostEqual(self.figure(aggregation="sum"), 2600.0)
        self.assertAlmostEqual(self.figure(aggregation="avg"), 260.0)

    def test_the_previous_period_is_compared(self):
        result = evaluate(
            card(aggregation="sum", time_range="1h"), self.workspace, now=BASE + timedelta(minutes=30)
        )
        self.assertEqual((result.value, result.previous), (2600.0, 0))
        later = evaluate(
            card(aggregation="sum", time_range="1h"), self.workspace, now=BASE + timedelta(minutes=90)
        )
        self.assertEqual((later.value, later.previous), (0, 2600.0))


class HistogramPercentileTest(TestCase):
    def test_without_min_the_first_bucket_starts_at_zero(self):
        self.assertAlmostEqual(histogram_percentile(0.5, [(10.0, 4), (None, 0)]), 5.0)

    def test_without_max_the_overflow_bucket_answers_its_lower_bound(self):
        self.assertAlmostEqual(histogram_percentile(0.99, [(10.0, 1), (None, 1)]), 10.0)

    def test_empty_histograms_have_no_percentile(self):
        self.assertIsNone(histogram_percentile(0.5, [(10.0, 0), (None, 0)]))


class SecondsTest(MetricCardTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        point = histogram_point(0, [0.1, 0.2], [0, 4, 0], 0.6)
        cls.send(export(histogram_metric(DURATION, [point], unit="s")), Client())

    def test_seconds_are_shown_in_milliseconds(self):
        result = evaluate(card(aggregation="p50"), self.workspace, now=NOW)
        self.assertEqual(result.unit, "ms")
        self.assertAlmostEqual(result.value, 150.0)


class BreakdownTest(MetricCardTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        client = Client()
        model = "gen_ai.request.model"
        usage = [
            histogram_point(
                0, [100, 1000], [1, 1, 0], 600.0, **{model: "gpt-4o", "gen_ai.token.type": "input"}
            ),
            histogram_point(
                0, [100, 1000], [2, 0, 0], 90.0, **{model: "gpt-4o", "gen_ai.token.type": "output"}
            ),
            histogram_point(
                0, [100, 1000], [0, 1, 1], 2500.0, **{model: "claude", "gen_ai.token.type": "input"}
            ),
            histogram_point(
                3600, [100, 1000], [1, 0, 0], 10.0, **{model: "mini", "gen_ai.token.type": "input"}
            ),
        ]
        cls.send(export(histogram_metric(TOKENS, usage, unit="{token}"), service="support-bot"), client)
        other = histogram_point(
            0, [100, 1000], [1, 0, 0], 50.0, **{model: "gpt-4o", "gen_ai.token.type": "input"}
        )
        cls.send(export(histogram_metric(TOKENS, [other], unit="{token}"), service="billing-bot"), client)

    def series(self, **fields):
        fields = {"metric_name": TOKENS, "kind": "pie", "aggregation": "sum", **fields}
        result = evaluate(card(**fields), self.workspace, now=NOW)
        return {series.label: series.values for series in result.series}

    def test_a_point_attribute_breaks_the_sum_down(self):
        self.assertEqual(
            self.series(breakdown="gen_ai.request.model"),
            {"claude": [2500.0], "gpt-4o": [740.0], "mini": [10.0]},
        )

    def test_groups_past_the_limit_are_other(self):
        self.assertEqual(
            self.series(breakdown="gen_ai.request.model", breakdown_limit=1),
            {"claude": [2500.0], "Other": [750.0]},
        )

    def test_percentiles_of_other_merge_its_groups_buckets(self):
        # gpt-4o holds the most observations (5); claude's [0, 1, 1] and mini's [1, 0, 0] make Other
        # [1, 1, 1]: rank 1.5 is halfway through (100, 1000]. gpt-4o's [4, 1, 0]: 2.5 of 4 into (0, 100].
        self.assertEqual(
            self.series(breakdown="gen_ai.request.model", breakdown_limit=1, aggregation="p50"),
            {"gpt-4o": [62.5], "Other": [550.0]},
        )

    def test_windows_read_together_equal_each_window_read_alone(self):
        metric = card(metric_name=TOKENS, kind="pie", aggregation="sum", breakdown="gen_ai.request.model")
        start, hour = BASE - timedelta(minutes=30), timedelta(hours=1)
        windows = window_series(metric, self.workspace, start, hour, 2)
        self.assertEqual(windows, [{"claude": 2500.0, "gpt-4o": 740.0}, {"mini": 10.0}])
        alone = [
            window_values(metric, self.workspace, start + hour * n, start + hour * (n + 1)) for n in (0, 1)
        ]
        self.assertEqual(windows, alone)

    def test_a_resource_attribute_breaks_it_down(self):
        self.assertEqual(
            self.series(breakdown="resource.service.name"), {"support-bot": [3200.0], "billing-bot": [50.0]}
        )

    def test_a_filter_on_an_attribute(self):
        rule = {"property": "gen_ai.token.type", "operator": "eq", "value": "output"}
        self.assertEqual(self.series(filters=[rule]), {"Sum": [90.0]})

    def test_a_line_chart_per_hour(self):
        result = evaluate(
            card(
                metric_name=TOKENS,
                kind="line",
                aggregation="p50",
                breakdown="gen_ai.request.model",
                bucket="hour",
            ),
            self.workspace,
            now=NOW,
        )
        lines = {series.label: series.values for series in result.series}
        start = result.buckets.index(BASE)
        # gpt-4o at BASE: [1, 1, 0] + [2, 0, 0] + billing-bot's [1, 0, 0]: rank 2.5 of 5 in (0, 100] → 62.5.
        self.assertAlmostEqual(lines["gpt-4o"][start], 62.5)
        self.assertIsNone(lines["gpt-4o"][start + 1])
        self.assertAlmostEqual(lines["mini"][start + 1], 50.0)


class LastValueTest(MetricCardTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        client = Client()
        queue = [
            number_point(0, 4.0, queue="a"),
            number_point(30, 6.0, queue="a"),
            number_point(10, 1.0, queue="b"),
        ]
        cls.send(export(gauge_metric("queue.depth", queue)), client)
        for at, total in ((0, 10), (60, 25)):
            cls.send(export(sum_metric("tokens", [number_point(at, total, start=-1)], CUMULATIVE)), client)

    def test_last_value_adds_each_series_latest(self):
        self.assertEqual(self.figure(metric_name="queue.depth", aggregation="last"), 7.0)

    def test_average_of_a_gauge(self):
        self.assertAlmostEqual(self.figure(metric_name="queue.depth", aggregation="avg"), 11 / 3)

    def test_a_cumulative_sum_adds_up_its_increases_and_its_last_value_is_the_total(self):
        self.assertEqual(self.figure(metric_name="tokens", aggregation="sum"), 25.0)
        self.assertEqual(self.figure(metric_name="tokens", aggregation="last"), 25.0)
        result = evaluate(
            card(metric_name="tokens", aggregation="sum", kind="bar", bucket="hour"), self.workspace, now=NOW
        )
        start = result.buckets.index(BASE)
        self.assertEqual(result.series[0].values[start : start + 2], [25.0, 0])

    def test_percentiles_skip_points_without_buckets(self):
        result = evaluate(card(metric_name="queue.depth", aggregation="p50"), self.workspace, now=NOW)
        self.assertIsNone(result.value)
        self.assertEqual((result.rows, result.skipped), (3, 3))
