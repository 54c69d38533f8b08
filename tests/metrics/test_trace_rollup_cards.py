"""Cards over runs, tasks and model calls read whole days from the daily trace roll-ups, with the results
of reading every row, whatever the order, split or resend of the batches that made the rows."""

from datetime import timedelta
from unittest import mock

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from metrics.dashboards import DEFAULT_CARDS, rule
from metrics.engine import evaluate, window_series, window_values
from metrics.models import Aggregation, Bucket, DashboardCard, Kind, Source, TimeRange
from tests.events import BASE, workflow_run
from tests.factories import make_workspace
from traces.ingest import ingest_batch

from .routing import assert_cards_read_as_rows, send_shuffled

NOW = BASE + timedelta(days=5, hours=3, minutes=34, seconds=56, microseconds=789)
DAY = 86400
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def raw_result(card, workspace):
    """The card read from the rows only, as before the roll-ups existed."""
    with mock.patch("metrics.engine._daily_spec", return_value=(None, None)):
        return evaluate(card, workspace, now=NOW)


def reads_rollups(card, workspace):
    with CaptureQueriesContext(connection) as queries:
        evaluate(card, workspace, now=NOW)
    return "trace_rollups" in queries[0]["sql"]


# Runs from 40 days back to now, on and around midnight too, some failed; agents with and without a run.
runs = st.lists(
    st.tuples(
        st.one_of(
            st.integers(-40 * DAY, 5 * DAY),
            st.integers(-40, 5).map(lambda days: days * DAY - 9 * 3600 + 0.5),  # just before midnight
        ),
        st.integers(1, 3),
        st.booleans(),
        st.sampled_from(["order-bot", "refund-bot"]),
    ),
    min_size=1,
    max_size=6,
)
PROPERTIES = {
    Source.RUNS: ["status", "agent", "workflow"],
    Source.TASKS: ["status", "type", "name", "agent", "workflow"],
    Source.MODEL_CALLS: ["status", "model", "provider", "finish_reason", "agent"],
}
# Integer sums: the raw path adds float casts of each value, so only these are equal to the last bit.
SUMMED = {
    Source.RUNS: ["total_tokens", "duration_ms", "model_calls"],
    Source.TASKS: ["total_tokens", "duration_ms", "attempt"],
    Source.MODEL_CALLS: ["total_tokens", "prompt_tokens", "latency_ms"],
}
VALUES = [
    "failed",
    "ok",
    "completed",
    "tool",
    "llm",
    "gpt-4o-mini",
    "validate_order",
    "Order bot",
    "stop",
    "",
]


@st.composite
def trace_cards(draw):
    source = draw(st.sampled_from([Source.RUNS, Source.TASKS, Source.MODEL_CALLS]))
    rules = st.builds(
        rule,
        st.sampled_from(PROPERTIES[source]),
        st.sampled_from(["eq", "ne", "contains", "set", "not_set"]),
        st.sampled_from(VALUES),
    )
    aggregation = draw(st.sampled_from([Aggregation.COUNT, Aggregation.RATE, Aggregation.SUM]))
    return DashboardCard(
        title="t",
        kind=draw(st.sampled_from(Kind.values)),
        source=source,
        aggregation=aggregation,
        property=draw(st.sampled_from(SUMMED[source])) if aggregation == Aggregation.SUM else "",
        filters=draw(st.lists(rules, max_size=1)),
        condition=draw(st.lists(rules, min_size=1, max_size=2)),
        breakdown=draw(st.sampled_from(["", *PROPERTIES[source]])),
        breakdown_limit=draw(st.integers(1, 3)),
        time_range=draw(st.sampled_from(TimeRange.values)),
        custom_start=(NOW - timedelta(days=30)).date(),
        custom_end=(NOW - timedelta(days=2)).date(),
        bucket=draw(st.sampled_from(Bucket.values)),
    )


class TraceCardsMatchRowsTest(HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()

    @EXAMPLES
    @given(made=runs, data=st.data(), cards=st.lists(trace_cards(), min_size=1, max_size=4))
    def test_cards_read_from_the_rollups_equal_cards_read_from_the_rows(self, made, data, cards):
        sent = []
        for index, (start, steps, fail, agent) in enumerate(made):
            sent += workflow_run(
                f"r{index}", session_id=f"s{index}", agent_id=agent, start=start, steps=steps, fail=fail
            )
        send_shuffled(self.workspace, data, sent)
        assert_cards_read_as_rows(self, self.workspace, cards, NOW, raw_result, "trace_rollups")


class WindowSeriesTest(HypothesisTestCase):
    """A spike monitor reads its windows in one query (window_series): the same values as each window read
    alone, whole days from the roll-ups included."""

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()

    @EXAMPLES
    @given(
        made=runs,
        data=st.data(),
        cards=st.lists(trace_cards(), min_size=1, max_size=3),
        hours=st.sampled_from([1, 5, 24, 48]),
        count=st.integers(1, 4),
    )
    def test_windows_read_together_equal_each_window_read_alone(self, made, data, cards, hours, count):
        sent = []
        for index, (start, steps, fail, agent) in enumerate(made):
            sent += workflow_run(
                f"r{index}", session_id=f"s{index}", agent_id=agent, start=start, steps=steps, fail=fail
            )
        send_shuffled(self.workspace, data, sent)
        width = timedelta(hours=hours)
        start = NOW - width * count
        for card in cards:
            card.kind = Kind.PIE
            last = window_values(card, self.workspace, NOW - width, NOW)
            # The top values are those of the last window: it matches whatever the breakdown's limit.
            self.assertEqual(window_series(card, self.workspace, start, width, count)[-1], last)
            card.breakdown_limit = 50  # every value: each earlier window matches too
            alone = [
                window_values(card, self.workspace, start + width * n, start + width * (n + 1))
                for n in range(count)
            ]
            self.assertEqual(window_series(card, self.workspace, start, width, count), alone)


class DefaultCardsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        for index in range(6):
            ingest_batch(
                cls.workspace, workflow_run(f"r{index}", start=-index * 7 * DAY + index, fail=index % 2)
            )

    def test_the_default_trace_cards_but_the_percentile_read_the_rollups(self):
        for fields in DEFAULT_CARDS:
            card = DashboardCard(**{**fields, "time_range": TimeRange.MONTH})
            if card.source == Source.EVENTS:
                continue
            self.assertEqual(
                reads_rollups(card, self.workspace), card.title != "p95 run duration", card.title
            )

    def test_cost_per_day_by_model_equals_the_rows_to_float_precision(self):
        fields = next(card for card in DEFAULT_CARDS if card["title"] == "Cost per day by model")
        card = DashboardCard(**{**fields, "time_range": TimeRange.QUARTER})
        routed, raw = evaluate(card, self.workspace, now=NOW), raw_result(card, self.workspace)
        self.assertEqual([series.label for series in routed.series], [series.label for series in raw.series])
        for mine, theirs in zip(routed.series, raw.series, strict=True):
            for a, b in zip(mine.values, theirs.values, strict=True):
                self.assertAlmostEqual(a or 0, b or 0, places=9)
        self.assertTrue(any(value for series in raw.series for value in series.values))

    def test_hour_buckets_averages_and_json_properties_read_the_rows(self):
        for fields in (
            {"source": Source.TASKS, "bucket": Bucket.HOUR, "time_range": TimeRange.DAY},
            {"source": Source.RUNS, "aggregation": Aggregation.AVG, "property": "duration_ms"},
            {"source": Source.RUNS, "filters": [rule("metadata.plan", "eq", "pro")]},
            {"source": Source.RUNS, "filters": [rule("status", "eq", "")]},
        ):
            card = DashboardCard(title="t", kind=Kind.LINE, **fields)
            self.assertFalse(reads_rollups(card, self.workspace), fields)
