"""The fold gives the same rows whatever order a run's events arrive in, in one batch or many."""

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.events import BASE, event, workflow_run
from tests.factories import make_workspace
from tests.otel import recording_tracer
from traces.ingest import ingest_batch
from traces.ingest.otlp import ingest_spans
from traces.ingest.policy import OMITTED
from traces.models import Agent, ChatMessage, Event, ModelCall, Run, Session, Task
from traces.rollups.daily import current_rows, differences

EVENTS = workflow_run("r-order", session_id="s-order", steps=3) + workflow_run(
    "r-order-2", session_id="s-order", steps=1, fail=True, start=10
)


def snapshot(workspace, payloads=True):
    """Every folded row of a workspace, without surrogate keys or wall-clock bookkeeping. Without
    `payloads`, the event log's bodies are left out: they keep what each request said."""
    runs = Run.objects.filter(workspace=workspace).order_by("run_id")
    tasks = (
        Task.objects.filter(workspace=workspace)
        .select_related("run", "parent")
        .order_by("run__run_id", "step_id")
    )
    calls = ModelCall.objects.filter(workspace=workspace).select_related("run", "task").order_by("call_id")
    turns = ChatMessage.objects.filter(workspace=workspace).order_by("event_id")
    sessions = Session.objects.filter(workspace=workspace).select_related("agent").order_by("session_id")
    # Stamps are bookkeeping of which event set what, and name agents by their keys.
    skip = {
        "id",
        "workspace",
        "updated_at",
        "run",
        "parent",
        "task",
        "session",
        "agent",
        "received_at",
        "stamps",
    }

    def fields(obj):
        row = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.name not in skip}
        return row

    return {
        "runs": [{**fields(r), "session": r.session.session_id, "agent": r.agent.agent_id} for r in runs],
        "tasks": [{**fields(t), "run": t.run.run_id, "parent": t.parent and t.parent.step_id} for t in tasks],
        "calls": [{**fields(c), "run": c.run.run_id, "task": c.task and c.task.step_id} for c in calls],
        "turns": [fields(m) for m in turns],
        "sessions": [{**fields(s), "agent": s.agent.agent_id} for s in sessions],
        "events": sorted(
            Event.objects.filter(workspace=workspace).values_list(
                "event_id", "type", "timestamp", *(["payload"] if payloads else [])
            ),
            key=lambda row: row[:3],
        ),
        # The daily roll-ups, with the agent by its id (keys differ between workspaces).
        "rollups": sorted(
            ((*key[1:3], agent_ids.get(key[3], ""), *key[4:]), measures)
            for agent_ids in [dict(Agent.objects.filter(workspace=workspace).values_list("pk", "agent_id"))]
            for key, measures in current_rows(workspace).items()
        ),
    }


def ingest_in_batches(events, cuts):
    workspace = make_workspace()
    bounds = sorted({0, len(events), *cuts})
    for start, end in zip(bounds, bounds[1:], strict=False):
        ingest_batch(workspace, events[start:end])
    return workspace


class RollupsAreCurrent:
    def assert_rollups_current(self, workspace):
        """The roll-ups kept batch by batch are the ones a rebuild from the final rows gives."""
        self.assertEqual(differences(workspace), [])


class OrderPropertyTest(RollupsAreCurrent, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.expected = snapshot(ingest_in_batches(EVENTS, []))

    def test_the_reference_run_is_complete(self):
        self.assertEqual(len(self.expected["runs"]), 2)
        # Runs: one completed, one failed; tasks and model calls: a few keys each.
        sources = [key[0] for key, _ in self.expected["rollups"]]
        self.assertEqual(sources.count("runs"), 2)
        self.assertGreater(sources.count("tasks"), 3)
        self.assertEqual(sum(m[0] for k, m in self.expected["rollups"] if k[0] == "model_calls"), 4)
        self.assertEqual(len(self.expected["tasks"]), 3 * 2 + 2 + 1 * 2 + 2)
        self.assertEqual([r["status"] for r in self.expected["runs"]], ["completed", "failed"])

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(EVENTS),
        cuts=st.lists(st.integers(min_value=1, max_value=len(EVENTS) - 1), max_size=6),
    )
    def test_any_order_and_any_split_gives_the_same_rows(self, order, cuts):
        workspace = ingest_in_batches(order, cuts)
        self.assertEqual(snapshot(workspace), self.expected)
        self.assert_rollups_current(workspace)

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(order=st.permutations(EVENTS), repeat=st.lists(st.integers(0, len(EVENTS) - 1), max_size=8))
    def test_resending_events_changes_nothing(self, order, repeat):
        workspace = ingest_in_batches(order, [len(order) // 2])
        ingest_batch(workspace, [order[i] for i in repeat])
        self.assertEqual(snapshot(workspace), self.expected)
        self.assert_rollups_current(workspace)


# A run that starts just before midnight UTC: its tasks and model calls fall on two days, and a
# task's day follows its start time, which a late opener can still move.
MIDNIGHT = workflow_run("r-midnight", session_id="s-midnight", steps=2, start=15 * 3600 - 0.3)


class RollupOrderPropertyTest(RollupsAreCurrent, TestCase):
    def test_the_run_spans_two_days(self):
        workspace = ingest_in_batches(MIDNIGHT, [])
        days = {key[2] for key in current_rows(workspace)}
        self.assertEqual(days, {f"{BASE:%Y-%m-%d}", f"{BASE + timedelta(days=1):%Y-%m-%d}"})
        self.assert_rollups_current(workspace)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(MIDNIGHT),
        cuts=st.lists(st.integers(min_value=1, max_value=len(MIDNIGHT) - 1), max_size=6),
        repeat=st.lists(st.integers(0, len(MIDNIGHT) - 1), max_size=4),
    )
    def test_split_and_resent_batches_leave_the_rollups_of_the_final_rows(self, order, cuts, repeat):
        workspace = ingest_in_batches(order, cuts)
        ingest_batch(workspace, [order[i] for i in repeat])
        # The same events under new ids: folded again, a model call's retry kept once.
        ingest_batch(workspace, [{**order[i], "id": f"{order[i]['id']}-again"} for i in repeat])
        self.assert_rollups_current(workspace)


CARD = "4111 1111 1111 1111"


def step(run_id, step_id, at, end_at, stage_in, stage_out, **extra):
    """A step whose start and end both carry metadata under the same keys."""
    base = {"run_id": run_id, "step_id": step_id}
    return [
        event(
            "step.start",
            {**base, "name": step_id, "input": f"card {CARD}", "metadata": stage_in, **extra},
            at=at,
        ),
        event("step.ok", {**base, "output": f"charged {CARD} in full", "metadata": stage_out}, at=end_at),
    ]


# Two agents, one minimal and one standard, whose modes may arrive before or after their events; a
# conversation whose runs name different agents and users; tasks whose metadata keys two events set;
# a conversation named only by messages.
RULES = [
    event("agent.upsert", {"agent_id": "careful", "name": "Careful", "mode": "minimal"}, at=9),
    event(
        "agent.upsert", {"agent_id": "trim", "name": "Trim", "mode": "standard", "max_input_chars": 8}, at=9
    ),
    event("agent.upsert", {"agent_id": "trim", "name": "Trim", "max_output_chars": 10}, at=10),
    event(
        "run.start",
        {
            "run_id": "r-a",
            "agent_id": "careful",
            "session_id": "s-rules",
            "user_id": "u-first",
            "input": f"pay with {CARD}",
        },
        at=0,
    ),
    *step("r-a", "pay", 0.5, 2, {"stage": "begin"}, {"stage": "end"}, note="first"),
    event(
        "llm.call",
        {
            "run_id": "r-a",
            "step_id": "pay",
            "model": "m",
            "prompt_tokens": 3,
            "completion_tokens": 2,
            "request": {"card": CARD},
            "response": CARD,
        },
        at=1,
    ),
    event("message", {"session_id": "s-rules", "run_id": "r-a", "role": "user", "content": CARD}, at=0.2),
    event("run.complete", {"run_id": "r-a", "output": f"charged {CARD}"}, at=3),
    event(
        "run.start",
        {
            "run_id": "r-b",
            "agent_id": "trim",
            "session_id": "s-rules",
            "user_id": "u-second",
            "input": "a long question about refunds",
        },
        at=4,
    ),
    *step("r-b", "look", 4.5, 5, {"stage": "begin", "kept": 1}, {"stage": "end"}),
    event("run.failed", {"run_id": "r-b", "error": "the refunds service timed out"}, at=6),
    event(
        "message",
        {
            "session_id": "s-solo",
            "agent_id": "careful",
            "user_id": "u-solo",
            "role": "user",
            "content": f"my card is {CARD}",
        },
        at=7,
    ),
    event(
        "message",
        {
            "session_id": "s-solo",
            "agent_id": "trim",
            "user_id": "u-other",
            "role": "assistant",
            "content": "noted",
        },
        at=8,
    ),
]


class OrderRulesPropertyTest(RollupsAreCurrent, TestCase):
    """The order rules (README "Order rules"): task metadata, a conversation's agent and user, and
    payload modes give the same rows whatever the order and split of the batches."""

    @classmethod
    def setUpTestData(cls):
        cls.expected = snapshot(ingest_in_batches(RULES, []))

    def test_the_reference_follows_the_rules(self):
        tasks = {t["step_id"]: t for t in self.expected["tasks"]}
        # The latest event setting a metadata key decides it; keys only one event sets stay.
        self.assertEqual(tasks["pay"]["metadata"], {"metadata": {"stage": "end"}, "note": "first"})
        self.assertEqual(tasks["look"]["metadata"], {"metadata": {"stage": "end"}})
        sessions = {s["session_id"]: s for s in self.expected["sessions"]}
        # The earliest run decides; without runs, the earliest event naming them.
        self.assertEqual(
            (sessions["s-rules"]["agent"], sessions["s-rules"]["user_id"]), ("careful", "u-first")
        )
        self.assertEqual((sessions["s-solo"]["agent"], sessions["s-solo"]["user_id"]), ("careful", "u-solo"))
        # Minimal mode keeps no payload; standard cuts inputs at 8 characters and outputs at 10.
        self.assertNotIn(CARD, repr(self.expected))
        self.assertEqual(tasks["pay"]["input"], OMITTED)
        self.assertEqual(tasks["look"]["input"], "card 411… [truncated 16 chars]")
        runs = {r["run_id"]: r for r in self.expected["runs"]}
        self.assertEqual(runs["r-b"]["error"], "the refund… [truncated 19 chars]")

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(RULES),
        cuts=st.lists(st.integers(min_value=1, max_value=len(RULES) - 1), max_size=6),
        repeat=st.lists(st.integers(0, len(RULES) - 1), max_size=3),
    )
    def test_any_order_and_any_split_gives_the_same_rows(self, order, cuts, repeat):
        workspace = ingest_in_batches(order, cuts)
        ingest_batch(workspace, [order[i] for i in repeat])
        self.assertEqual(snapshot(workspace), self.expected)
        self.assert_rollups_current(workspace)


def said(role, content):
    return {"role": role, "content": content}


def otlp_trace():
    """A root span with plain text in and out, which does not name the conversation, an intent
    classifier and a model call under it that do: the model call's three messages are the turns (the
    root's exchange and the classifier's messages are not), whichever request brings which span."""
    tracer, exporter = recording_tracer()
    root_attributes = {
        "gen_ai.agent.name": "otlp-agent",
        "input.value": "Where is my order?",
        "output.value": "It ships tomorrow.",
    }
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "session.id": "s-otlp"}
    with tracer.start_as_current_span("turn", attributes=root_attributes):
        with tracer.start_as_current_span(
            "classify",
            attributes={
                **chat,
                "input.value": json.dumps([said("system", "Classify."), said("user", "Order A-1?")]),
                "output.value": '[{"role": "assistant", "content": "shipping"}]',
            },
        ):
            pass
        with (
            tracer.start_as_current_span(
                "chat",
                attributes={
                    **chat,
                    "gen_ai.usage.input_tokens": 10,
                    "gen_ai.usage.output_tokens": 5,
                    "user.id": "u-otlp",
                    "input.value": json.dumps([said("system", "Be brief."), said("user", "Order A-1?")]),
                    "output.value": '[{"role": "assistant", "content": "Shipped."}]',
                },
            ),
            tracer.start_as_current_span("lookup"),
        ):
            pass
    return list(exporter.get_finished_spans())


SPANS = otlp_trace()


def ingest_span_requests(spans, cuts):
    workspace = make_workspace()
    bounds = sorted({0, len(spans), *cuts})
    for start, end in zip(bounds, bounds[1:], strict=False):
        ingest_spans(workspace, encode_spans(spans[start:end]))
    return workspace


class OtlpSessionOrderPropertyTest(RollupsAreCurrent, TestCase):
    """Whichever span names the conversation, and whichever request brings it, the trace's rows are
    those of one request."""

    @classmethod
    def setUpTestData(cls):
        cls.expected = snapshot(ingest_span_requests(SPANS, []), payloads=False)

    def test_the_reference_has_every_turn_and_the_agent(self):
        self.assertEqual(
            sorted(turn["content"] for turn in self.expected["turns"]),
            ["Be brief.", "Order A-1?", "Shipped."],
        )
        self.assertEqual([s["agent"] for s in self.expected["sessions"]], ["otlp-agent"])
        self.assertEqual([s["user_id"] for s in self.expected["sessions"]], ["u-otlp"])

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(order=st.permutations(SPANS), cuts=st.lists(st.integers(1, len(SPANS) - 1), max_size=2))
    def test_spans_in_any_order_and_any_requests_give_the_same_rows(self, order, cuts):
        workspace = ingest_span_requests(order, cuts)
        self.assertEqual(snapshot(workspace, payloads=False), self.expected)
        self.assert_rollups_current(workspace)
