"""The daily roll-up of business events: kept equal to the events by ingest, purge and rebuild, and
read by count and rate cards with exactly the results of reading every event."""

import importlib
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from backoffice.retention import Purge
from metrics.dashboards import rule
from metrics.engine import evaluate
from metrics.models import (
    Aggregation,
    Bucket,
    DashboardCard,
    Kind,
    TimeRange,
    TrackedEvent,
    TrackedEventRollup,
)
from metrics.rollups import tracked_events as rollups
from tests.factories import make_workspace
from traces.ingest import ingest_batch

from .routing import assert_cards_read_as_rows, send_shuffled

NOW = datetime(2026, 11, 20, 12, 34, 56, 789000, tzinfo=UTC)
MIDNIGHT = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
LONG = "x" * 65
EXAMPLES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def expected_dimensions(properties):
    """The rule of metrics.rollups.tracked_events.dimensions, written out in Python."""
    dimensions = {}
    for key, value in properties.items():
        if value is None:
            continue
        identifier = re.search("(^|_)(id|uuid)$", key.lower()) or re.search("[a-z0-9]Id$", key)
        short = isinstance(value, bool) or (isinstance(value, str) and len(value) <= 64)
        dimensions[key] = value if short and not identifier else {}
    return dimensions


def canonical(dimensions):
    return json.dumps(dimensions, sort_keys=True)


def stored_rollup(workspace):
    return sorted(
        (row.day, row.name, canonical(row.dimensions), row.events)
        for row in TrackedEventRollup.objects.filter(workspace=workspace)
    )


def rollup_of_events(workspace):
    """What the roll-up must hold, computed in Python from the stored events."""
    counts = Counter(
        (
            tracked.timestamp.astimezone(UTC).date(),
            tracked.name,
            canonical(expected_dimensions(tracked.properties)),
        )
        for tracked in TrackedEvent.objects.filter(workspace=workspace)
    )
    return sorted((*key, n) for key, n in counts.items())


def track(event_id, name, moment, properties):
    body = {"name": name, "properties": properties}
    return {"id": event_id, "type": "track", "timestamp": moment.isoformat(), "body": body}


def raw_result(card, workspace):
    """The card read from the events only, as before the roll-up existed."""
    with mock.patch("metrics.engine._json_keys", return_value=None):
        return evaluate(card, workspace, now=NOW)


values = st.one_of(
    st.sampled_from(["pro", "Pro", "", "true", "5", "y" * 64, LONG]),
    st.booleans(),
    st.integers(0, 5),
    st.none(),
)
moments = st.one_of(
    st.integers(0, 100 * 24 * 3600 * 1000).map(lambda ms: NOW - timedelta(milliseconds=ms)),
    st.integers(0, 10 * 24 * 3600 * 1000).map(lambda ms: NOW - timedelta(milliseconds=ms)),
    # On and around the edges the engine cuts at: the starts of ranges and periods, and midnight.
    st.tuples(st.sampled_from([0, 1, 7, 14, 30, 60, 90]), st.integers(-12 * 3600, 12 * 3600)).map(
        lambda edge: NOW - timedelta(days=edge[0], seconds=edge[1])
    ),
    st.integers(0, 100).map(lambda days: NOW - timedelta(days=days)),
    st.integers(0, 100).map(lambda days: MIDNIGHT - timedelta(days=days)),
)
tracked_events = st.lists(
    st.tuples(
        st.sampled_from(["signup", "purchase"]),
        moments,
        st.dictionaries(st.sampled_from(["plan", "flag", "amount", "user_id", "note"]), values, max_size=4),
    ),
    min_size=10,
    max_size=50,
)
PROPERTIES = ["plan", "flag", "amount", "user_id", "note", "$name"]
rules = st.builds(
    lambda prop, operator, text: rule(prop, operator, "2" if operator == "gt" else text),
    st.sampled_from(PROPERTIES),
    st.sampled_from(["eq", "ne", "contains", "set", "not_set", "eq", "ne", "gt"]),
    st.sampled_from(["pro", "true", "", "5", LONG, "signup"]),
)
counting_cards = st.builds(
    DashboardCard,
    title=st.just("t"),
    kind=st.sampled_from(Kind.values),
    source=st.just("events"),
    event_name=st.sampled_from(["", "purchase"]),
    aggregation=st.sampled_from([Aggregation.COUNT, Aggregation.RATE]),
    filters=st.lists(rules, max_size=1),
    condition=st.lists(rules, min_size=1, max_size=2),
    breakdown=st.sampled_from(["", "plan", "flag", "$name", "amount", "note"]),
    breakdown_limit=st.integers(1, 3),
    time_range=st.sampled_from(TimeRange.values),
    custom_start=st.just((NOW - timedelta(days=40)).date()),
    custom_end=st.just((NOW - timedelta(days=3)).date()),
    bucket=st.sampled_from(Bucket.values),
)


class RollupMatchesEventsTest(HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()

    @EXAMPLES
    @given(events=tracked_events, data=st.data(), cards=st.lists(counting_cards, min_size=1, max_size=3))
    def test_cards_read_from_the_roll_up_equal_cards_read_from_the_events(self, events, data, cards):
        # Sent through ingest in any order, split into batches, with some events sent again.
        send_shuffled(
            self.workspace, data, [track(f"e{index}", *fields) for index, fields in enumerate(events)]
        )
        self.assertEqual(TrackedEvent.objects.filter(workspace=self.workspace).count(), len(events))
        self.assertEqual(stored_rollup(self.workspace), rollup_of_events(self.workspace))
        assert_cards_read_as_rows(self, self.workspace, cards, NOW, raw_result, "tracked_event_rollups")


class RollupTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(retention_days=30)
        cls.other = make_workspace()
        cls.events = [
            track(f"e{index}", "checkout", NOW - timedelta(hours=7 * index + 1), props)
            for index, props in enumerate(
                [{"plan": "pro", "success": True}, {"plan": "free", "success": False}, {"plan": "pro"}] * 100
            )
        ]
        ingest_batch(cls.workspace, cls.events)
        ingest_batch(cls.other, cls.events[:10])

    def card(self, **fields):
        defaults = dict(
            title="Success by plan",
            kind=Kind.BAR,
            source="events",
            aggregation=Aggregation.RATE,
            condition=[rule("success", "eq", "true")],
            breakdown="plan",
            time_range=TimeRange.MONTH,
        )
        return DashboardCard(**{**defaults, **fields})

    def test_it_keeps_booleans_and_short_strings_and_marks_the_other_values(self):
        properties = {
            "plan": "pro",
            "ok": False,
            "empty": "",
            "note": LONG,
            "amount": 12.5,
            "count": 3,
            "missing": None,
            "id": "a",
            "user_id": "u1",
            "orderId": "o1",
            "paid": "yes",
            "valid": True,
        }
        ingest_batch(self.other, [track("shape", "shape", NOW, properties)])
        row = TrackedEventRollup.objects.get(workspace=self.other, name="shape")
        self.assertEqual(
            row.dimensions,
            {
                "plan": "pro",
                "ok": False,
                "empty": "",
                "note": {},
                "amount": {},
                "count": {},
                "id": {},
                "user_id": {},
                "orderId": {},
                "paid": "yes",
                "valid": True,
            },
        )
        self.assertEqual(row.dimensions, expected_dimensions(properties))

    def test_ingest_counts_each_event_once(self):
        self.assertEqual(
            sum(TrackedEventRollup.objects.filter(workspace=self.workspace).values_list("events", flat=True)),
            300,
        )
        self.assertEqual(stored_rollup(self.workspace), rollup_of_events(self.workspace))
        results = ingest_batch(
            self.workspace, self.events[:50] + [track("late", "checkout", NOW - timedelta(days=60), {})]
        )
        self.assertEqual([r["status"] for r in results].count("duplicate"), 50)
        self.assertEqual(stored_rollup(self.workspace), rollup_of_events(self.workspace))

    def test_ingest_adds_one_statement_for_the_roll_up(self):
        batch = [
            track(f"q{index}", "checkout", NOW - timedelta(days=index), {"plan": "pro"})
            for index in range(40)
        ]
        with CaptureQueriesContext(connection) as queries:
            ingest_batch(self.other, batch)
        self.assertEqual(sum("tracked_event_rollups" in query["sql"] for query in queries), 1)

    def test_a_card_costs_one_query_and_reads_the_roll_up(self):
        for card in [self.card(), self.card(kind=Kind.RATE, breakdown=""), self.card(kind=Kind.PIE)]:
            with CaptureQueriesContext(connection) as queries:
                result = evaluate(card, self.workspace, now=NOW)
            self.assertEqual(len(queries), 1)
            self.assertIn("tracked_event_rollups", queries[0]["sql"])
            self.assertEqual(result, raw_result(card, self.workspace))

    def test_the_bar_card_by_plan_gives_the_rates_of_the_events(self):
        result = evaluate(
            self.card(time_range=TimeRange.QUARTER, bucket=Bucket.WEEK), self.workspace, now=NOW
        )
        self.assertEqual([series.label for series in result.series], ["pro", "free"])
        self.assertEqual(result.rows, 300)
        self.assertEqual(
            result, raw_result(self.card(time_range=TimeRange.QUARTER, bucket=Bucket.WEEK), self.workspace)
        )

    def test_the_day_where_the_previous_period_ends_is_read_from_the_events(self):
        for kind in (Kind.NUMBER, Kind.RATE):
            card = self.card(kind=kind, breakdown="", time_range=TimeRange.WEEK)
            result = evaluate(card, self.workspace, now=NOW)
            self.assertEqual(result, raw_result(card, self.workspace))
            self.assertIsNotNone(result.previous)

    def test_a_key_with_values_the_roll_up_does_not_keep_sends_the_card_to_the_events(self):
        ingest_batch(
            self.workspace, [track("n", "checkout", NOW - timedelta(days=5), {"plan": 7, "success": True})]
        )
        card = self.card()
        result = evaluate(card, self.workspace, now=NOW)
        self.assertIn("7", [series.label for series in result.series])
        self.assertEqual(result, raw_result(card, self.workspace))

    def test_purge_keeps_the_roll_up_of_the_days_whose_events_it_deletes(self):
        before = stored_rollup(self.workspace)
        purge = Purge.for_workspace(self.workspace, now=NOW, batch=7)
        removed = purge.run()
        self.assertGreater(removed["business events"], 0)
        # The roll-up is not decremented: the days before the cutoff keep what they had, the days
        # after it still equal their events, and the cutoff falls between two days.
        self.assertEqual(stored_rollup(self.workspace), before)
        kept = purge.cutoff.date()
        self.assertEqual(purge.cutoff, datetime.combine(kept, datetime.min.time(), tzinfo=UTC))
        self.assertEqual(
            [row for row in stored_rollup(self.workspace) if row[0] >= kept], rollup_of_events(self.workspace)
        )
        self.assertEqual(stored_rollup(self.other), rollup_of_events(self.other))

    def test_rebuild_and_the_backfill_recompute_it_from_the_events(self):
        expected = stored_rollup(self.workspace), stored_rollup(self.other)
        TrackedEventRollup.objects.filter(workspace=self.workspace).update(events=1)
        rollups.rebuild(self.workspace)
        self.assertEqual((stored_rollup(self.workspace), stored_rollup(self.other)), expected)
        TrackedEventRollup.objects.all().delete()
        migration = importlib.import_module("metrics.migrations.0004_tracked_event_rollups")
        migration.backfill(None, None)
        self.assertEqual((stored_rollup(self.workspace), stored_rollup(self.other)), expected)
