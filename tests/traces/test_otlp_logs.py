"""POST /v1/logs: the OTLP/HTTP contract, records in the run's event log, and GenAI records joined to
their spans whichever arrives first.

Records and spans are made by the real OpenTelemetry SDK and encoded by its OTLP encoders.
"""

import gzip
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import TestCase
from google.rpc import status_pb2
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.trace import SpanKind

from tests.factories import make_api_key, make_cast, make_workspace
from tests.otel import JSON, PROTOBUF, messages, protobuf_body, recording_tracer, span_id_of, trace_id_of
from tests.otel_logs import logs_json_body, logs_protobuf_body, recording_logger
from tests.traces.test_ingest_chunked import get, send_chunked, served  # noqa: F401 - served is a fixture
from traces.models import Agent, ChatMessage, Event, ModelCall, PayloadMode, Task
from traces.rollups.daily import differences

URL = "/v1/logs"
SYSTEM, QUESTION, ANSWER = "Answer briefly.", "Where is my order A-1?", "It shipped yesterday."
TOOL_CALL = {
    "id": "call-1",
    "type": "function",
    "function": {"name": "get_order", "arguments": '{"order": "A-1"}'},
}


class LogsTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        _, cls.key = make_api_key(cls.workspace)

    def post(self, body, content_type=PROTOBUF, url=URL, encoding=None):
        headers = {"Authorization": f"Bearer {self.key}"}
        if encoding:
            headers["Content-Encoding"] = encoding
        return self.client.post(url, body, content_type=content_type, headers=headers)

    def send_logs(self, records, **kwargs):
        response = self.post(records if isinstance(records, bytes) else logs_protobuf_body(records), **kwargs)
        self.assertEqual(response.status_code, 200, response.content)
        return response

    def send_spans(self, spans):
        response = self.post(protobuf_body(spans), url="/v1/traces")
        self.assertEqual(response.status_code, 200, response.content)


def plain_log():
    """A trace with one span under which the application logged an error: (spans, records)."""
    tracer, spans = recording_tracer()
    logger, records = recording_logger(scope="payments")
    with tracer.start_as_current_span("charge card"):
        logger.emit(
            body="card declined",
            severity_number=SeverityNumber.ERROR,
            severity_text="ERROR",
            attributes={"order": "A-1", "attempt": 2},
        )
    return spans.get_finished_spans(), records.get_finished_logs()


def events_call(conversation="conv-1", finish_on_span=False):
    """A model call whose messages come as GenAI event records (semantic conventions 1.30), as the
    openai-v2 instrumentation sends them when asked to: (spans, records). The span carries no messages
    and, as for a streamed reply, no finish reason unless `finish_on_span`."""
    tracer, spans = recording_tracer()
    logger, records = recording_logger(scope="opentelemetry.instrumentation.openai_v2")
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": conversation}
    call = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 8,
    }
    if finish_on_span:
        call["gen_ai.response.finish_reasons"] = ["length"]
    genai = {"gen_ai.system": "openai"}
    choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ANSWER}}
    said = [
        ("gen_ai.system.message", {"content": SYSTEM}),
        ("gen_ai.user.message", {"content": QUESTION}),
        ("gen_ai.assistant.message", {"tool_calls": [TOOL_CALL]}),
        ("gen_ai.tool.message", {"content": "shipped", "id": "call-1"}),
        ("gen_ai.choice", choice),
    ]
    with (
        tracer.start_as_current_span("invoke_agent support", attributes=agent),
        tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=call),
    ):
        for name, body in said:
            logger.emit(event_name=name, body=body, attributes=genai)
    return spans.get_finished_spans(), records.get_finished_logs()


def details_call():
    """A model call whose messages come in one gen_ai.client.inference.operation.details record, as the
    openai-v2 instrumentation sends them in its latest mode: (spans, records)."""
    tracer, spans = recording_tracer()
    logger, records = recording_logger(scope="opentelemetry.util.genai.handler")
    details = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": json.loads(messages(("system", SYSTEM), ("user", QUESTION))),
        "gen_ai.output.messages": [
            {"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}
        ],
    }
    with (
        tracer.start_as_current_span("invoke_agent support", attributes={"gen_ai.conversation.id": "conv-2"}),
        tracer.start_as_current_span("chat gpt-4o-mini", attributes={"gen_ai.operation.name": "chat"}),
    ):
        logger.emit(event_name="gen_ai.client.inference.operation.details", attributes=details)
    return spans.get_finished_spans(), records.get_finished_logs()


def chat_span(spans):
    return next(span for span in spans if span.name.startswith("chat"))


def rows(workspace, spans):
    """What a span's records give, for comparing the orders of arrival."""
    span = chat_span(spans)
    task = Task.objects.get(run__workspace=workspace, step_id=span_id_of(span))
    call = ModelCall.objects.get(task=task)
    turns = [
        (m.role, m.content)
        for m in ChatMessage.objects.filter(workspace=workspace).order_by("sequence", "created_at", "id")
    ]
    return {
        "input": task.input,
        "output": task.output,
        "request": call.request,
        "response": call.response,
        "finish_reason": call.finish_reason,
        "turns": turns,
    }


class ContractTest(LogsTestCase):
    def setUp(self):
        self.spans, self.records = plain_log()

    def test_it_answers_an_export_logs_response_in_protobuf(self):
        response = self.send_logs(self.records)
        self.assertEqual(response["Content-Type"], PROTOBUF)
        answer = ExportLogsServiceResponse.FromString(response.content)
        self.assertFalse(answer.HasField("partial_success"))
        self.assertEqual(Event.objects.filter(workspace=self.workspace, type="log").count(), 1)

    def test_it_answers_json_to_json(self):
        response = self.post(logs_json_body(self.records), content_type=JSON)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json(), {})
        self.assertEqual(Event.objects.filter(workspace=self.workspace, type="log").count(), 1)

    def test_it_takes_gzip_bodies(self):
        self.post(gzip.compress(logs_protobuf_body(self.records)), encoding="gzip")
        self.assertEqual(Event.objects.filter(workspace=self.workspace, type="log").count(), 1)

    def test_it_serves_the_langfuse_path_too(self):
        response = self.post(logs_protobuf_body(self.records), url="/api/public/otel/v1/logs")
        self.assertEqual(response.status_code, 200, response.content)

    def test_it_refuses_a_request_without_a_valid_key(self):
        response = self.client.post(
            URL,
            logs_protobuf_body(self.records),
            content_type=PROTOBUF,
            headers={"Authorization": "Bearer x"},
        )
        self.assertEqual(response.status_code, 401)
        self.assertIn("API key", status_pb2.Status.FromString(response.content).message)

    def test_it_needs_the_ingest_scope(self):
        _, read_only = make_api_key(self.workspace, label="reader", scopes=("read",))
        response = self.client.post(
            URL,
            logs_protobuf_body(self.records),
            content_type=PROTOBUF,
            headers={"Authorization": f"Bearer {read_only}"},
        )
        self.assertEqual(response.status_code, 403)
        self.assertIn("'ingest' scope", status_pb2.Status.FromString(response.content).message)

    def test_bad_input_is_a_400_naming_the_field(self):
        body = json.loads(logs_json_body(self.records))
        body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["traceId"] = "not hex"
        response = self.post(json.dumps(body).encode(), content_type=JSON)
        self.assertEqual(response.status_code, 400)
        self.assertIn("traceId: 'not hex' is not hex", response.json()["message"])
        broken = self.post(b"\xff\xff not protobuf")
        self.assertEqual(broken.status_code, 400)
        self.assertIn("ExportLogsServiceRequest", status_pb2.Status.FromString(broken.content).message)

    def test_a_record_without_a_trace_is_rejected_alone_as_a_partial_success(self):
        logger, exporter = recording_logger()
        logger.emit(body="no trace here")
        response = self.send_logs([*self.records, *exporter.get_finished_logs()])
        answer = ExportLogsServiceResponse.FromString(response.content)
        self.assertEqual(answer.partial_success.rejected_log_records, 1)
        rejected = "scope_logs.1.log_records.0: trace_id: must be 16 bytes"
        self.assertIn(rejected, answer.partial_success.error_message)
        self.assertEqual(Event.objects.filter(workspace=self.workspace, type="log").count(), 1)

    def test_a_record_sent_twice_is_stored_once(self):
        self.send_logs(self.records)
        self.send_logs(self.records)
        self.assertEqual(Event.objects.filter(workspace=self.workspace, type="log").count(), 1)


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_whole(served):  # noqa: F811 - the fixture
    port, key = served
    spans, records = plain_log()
    status, body = send_chunked(port, URL, logs_protobuf_body(records), key, PROTOBUF, chunk=7)
    assert status == 200, body
    assert not ExportLogsServiceResponse.FromString(body).HasField("partial_success")
    assert get(port, f"/api/v1/runs/{trace_id_of(spans[0])}", key)[0] == 200


class EventLogTest(LogsTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.cast = make_cast(cls.workspace)

    def setUp(self):
        self.spans, self.records = plain_log()
        self.run_id = trace_id_of(self.spans[0])

    def test_a_record_is_a_log_line_of_its_run_under_its_span_with_severity_body_and_attributes(self):
        self.send_logs(self.records)
        self.send_spans(self.spans)
        event = Event.objects.get(workspace=self.workspace, type="log")
        self.assertEqual(event.run.run_id, self.run_id)
        self.assertEqual(event.step_id, "")  # a line of the log, not a task of its own
        self.assertEqual(
            event.payload,
            {
                "run_id": self.run_id,
                "parent_id": span_id_of(self.spans[0]),
                "name": "payments",
                "level": "error",
                "body": "card declined",
                "metadata": {"order": "A-1", "attempt": 2},
            },
        )
        self.assertEqual(
            list(Task.objects.filter(run__run_id=self.run_id).values_list("name")), [("charge card",)]
        )

    def test_a_record_logged_outside_any_span_is_a_line_of_its_run_without_a_parent(self):
        logger, exporter = recording_logger()
        logger.emit(LogRecord(body="batch started", trace_id=int(self.run_id, 16), span_id=0))
        body = encode_logs(exporter.get_finished_logs())
        # Python's encoder leaves the invalid span id out; other SDKs send it as zeros.
        body.resource_logs[0].scope_logs[0].log_records[0].span_id = bytes(8)
        self.send_logs(body.SerializeToString())
        event = Event.objects.get(workspace=self.workspace, type="log")
        self.assertEqual(event.run.run_id, self.run_id)
        self.assertNotIn("parent_id", event.payload)

    def test_the_level_is_the_severity_text_when_no_number_is_sent(self):
        tracer, _ = recording_tracer()
        logger, exporter = recording_logger()
        with tracer.start_as_current_span("job"):
            logger.emit(body="slow query", severity_text="NOTICE")
            logger.emit(body="no severity at all")
        self.send_logs(exporter.get_finished_logs())
        levels = sorted(Event.objects.filter(type="log").values_list("payload__level", flat=True))
        self.assertEqual(levels, ["info", "notice"])

    def test_manage_py_logs_prints_it(self):
        self.send_logs(self.records)
        out = StringIO()
        call_command("logs", run=self.run_id, stdout=out)
        self.assertIn("log              [error] payments card declined", out.getvalue())
        errors = StringIO()
        call_command("logs", run=self.run_id, errors=True, stdout=errors)
        self.assertIn("card declined", errors.getvalue())

    def test_the_events_tab_shows_it(self):
        self.send_logs(self.records)
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(f"/w/acme/runs/{self.run_id}/events/")
        self.assertContains(response, "card declined")
        self.assertEqual([e.type for e in response.context["events"]], ["log"])


class GenAiRecordsTest(LogsTestCase):
    def test_event_records_give_the_spans_payload_its_finish_reason_and_the_turns(self):
        spans, records = events_call()
        self.send_spans(spans)
        self.send_logs(records)
        stored = rows(self.workspace, spans)
        tool_call = {"type": "tool_call", "id": "call-1", "name": "get_order", "arguments": {"order": "A-1"}}
        tool_result = {"type": "tool_result", "id": "call-1", "result": "shipped"}
        history = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": tool_call},
            {"role": "tool", "content": tool_result},
        ]
        self.assertEqual(stored["input"], history)
        self.assertEqual(stored["request"], history)
        self.assertEqual(stored["output"], [{"role": "assistant", "content": ANSWER}])
        self.assertEqual(stored["response"], stored["output"])
        self.assertEqual(stored["finish_reason"], "stop")
        # What is new after the last assistant message (the rest is history), as for a span's messages.
        self.assertEqual(stored["turns"], [("tool", tool_result), ("assistant", ANSWER)])
        self.assertEqual(differences(self.workspace), [])

    def test_records_before_their_spans_give_the_same_rows(self):
        spans, records = events_call()
        self.send_spans(spans)
        self.send_logs(records)
        after = rows(self.workspace, spans)
        other = make_workspace(slug="other")
        _, self.key = make_api_key(other)
        self.send_logs(records)
        self.send_spans(spans)
        self.assertEqual(rows(other, spans), after)
        self.assertEqual(differences(self.workspace), [])

    def test_records_split_over_requests_and_sent_again_give_the_same_rows(self):
        spans, records = events_call()
        self.send_logs(records[:2])
        self.send_spans(spans)
        self.send_logs(records[2:])
        self.send_logs(records)
        split = rows(self.workspace, spans)
        other = make_workspace(slug="other")
        _, self.key = make_api_key(other)
        self.send_logs(records)
        self.send_spans(spans)
        self.assertEqual(rows(other, spans), split)

    def test_the_spans_own_finish_reason_wins(self):
        spans, records = events_call(finish_on_span=True)
        self.send_logs(records)
        self.send_spans(spans)
        self.assertEqual(rows(self.workspace, spans)["finish_reason"], "length")

    def test_an_operation_details_record_gives_the_calls_messages_and_finish_reason(self):
        spans, records = details_call()
        self.send_spans(spans)
        self.send_logs(records)
        stored = rows(self.workspace, spans)
        self.assertEqual(
            stored["input"], [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
        )
        self.assertEqual(stored["output"], [{"role": "assistant", "content": ANSWER}])
        self.assertEqual(stored["finish_reason"], "stop")
        self.assertEqual(stored["turns"], [("system", SYSTEM), ("user", QUESTION), ("assistant", ANSWER)])

    def test_a_run_that_names_its_conversation_later_gets_the_turns_then(self):
        spans, records = events_call()
        root = next(span for span in spans if span.parent is None)
        self.send_spans([span for span in spans if span is not root])
        self.send_logs(records)
        self.assertFalse(ChatMessage.objects.exists())
        self.send_spans([root])
        self.assertEqual(len(rows(self.workspace, spans)["turns"]), 2)

    def test_the_payload_mode_cuts_the_records_messages(self):
        Agent.objects.create(
            workspace=self.workspace, agent_id="support", name="support", mode=PayloadMode.MINIMAL
        )
        tracer, span_exporter = recording_tracer(service="support")
        logger, log_exporter = recording_logger()
        with tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat"}):
            logger.emit(event_name="gen_ai.user.message", body={"content": "my card is 4242"})
        self.send_spans(span_exporter.get_finished_spans())
        self.send_logs(log_exporter.get_finished_logs())
        event = Event.objects.get(type="log")
        self.assertEqual(event.payload["input"], "[omitted: minimal mode]")
        self.assertIsNone(Task.objects.get().input)
        self.assertNotIn("4242", json.dumps(list(Event.objects.values_list("payload", flat=True))))
