"""Capture modes (issue 22): the capture flags of standard mode, applied whatever the order of the
events and their agent's upsert, through the event API and OTLP; the client's own mode, of which the
stricter one wins. The modes themselves, late modes and the search index: test_ingest_policy,
test_ingest_order, tests/traces/search/test_index."""

import json

from django.test import TestCase
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.events import event, post_batch
from tests.factories import make_agent, make_api_key, make_workspace
from tests.traces.test_ingest_order import SPANS, RollupsAreCurrent, ingest_in_batches, snapshot
from traces import client as backoffice
from traces.ingest import ingest_batch
from traces.ingest.otlp import ingest_spans
from traces.ingest.policy import OMITTED
from traces.models import ChatMessage, Event, ModelCall, Run, Task

LONG = "a payload longer than the limits"  # 32 characters
CUT = "a payl… [truncated 26 chars]"

FLAGGED = {
    "agent_id": "keeper",
    "name": "Keeper",
    "mode": "standard",
    "max_input_chars": 6,
    "max_output_chars": 6,
    "capture_llm_payloads": True,
    "capture_tool_results": True,
}
# A standard agent that keeps model calls and tool results whole: every kind of tool result (a tool
# span's step.ok, a tool.ok, a step.ok no opener typed) and of other output, in an order to shuffle.
FLAG_EVENTS = [
    event("agent.upsert", FLAGGED, at=9),
    event("run.start", {"run_id": "r-f", "agent_id": "keeper", "session_id": "s-f", "input": LONG}, at=0),
    event("step.start", {"run_id": "r-f", "step_id": "lookup", "name": "lookup", "type": "tool"}, at=1),
    event("step.ok", {"run_id": "r-f", "step_id": "lookup", "output": LONG}, at=2),
    event("step.start", {"run_id": "r-f", "step_id": "think", "name": "think", "input": LONG}, at=1),
    event("step.ok", {"run_id": "r-f", "step_id": "think", "output": LONG}, at=2),
    event("tool.call", {"run_id": "r-f", "step_id": "search", "tool": "search", "args": LONG}, at=1),
    event("tool.ok", {"run_id": "r-f", "step_id": "search", "result": LONG}, at=2),
    event("step.ok", {"run_id": "r-f", "step_id": "untyped", "output": LONG}, at=2),
    event("llm.call", {"run_id": "r-f", "model": "m", "request": {"q": LONG}, "response": LONG}, at=2),
    event("run.complete", {"run_id": "r-f", "output": LONG}, at=3),
]


class CaptureFlagsTest(RollupsAreCurrent, HypothesisTestCase):
    @classmethod
    def setUpTestData(cls):
        cls.expected = snapshot(ingest_in_batches(FLAG_EVENTS, []))

    def test_the_flags_keep_model_calls_and_tool_results_whole_and_cut_the_rest(self):
        tasks = {task["step_id"]: task for task in self.expected["tasks"]}
        self.assertEqual(tasks["lookup"]["output"], LONG)
        self.assertEqual(tasks["search"]["output"], LONG)
        self.assertEqual(tasks["untyped"]["output"], LONG)
        self.assertEqual(tasks["think"]["output"], CUT)
        self.assertEqual(tasks["think"]["input"], CUT)
        self.assertEqual(tasks["search"]["input"], CUT)  # a tool's arguments are an input
        [call] = self.expected["calls"]
        self.assertEqual((call["request"], call["response"]), ({"q": LONG}, LONG))
        [run] = self.expected["runs"]
        self.assertEqual((run["input"], run["output"]), (CUT, CUT))

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(FLAG_EVENTS),
        cuts=st.lists(st.integers(min_value=1, max_value=len(FLAG_EVENTS) - 1), max_size=5),
    )
    def test_any_order_and_split_gives_the_same_rows(self, order, cuts):
        workspace = ingest_in_batches(order, cuts)
        self.assertEqual(snapshot(workspace), self.expected)
        self.assert_rollups_current(workspace)

    def test_turning_the_flags_off_later_cuts_what_they_kept(self):
        workspace = ingest_in_batches(FLAG_EVENTS, [])
        off = {**FLAGGED, "capture_llm_payloads": False, "capture_tool_results": False}
        ingest_batch(workspace, [event("agent.upsert", off, at=20)])
        self.assertEqual(
            set(Task.objects.filter(workspace=workspace).values_list("output", flat=True)), {CUT}
        )
        self.assertEqual(ModelCall.objects.get(workspace=workspace).response, CUT)
        self.assertNotIn(LONG, repr(list(Event.objects.filter(workspace=workspace).values_list("payload"))))

    def test_a_flag_that_is_not_a_boolean_is_rejected_naming_it(self):
        workspace = make_workspace()
        _, key = make_api_key(workspace)
        response = post_batch(
            self.client, key, [event("agent.upsert", {**FLAGGED, "capture_tool_results": "yes"})]
        )
        [result] = response.json()["results"]
        self.assertEqual((result["status"], result["field"]), ("rejected", "body.capture_tool_results"))


AGENT = "otlp-agent"  # the agent the OTLP trace names (gen_ai.agent.name)
MODES = ("full", "standard", "minimal")


def otlp_texts(workspace):
    rows = [
        *Run.objects.filter(workspace=workspace).values_list("input", "output"),
        *Task.objects.filter(workspace=workspace).values_list("input", "output"),
        *ModelCall.objects.filter(workspace=workspace).values_list("request", "response"),
        *ChatMessage.objects.filter(workspace=workspace).values_list("content"),
        *Event.objects.filter(workspace=workspace).exclude(type="agent.upsert").values_list("payload"),
    ]
    return json.dumps(rows, default=str)


def ingest_otlp_with_upsert(spans, mode, upsert_first=True, cuts=()):
    """The trace's spans in this order, in one request or split at `cuts`, and the agent's upsert
    before or after them."""
    workspace = make_workspace()
    body = {"agent_id": AGENT, "name": "OTLP", "mode": mode, "max_input_chars": 4, "max_output_chars": 4}
    upsert = [event("agent.upsert", body, at=60, event_id=f"upsert-{mode}")]
    if upsert_first:
        ingest_batch(workspace, upsert)
    bounds = sorted({0, len(spans), *cuts})
    for start, end in zip(bounds, bounds[1:], strict=False):
        ingest_spans(workspace, encode_spans(spans[start:end]))
    if not upsert_first:
        ingest_batch(workspace, upsert)
    return workspace


class OtlpModesTest(RollupsAreCurrent, HypothesisTestCase):
    """Each mode applies to spans in any order and split over any requests, whether the agent's upsert
    comes before or after them: the modes cut the tasks' payloads, the calls' shapes still tell which
    one answers the user. (Split, the event log keeps what each request said: rows are compared.)"""

    @classmethod
    def setUpTestData(cls):
        whole = {mode: ingest_otlp_with_upsert(SPANS, mode) for mode in MODES}
        cls.expected = {mode: snapshot(workspace) for mode, workspace in whole.items()}
        cls.rows = {mode: snapshot(workspace, payloads=False) for mode, workspace in whole.items()}

    def test_each_mode_keeps_what_it_says(self):
        full = json.dumps(self.expected["full"], default=str)
        self.assertIn("Order A-1?", full)
        self.assertIn("Shipped.", full)
        standard = json.dumps(self.expected["standard"], default=str)
        self.assertNotIn("Order A-1?", standard)
        self.assertIn("truncated", standard)
        minimal = self.expected["minimal"]
        self.assertNotIn("Order A-1?", json.dumps(minimal, default=str))
        self.assertNotIn("Shipped.", json.dumps(minimal, default=str))
        self.assertEqual({turn["content"] for turn in minimal["turns"]}, {OMITTED})
        # Structure, timing and tokens stay.
        self.assertEqual(len(minimal["tasks"]), len(SPANS))
        self.assertEqual(minimal["runs"][0]["total_tokens"], 15)

    def test_the_internal_call_alone_first_or_last_leaves_no_turn(self):
        classify, chat = (next(s for s in SPANS if s.name == name) for name in ("classify", "chat"))
        rest = [s for s in SPANS if s not in (classify, chat)]
        for mode in MODES:
            for first, second in ((classify, chat), (chat, classify)):
                with self.subTest(mode=mode, first=first.name):
                    order = [first, *rest, second]
                    workspace = ingest_otlp_with_upsert(order, mode, cuts=[1, len(order) - 1])
                    self.assertEqual(snapshot(workspace, payloads=False), self.rows[mode])
                    self.assertEqual(ChatMessage.objects.filter(workspace=workspace).count(), 3)

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(order=st.permutations(SPANS), mode=st.sampled_from(MODES), upsert_first=st.booleans())
    def test_any_order_of_spans_and_upsert_gives_the_same_rows(self, order, mode, upsert_first):
        workspace = ingest_otlp_with_upsert(order, mode, upsert_first)
        self.assertEqual(snapshot(workspace), self.expected[mode])
        if mode == "minimal":
            self.assertNotIn("Order A-1?", otlp_texts(workspace))
        self.assert_rollups_current(workspace)

    @settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(SPANS),
        mode=st.sampled_from(MODES),
        upsert_first=st.booleans(),
        cuts=st.lists(st.integers(1, len(SPANS) - 1), min_size=1, max_size=3),
    )
    def test_any_split_of_spans_gives_the_same_rows(self, order, mode, upsert_first, cuts):
        workspace = ingest_otlp_with_upsert(order, mode, upsert_first, cuts)
        self.assertEqual(snapshot(workspace, payloads=False), self.rows[mode])
        if mode == "minimal":
            self.assertNotIn("Order A-1?", otlp_texts(workspace))
        self.assert_rollups_current(workspace)


def captured(observability, **options):
    """What a client with this mode sends for a run with payloads everywhere (nothing leaves the test)."""
    sent = []

    def keep(event):
        sent.append(event)  # on_trace sees the event as it would be sent; None keeps it here

    client = backoffice.Client(
        "http://127.0.0.1:9",
        "bo_test",
        agent_id="bot",
        observability=observability,
        flush_at_exit=False,
        on_trace=keep,
        **options,
    )
    with client.run("support", session_id="s-client", input=LONG) as run:
        client.message("user", LONG)
        with client.span("lookup", type="tool", input=LONG) as step:
            step.output = LONG
        client.model_call("m", prompt_tokens=3, request={"q": LONG}, response=LONG)
        run.output = LONG
    return sent


class ClientModeTest(TestCase):
    """The client's mode and the agent's both apply: the stricter wins."""

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def stored(self, client_mode, server_mode, **options):
        make_agent(self.workspace, agent_id="bot", mode=server_mode, max_input_chars=10, max_output_chars=10)
        response = post_batch(self.client, self.key, captured(client_mode, **options))
        self.assertEqual(response.status_code, 200, response.content)
        task = Task.objects.get(workspace=self.workspace)
        return task.input, task.output, ModelCall.objects.get(workspace=self.workspace).response

    def test_a_minimal_client_sends_no_payload(self):
        sent = json.dumps(captured("minimal"))
        self.assertNotIn(LONG, sent)
        self.assertIn('"prompt_tokens": 3', sent)

    def test_a_minimal_client_wins_over_a_full_agent(self):
        self.assertEqual(self.stored("minimal", "full"), (OMITTED, OMITTED, OMITTED))
        self.assertEqual(ChatMessage.objects.get(workspace=self.workspace).content, OMITTED)

    def test_a_minimal_agent_wins_over_a_full_client(self):
        self.assertEqual(self.stored("full", "minimal"), (OMITTED, OMITTED, OMITTED))

    def test_a_client_limit_smaller_than_the_agents_cuts(self):
        output = self.stored("standard", "standard", max_payload_chars=5)[1]
        self.assertEqual(output, "a pay… [truncated 27 chars]")

    def test_an_agent_limit_smaller_than_the_clients_cuts(self):
        output = self.stored("standard", "standard", max_payload_chars=20)[1]
        self.assertEqual(output, "a payload … [truncated 22 chars]")

    def test_an_unknown_mode_is_refused_at_configuration(self):
        with self.assertRaisesMessage(ValueError, "observability"):
            backoffice.Client("http://127.0.0.1:9", "k", observability="none", flush_at_exit=False)
