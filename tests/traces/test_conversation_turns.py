"""Which chat turns a run's conversation shows, from its spans (traces.ingest.turns), one rule a test."""

import json
from datetime import UTC, datetime

from django.test import TestCase
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.factories import make_workspace
from tests.otel import recording_tracer
from traces.ingest import ingest_batch
from traces.ingest.conventions import message_key
from traces.ingest.otlp import ingest_spans
from traces.models import ChatMessage, Event, Session, Task

SESSION = {"session.id": "conv-turns"}
SYSTEM = "You are a support agent."
QUESTION = "Where is my order A-1?"
TOOL_CALL = {
    "role": "assistant",
    "tool_calls": [{"id": "c1", "function": {"name": "get_order", "arguments": "{}"}}],
}
TOOL_RESULT = {"role": "tool", "tool_call_id": "c1", "content": "shipped"}


def said(role, content):
    return {"role": role, "content": content}


def call_attributes(inputs, outputs=(), **extra):
    """An OpenInference model call whose request and answer are OpenAI-style messages."""
    return {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "input.value": json.dumps(list(inputs)),
        "output.value": json.dumps(list(outputs)),
        **SESSION,
        **extra,
    }


def agent_run(tracer, calls, root=None):
    """A root span and one model call under it per (name, attributes), in that order."""
    with tracer.start_as_current_span("agent", attributes={**SESSION, **(root or {})}):
        for name, attributes in calls:
            with tracer.start_as_current_span(name, attributes=attributes):
                pass


CONVERSATION = [
    (
        "classify",
        call_attributes(
            [said("system", "Classify the intent."), said("user", QUESTION)], [said("assistant", "shipping")]
        ),
    ),
    ("ask", call_attributes([said("system", SYSTEM), said("user", QUESTION)], [TOOL_CALL])),
    (
        "answer",
        call_attributes(
            [said("system", SYSTEM), said("user", QUESTION), TOOL_CALL, TOOL_RESULT],
            [said("assistant", "It has shipped.")],
        ),
    ),
    (
        "stream",
        call_attributes(
            [
                said("system", SYSTEM),
                said("user", QUESTION),
                TOOL_CALL,
                TOOL_RESULT,
                said("assistant", "It has shipped."),
                said("user", "When?"),
            ],
            [said("assistant", "Tomorrow.")],
        ),
    ),
]
TURNS = [
    ("system", SYSTEM),
    ("user", QUESTION),
    ("assistant", "tool_call"),
    ("tool", "tool_result"),
    ("assistant", "It has shipped."),
    ("user", "When?"),
    ("assistant", "Tomorrow."),
]


def spans_of(calls, root=None):
    tracer, exporter = recording_tracer()
    agent_run(tracer, calls, root)
    return list(exporter.get_finished_spans())


def turns(workspace):
    return [
        (m.role, m.content if isinstance(m.content, str) else m.content["type"])
        for m in ChatMessage.objects.filter(workspace=workspace).order_by("sequence")
    ]


def stored_turns(workspace):
    return sorted(
        ChatMessage.objects.filter(workspace=workspace).values_list("event_id", "created_at", "step_id")
    )


class ConversationTurnsTest(TestCase):
    def ingest(self, spans, workspace=None):
        workspace = workspace or make_workspace()
        ingest_spans(workspace, encode_spans(spans))
        return workspace

    def test_the_turns_are_the_exchange_with_the_user_in_order_each_once(self):
        workspace = self.ingest(spans_of(CONVERSATION))
        self.assertEqual(turns(workspace), TURNS)

    def test_an_internal_call_keeps_its_messages_in_its_task_and_gives_no_turn(self):
        workspace = self.ingest(spans_of(CONVERSATION))
        classify = Task.objects.get(run__workspace=workspace, name="classify")
        self.assertEqual(classify.output, [said("assistant", "shipping")])
        self.assertNotIn(
            "Classify the intent.", [m.content for m in ChatMessage.objects.filter(workspace=workspace)]
        )

    def test_a_call_without_a_system_prompt_continues_the_conversation(self):
        # The follow-up asked of another model alone (LangGraph's failing call): the question stays.
        follow_up = ("fallback", call_attributes([said("user", "Anything else?")]))
        workspace = self.ingest(spans_of([*CONVERSATION[:3], follow_up]))
        self.assertEqual(turns(workspace), [*TURNS[:5], ("user", "Anything else?")])

    def test_a_main_call_without_its_system_prompt_keeps_the_one_its_first_call_sent(self):
        # Some instrumentations record the instructions of the first call only.
        answer = call_attributes(
            [said("user", QUESTION), TOOL_CALL, TOOL_RESULT], [said("assistant", "It has shipped.")]
        )
        workspace = self.ingest(spans_of([*CONVERSATION[:2], ("answer", answer)]))
        self.assertEqual(turns(workspace), TURNS[:5])

    def test_the_root_exchange_gives_the_turns_only_when_no_call_carries_messages(self):
        root = {
            "input.value": "Hello?",
            "input.mime_type": "text/plain",
            "output.value": "Hi.",
            "output.mime_type": "text/plain",
        }
        workspace = self.ingest(spans_of([], root=root))
        self.assertEqual(turns(workspace), [("user", "Hello?"), ("assistant", "Hi.")])
        workspace = self.ingest(spans_of(CONVERSATION, root=root))
        self.assertEqual(turns(workspace), TURNS)

    def test_turns_keep_the_conversation_order_when_calls_overlap(self):
        # A call that ends after the next one started (an async SDK): its answer still comes first.
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("agent", attributes=SESSION):
            answer = tracer.start_span("answer", attributes=CONVERSATION[2][1])
            with tracer.start_as_current_span("stream", attributes=CONVERSATION[3][1]):
                pass
            answer.end()
        workspace = self.ingest(list(exporter.get_finished_spans()))
        # The history before the last answer came with earlier calls: here only what is new in these two.
        self.assertEqual(turns(workspace), TURNS[3:])

    def test_the_turns_do_not_depend_on_the_order_the_spans_come_in(self):
        spans = spans_of(CONVERSATION)
        whole = self.ingest(spans)
        workspace = make_workspace()
        # Children first, one a request, the classifier alone first: it looked like the conversation.
        for span in spans:
            self.ingest([span], workspace)
        self.assertEqual(turns(workspace), TURNS)
        self.assertEqual(stored_turns(workspace), stored_turns(whole))
        messages = Event.objects.filter(workspace=workspace, type="message")
        self.assertEqual(messages.count(), len(TURNS))
        self.assertEqual(Session.objects.get(workspace=workspace).message_count, len(TURNS))

    def test_a_request_sent_again_changes_no_turn(self):
        spans = spans_of(CONVERSATION)
        workspace = self.ingest(spans)
        before = sorted(Event.objects.filter(workspace=workspace).values_list("event_id", "id"))
        self.ingest(spans, workspace)
        self.assertEqual(
            sorted(Event.objects.filter(workspace=workspace).values_list("event_id", "id")), before
        )

    def test_a_turn_given_another_way_stays_when_the_spans_come_again(self):
        # A turn of a step whose span carries no messages (as OTLP log records can give one).
        spans = spans_of(CONVERSATION)
        workspace = self.ingest(spans)
        run_id = format(spans[0].context.trace_id, "032x")
        body = {
            "session_id": "conv-turns",
            "role": "user",
            "content": "Thanks!",
            "run_id": run_id,
            "step_id": "0" * 16,
        }
        at = datetime.now(UTC).isoformat()
        ingest_batch(
            workspace,
            [
                {
                    "id": message_key(run_id, "user", "Thanks!", 0),
                    "type": "message",
                    "timestamp": at,
                    "body": body,
                }
            ],
        )
        self.ingest(spans, workspace)
        self.assertEqual(turns(workspace), [*TURNS, ("user", "Thanks!")])


class LangfuseTurnsTest(TestCase):
    def test_an_observe_input_wrapped_as_args_gives_the_user_turn(self):
        tracer, exporter = recording_tracer()
        root = {
            "langfuse.observation.input": json.dumps({"args": [QUESTION], "kwargs": {}}),
            "langfuse.observation.output": "It has shipped.",
        }
        agent_run(tracer, [], root)
        workspace = make_workspace()
        ingest_spans(workspace, encode_spans(exporter.get_finished_spans()))
        self.assertEqual(turns(workspace), [("user", QUESTION), ("assistant", "It has shipped.")])

    def test_the_trace_input_gives_the_user_turn(self):
        tracer, exporter = recording_tracer()
        root = {
            "langfuse.trace.input": QUESTION,
            "langfuse.observation.input": json.dumps({"args": ["order-A-1", 3], "kwargs": {}}),
        }
        agent_run(tracer, [], root)
        workspace = make_workspace()
        ingest_spans(workspace, encode_spans(exporter.get_finished_spans()))
        self.assertEqual(turns(workspace), [("user", QUESTION)])

    def test_a_generation_logged_with_its_request_body_gives_its_messages(self):
        # langfuse.openai logs {"tools": …, "messages": […]} as a generation's input.
        generation = {
            "langfuse.observation.type": "generation",
            "langfuse.observation.input": json.dumps(
                {"tools": [], "messages": [said("system", SYSTEM), said("user", QUESTION)]}
            ),
            "langfuse.observation.output": json.dumps(said("assistant", "It has shipped.")),
            **SESSION,
        }
        tracer, exporter = recording_tracer()
        agent_run(tracer, [("OpenAI-generation", generation)])
        workspace = make_workspace()
        ingest_spans(workspace, encode_spans(exporter.get_finished_spans()))
        self.assertEqual(
            turns(workspace), [("system", SYSTEM), ("user", QUESTION), ("assistant", "It has shipped.")]
        )


class OpenLLMetryTurnsTest(TestCase):
    def setUp(self):
        tracer, exporter = recording_tracer()
        session = {"traceloop.association.properties.session_id": "conv-traceloop"}
        with tracer.start_as_current_span(
            "support.workflow", attributes={**session, "traceloop.span.kind": "workflow"}
        ):
            with tracer.start_as_current_span(
                "openai.chat",
                attributes={
                    **session,
                    "llm.request.type": "chat",
                    "gen_ai.prompt.0.role": "system",
                    "gen_ai.prompt.0.content": SYSTEM,
                    "gen_ai.prompt.1.role": "user",
                    "gen_ai.prompt.1.content": QUESTION,
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.finish_reason": "tool_calls",
                    "gen_ai.completion.0.tool_calls.0.id": "c1",
                    "gen_ai.completion.0.tool_calls.0.name": "get_order",
                    "gen_ai.completion.0.tool_calls.0.arguments": '{"order_id": "A-1"}',
                },
            ):
                pass
            with tracer.start_as_current_span(
                "get_order.tool",
                attributes={
                    **session,
                    "traceloop.span.kind": "tool",
                    "traceloop.entity.input": json.dumps({"args": [], "kwargs": {"order_id": "A-1"}}),
                    "traceloop.entity.output": json.dumps("shipped"),
                },
            ):
                pass
            with tracer.start_as_current_span(
                "openai.chat",
                attributes={
                    **session,
                    "llm.request.type": "chat",
                    "gen_ai.prompt.0.role": "system",
                    "gen_ai.prompt.0.content": SYSTEM,
                    "gen_ai.prompt.1.role": "user",
                    "gen_ai.prompt.1.content": QUESTION,
                    "gen_ai.prompt.2.role": "assistant",
                    "gen_ai.prompt.2.tool_calls.0.id": "c1",
                    "gen_ai.prompt.2.tool_calls.0.name": "get_order",
                    "gen_ai.prompt.2.tool_calls.0.arguments": '{"order_id": "A-1"}',
                    "gen_ai.prompt.3.role": "tool",
                    "gen_ai.prompt.3.tool_call_id": "c1",
                    "gen_ai.prompt.3.content": "shipped",
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.content": "It has shipped.",
                },
            ):
                pass
        self.workspace = make_workspace()
        ingest_spans(self.workspace, encode_spans(exporter.get_finished_spans()))

    def test_the_association_properties_name_the_conversation(self):
        self.assertEqual(Session.objects.get(workspace=self.workspace).session_id, "conv-traceloop")

    def test_prompts_completions_and_tool_calls_give_the_turns(self):
        self.assertEqual(turns(self.workspace), TURNS[:5])
        call = ChatMessage.objects.get(workspace=self.workspace, role="assistant", content__type="tool_call")
        self.assertEqual(call.content["name"], "get_order")
        self.assertEqual(call.content["arguments"], {"order_id": "A-1"})

    def test_the_entity_input_and_output_are_the_payloads_of_a_decorated_function(self):
        tool = Task.objects.get(run__workspace=self.workspace, name="get_order.tool")
        self.assertEqual((tool.input, tool.output), ({"args": [], "kwargs": {"order_id": "A-1"}}, "shipped"))


class ChainInputTest(TestCase):
    def test_a_chain_span_keeps_its_own_input_though_it_lists_llm_messages(self):
        state = {"messages": [{"type": "system", "data": {"content": SYSTEM}}], "intent": "shipping"}
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span(
            "agent",
            attributes={
                "openinference.span.kind": "CHAIN",
                "input.value": json.dumps(state),
                "input.mime_type": "application/json",
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": SYSTEM,
            },
        ):
            pass
        workspace = make_workspace()
        ingest_spans(workspace, encode_spans(exporter.get_finished_spans()))
        self.assertEqual(Task.objects.get(run__workspace=workspace, name="agent").input, state)
