"""Spans that report the same model response (`gen_ai.response.id`), as OpenLLMetry's anthropic.chat
and anthropic.messages.create do, are one model call whose fields merge, in whichever order the spans
arrive, in one request or in several."""

import json

from opentelemetry import trace

from tests.events import BASE
from tests.otel import recording_tracer, span_id_of
from tests.traces.test_otlp_api import OtlpTestCase
from traces.models import ModelCall, Run, Task
from traces.rollups.daily import differences

MS = 1_000_000  # nanoseconds


def at(ms):
    return int(BASE.timestamp() * 1e9) + ms * MS


def same_response_spans():
    """A workflow span and two spans of one Anthropic call: the HTTP-level one starts first and has no
    finish reason; the chat one has the messages, the finish reason and a first chunk. Returns the
    finished spans in order: messages.create, chat, the root."""
    tracer, exporter = recording_tracer()
    root = tracer.start_span(
        "support.workflow", start_time=at(0), attributes={"traceloop.span.kind": "workflow"}
    )
    inside = trace.set_span_in_context(root)
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.response.model": "claude-3-5-haiku",
        "gen_ai.response.id": "msg_1",
        "gen_ai.usage.input_tokens": 40,
        "gen_ai.usage.output_tokens": 12,
    }
    create = tracer.start_span(
        "anthropic.messages.create", context=inside, start_time=at(10), attributes=common
    )
    create.end(end_time=at(900))
    chat_attributes = {
        **common,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "Hi"}]}]
        ),
    }
    chat = tracer.start_span("anthropic.chat", context=inside, start_time=at(20), attributes=chat_attributes)
    chat.add_event("gen_ai.content.completion.chunk", timestamp=at(120))
    chat.end(end_time=at(800))
    root.end(end_time=at(1000))
    return exporter.get_finished_spans()


class SameCallTest(OtlpTestCase):
    def the_call(self):
        call = ModelCall.objects.select_related("task").get(run__workspace=self.workspace)
        run = Run.objects.get(workspace=self.workspace)
        return call, run

    def assert_one_merged_call(self):
        call, run = self.the_call()
        self.assertEqual(call.call_id, "response:msg_1")
        self.assertEqual((call.prompt_tokens, call.completion_tokens, call.finish_reason), (40, 12, "stop"))
        self.assertEqual((call.ttft_ms, call.latency_ms), (100, 890))
        self.assertEqual(call.response, [{"role": "assistant", "content": "Hi"}])
        # The earliest span shows the call; the other task keeps no totals of it.
        self.assertEqual(call.task.name, "anthropic.messages.create")
        self.assertEqual(call.step_id, span_id_of(self.spans[0]))
        chat = Task.objects.get(run=run, name="anthropic.chat")
        self.assertEqual((chat.total_tokens, call.task.total_tokens), (0, 52))
        self.assertEqual((run.model_calls, run.prompt_tokens, run.completion_tokens), (1, 40, 12))
        self.assertEqual(differences(self.workspace), [])

    def setUp(self):
        self.spans = same_response_spans()

    def test_two_spans_of_one_response_in_one_request_are_one_call(self):
        self.send(self.spans)
        self.assert_one_merged_call()

    def test_the_span_that_shows_the_call_may_come_first(self):
        for span in self.spans:
            self.send([span])
        self.assert_one_merged_call()

    def test_the_span_that_shows_the_call_may_come_last(self):
        for span in reversed(self.spans):
            self.send([span])
        self.assert_one_merged_call()

    def test_a_span_sent_again_changes_nothing(self):
        self.send(self.spans)
        self.send(self.spans[1:2])
        self.assert_one_merged_call()

    def test_calls_without_a_response_id_stay_one_per_span(self):
        tracer, exporter = recording_tracer()
        usage = {"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 5}
        with tracer.start_as_current_span("agent"):
            for name in ("first", "second"):
                with tracer.start_as_current_span(name, attributes=usage):
                    pass
        self.send(exporter.get_finished_spans())
        self.assertEqual(ModelCall.objects.filter(run__workspace=self.workspace).count(), 2)
