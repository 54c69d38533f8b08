"""Every card the engine computes in SQL equals the plain-Python reference, on random data."""

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from metrics.engine import NEEDS_PROPERTY, NUMERIC_OPERATORS, OPERATORS, evaluate
from metrics.models import Aggregation, Bucket, DashboardCard, Kind, TimeRange, TrackedEvent
from metrics.rollups import tracked_events as rollups
from tests.factories import make_agent, make_workspace
from traces.models import Run
from traces.rollups import daily as trace_rollups

from . import reference

NOW = datetime(2026, 11, 20, 12, 34, 56, 789000, tzinfo=UTC)
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

halves = st.integers(-200, 200).map(lambda n: n / 2)
json_values = st.one_of(
    st.integers(-50, 50),
    halves,
    st.sampled_from(["free", "pro", "Pro", "team", "", "5"]),
    st.booleans(),
    st.none(),
)
moments = st.integers(0, 100 * 24 * 3600 * 1000).map(lambda ms: NOW - timedelta(milliseconds=ms))
custom_days = st.tuples(st.integers(0, 60), st.integers(0, 20)).map(
    lambda pair: ((NOW - timedelta(days=pair[0] + pair[1])).date(), (NOW - timedelta(days=pair[0])).date())
)


def rules(properties, texts, numbers):
    def rule(operator, prop, text, number):
        value = number if operator in NUMERIC_OPERATORS else text
        return {"property": prop, "operator": operator, "value": value}

    return st.builds(
        rule,
        st.sampled_from(sorted(OPERATORS)),
        st.sampled_from(properties),
        st.sampled_from(texts),
        st.sampled_from(numbers),
    )


def cards(source, numeric_properties, any_properties, breakdowns, texts, numbers, event_names=("",)):
    def card(
        kind, aggregation, prop, filters, condition, breakdown, limit, time_range, days, bucket, event_name
    ):
        if aggregation in NEEDS_PROPERTY and aggregation != Aggregation.DISTINCT_COUNT:
            prop = prop[0]
        else:
            prop = prop[1] if aggregation in NEEDS_PROPERTY else ""
        return DashboardCard(
            title="t",
            kind=kind,
            source=source,
            event_name=event_name,
            aggregation=aggregation,
            property=prop,
            filters=filters,
            condition=condition,
            breakdown=breakdown if kind in (Kind.LINE, Kind.BAR, Kind.PIE) else "",
            breakdown_limit=limit,
            time_range=time_range,
            custom_start=days[0],
            custom_end=days[1],
            bucket=bucket,
        )

    return st.builds(
        card,
        st.sampled_from(Kind.values),
        # "Last value" is for OTLP metric cards only (the form refuses it elsewhere).
        st.sampled_from([value for value in Aggregation.values if value != Aggregation.LAST]),
        st.tuples(st.sampled_from(numeric_properties), st.sampled_from(any_properties)),
        st.lists(rules(any_properties, texts, numbers), max_size=2),
        st.lists(rules(any_properties, texts, numbers), min_size=1, max_size=2),
        st.sampled_from(["", *breakdowns]),
        st.integers(1, 3),
        st.sampled_from(TimeRange.values),
        custom_days,
        st.sampled_from(Bucket.values),
        st.sampled_from(event_names),
    )


def close(left, right):
    if left is None or right is None:
        return left is None and right is None
    return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)


class EngineMatchesReference:
    def assert_same(self, card, result, expected):
        context = f"{card.kind} {card.aggregation}({card.property}) by {card.breakdown!r}"
        self.assertEqual(result.rows, expected["rows"], context)
        self.assertEqual(result.skipped, expected["skipped"], context)
        if "value" in expected:
            self.assertTrue(
                close(result.value, expected["value"]), f"{context}: {result.value} != {expected['value']}"
            )
            self.assertTrue(
                close(result.previous, expected["previous"]),
                f"{context}: {result.previous} != {expected['previous']}",
            )
            return
        if "buckets" in expected:
            self.assertEqual(result.buckets, expected["buckets"], context)
        got = [(series.label, series.values) for series in result.series]
        self.assertEqual([label for label, _ in got], [label for label, _ in expected["series"]], context)
        for (label, values), (_, wanted) in zip(got, expected["series"], strict=True):
            self.assertEqual(len(values), len(wanted), context)
            for value, want in zip(values, wanted, strict=True):
                self.assertTrue(close(value, want), f"{context} {label}: {values} != {wanted}")


class BusinessEventCardTest(EngineMatchesReference, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.agents = [make_agent(cls.workspace, name="triage"), make_agent(cls.workspace, name="billing")]

    events = st.lists(
        st.tuples(
            st.sampled_from(["signup", "purchase", "refund"]),
            moments,
            st.dictionaries(st.sampled_from(["amount", "plan", "flag", "score"]), json_values, max_size=4),
            st.sampled_from([None, 0, 1]),
        ),
        max_size=40,
    )

    @EXAMPLES
    @given(
        events=events,
        card=cards(
            "events",
            numeric_properties=["amount", "score", "plan"],
            any_properties=["amount", "plan", "flag", "$name", "$agent"],
            breakdowns=["plan", "flag", "$name", "$agent", "amount"],
            texts=["pro", "5", "true", "", "P"],
            numbers=["0", "5", "-2.5"],
            event_names=["", "purchase"],
        ),
    )
    def test_every_card_over_business_events_matches_the_reference(self, events, card):
        stored = TrackedEvent.objects.bulk_create(
            TrackedEvent(
                workspace=self.workspace,
                event_id=f"e{index}",
                name=name,
                properties=properties,
                timestamp=moment,
                agent=self.agents[agent] if agent is not None else None,
            )
            for index, (name, moment, properties, agent) in enumerate(events)
        )
        rollups.rebuild(self.workspace)  # as ingest would have kept it
        rows = [
            {
                "time": event.timestamp,
                "$name": event.name,
                "$agent": event.agent.name if event.agent else None,
                "$session": None,
                "json": event.properties,
            }
            for event in stored
        ]
        with self.assertNumQueries(1):
            result = evaluate(card, self.workspace, now=NOW)
        self.assert_same(card, result, reference.compute(card, rows, NOW))


class RunCardTest(EngineMatchesReference, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.agents = [make_agent(cls.workspace, name="triage"), make_agent(cls.workspace, name="billing")]

    runs = st.lists(
        st.tuples(
            moments,
            st.sampled_from(["completed", "failed", "running"]),
            st.one_of(st.none(), st.integers(0, 5000)),
            st.integers(0, 40).map(lambda n: Decimal(n) / 4),
            st.sampled_from([None, 0, 1]),
            st.dictionaries(st.sampled_from(["tier", "retries"]), json_values, max_size=2),
        ),
        max_size=40,
    )

    @EXAMPLES
    @given(
        runs=runs,
        card=cards(
            "runs",
            numeric_properties=["duration_ms", "cost", "total_tokens", "metadata.retries"],
            any_properties=["status", "agent", "duration_ms", "cost", "metadata.tier", "metadata.retries"],
            breakdowns=["status", "agent", "metadata.tier"],
            texts=["failed", "completed", "pro", "", "2000"],
            numbers=["0", "1000", "2.5"],
        ),
    )
    def test_every_card_over_runs_matches_the_reference(self, runs, card):
        stored = Run.objects.bulk_create(
            Run(
                workspace=self.workspace,
                run_id=f"r{index}",
                invocation_id=f"{index:08d}",
                started_at=moment,
                status=status,
                duration_ms=duration,
                cost=cost,
                total_tokens=index * 10,
                agent=self.agents[agent] if agent is not None else None,
                metadata=metadata,
            )
            for index, (moment, status, duration, cost, agent, metadata) in enumerate(runs)
        )
        trace_rollups.rebuild(self.workspace)  # as ingest would have kept it
        rows = [
            {
                "time": run.started_at,
                "status": run.status,
                "agent": run.agent.name if run.agent else None,
                "workflow": run.workflow,
                "user_id": run.user_id,
                "duration_ms": run.duration_ms,
                "total_tokens": run.total_tokens,
                "prompt_tokens": run.prompt_tokens,
                "completion_tokens": run.completion_tokens,
                "model_calls": run.model_calls,
                "cost": float(run.cost),
                "json": run.metadata,
            }
            for run in stored
        ]
        with self.assertNumQueries(1):
            result = evaluate(card, self.workspace, now=NOW)
        self.assert_same(card, result, reference.compute(card, rows, NOW))
