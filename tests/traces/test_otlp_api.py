"""POST /v1/traces: the OTLP/HTTP contract and the mapping of spans onto the run record.

Spans are made by the real OpenTelemetry SDK and encoded by its OTLP encoder; the live-server tests
in test_otlp_exporters.py send them through the real exporters.
"""

import base64
import gzip
import json
from decimal import Decimal

from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.factories import make_api_key, make_workspace
from tests.otel import (
    JSON,
    PROTOBUF,
    genai_turn,
    json_body,
    openinference_turn,
    protobuf_body,
    recording_tracer,
    span_id_of,
    trace_id_of,
)
from traces.models import ChatMessage, Event, ModelCall, RedactionRule, Run, Session, Task

URL = "/v1/traces"


class OtlpTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def post(self, body, content_type=PROTOBUF, url=URL, key=None, encoding=None, authorization=None):
        headers = {"Authorization": f"Bearer {key or self.key}" if authorization is None else authorization}
        if encoding:
            headers["Content-Encoding"] = encoding
        return self.client.post(url, body, content_type=content_type, headers=headers)

    def send(self, spans, **kwargs):
        response = self.post(spans if isinstance(spans, bytes) else protobuf_body(spans), **kwargs)
        self.assertEqual(response.status_code, 200, response.content)
        return response


class ContractTest(OtlpTestCase):
    def setUp(self):
        tracer, self.exporter = recording_tracer()
        with tracer.start_as_current_span("job"):
            pass

    def test_it_answers_an_export_response_in_protobuf(self):
        response = self.send(self.exporter.get_finished_spans())
        self.assertEqual(response["Content-Type"], PROTOBUF)
        answer = ExportTraceServiceResponse.FromString(response.content)
        self.assertFalse(answer.HasField("partial_success"))

    def test_it_answers_json_to_json(self):
        response = self.post(json_body(self.exporter.get_finished_spans()), content_type=JSON)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], JSON)
        self.assertEqual(response.json(), {})
        self.assertTrue(Run.objects.filter(workspace=self.workspace).exists())

    def test_it_takes_gzip_bodies(self):
        body = gzip.compress(protobuf_body(self.exporter.get_finished_spans()))
        response = self.post(body, encoding="gzip")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(Run.objects.filter(workspace=self.workspace).count(), 1)

    def test_it_serves_the_langfuse_path_too(self):
        body = protobuf_body(self.exporter.get_finished_spans())
        response = self.post(body, url="/api/public/otel/v1/traces")
        self.assertEqual(response.status_code, 200)

    def test_it_accepts_the_key_as_the_basic_auth_password(self):
        basic = base64.b64encode(f"pk-lf-anything:{self.key}".encode()).decode()
        body = protobuf_body(self.exporter.get_finished_spans())
        response = self.post(body, authorization=f"Basic {basic}")
        self.assertEqual(response.status_code, 200)

    def test_it_refuses_a_request_without_a_valid_key(self):
        body = protobuf_body(self.exporter.get_finished_spans())
        for authorization in (
            "",
            "Bearer bo_wrong",
            "Basic !!!",
            "Basic " + base64.b64encode(b"only").decode(),
        ):
            with self.subTest(authorization=authorization):
                response = self.post(body, authorization=authorization)
                self.assertEqual(response.status_code, 401)
                self.assertIn("API key", status_pb2.Status.FromString(response.content).message)
        self.assertFalse(Run.objects.exists())

    def test_it_refuses_a_key_of_nobody_after_revocation(self):
        api_key, raw = make_api_key(self.workspace)
        api_key.revoked_at = api_key.created_at
        api_key.save()
        response = self.post(protobuf_body(self.exporter.get_finished_spans()), key=raw)
        self.assertEqual(response.status_code, 401)

    def test_it_answers_400_with_a_status_for_a_malformed_protobuf_body(self):
        response = self.post(b"\xff\xff\xff not protobuf")
        self.assertEqual(response.status_code, 400)
        status = status_pb2.Status.FromString(response.content)
        self.assertIn("protobuf", status.message)

    def test_it_answers_400_with_a_status_for_malformed_json(self):
        for body in (
            b"{not json",
            b'{"resourceSpans": 7}',
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
        ):
            with self.subTest(body=body):
                response = self.post(body, content_type=JSON)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response["Content-Type"], JSON)
                self.assertTrue(response.json()["message"])

    def test_it_answers_400_for_a_broken_gzip_body(self):
        response = self.post(b"not gzip at all", encoding="gzip")
        self.assertEqual(response.status_code, 400)
        self.assertIn("gzip", status_pb2.Status.FromString(response.content).message)

    def test_it_answers_415_for_other_content_types(self):
        response = self.post(b"<xml/>", content_type="text/xml")
        self.assertEqual(response.status_code, 415)
        response = self.post(b"x", encoding="br")
        self.assertEqual(response.status_code, 415)

    @override_settings(INGEST_MAX_BYTES=100)
    def test_it_answers_413_past_the_size_limit(self):
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("big", attributes={"input.value": "x" * 500}):
            pass
        response = self.post(protobuf_body(exporter.get_finished_spans()))
        self.assertEqual(response.status_code, 413)
        # A small gzip body that inflates past the limit is refused too.
        response = self.post(gzip.compress(b"\0" * 1000), encoding="gzip")
        self.assertEqual(response.status_code, 413)
        self.assertFalse(Run.objects.exists())

    def test_it_only_takes_post(self):
        response = self.client.get(URL, headers={"Authorization": f"Bearer {self.key}"})
        self.assertEqual(response.status_code, 405)

    def test_it_reports_rejected_spans_as_a_partial_success(self):
        payload = json.loads(json_body(self.exporter.get_finished_spans()))
        spans = payload["resourceSpans"][0]["scopeSpans"][0]["spans"]
        spans.append({**spans[0], "spanId": "0000000000000000", "name": "broken"})
        spans.append({**spans[0], "spanId": "00000000000000aa", "name": "x" * 20, "startTimeUnixNano": "0"})
        response = self.post(json.dumps(payload).encode(), content_type=JSON)
        self.assertEqual(response.status_code, 200)
        partial = response.json()["partialSuccess"]
        self.assertEqual(partial["rejectedSpans"], "2")
        self.assertIn("span_id", partial["errorMessage"])
        self.assertIn("start_time_unix_nano", partial["errorMessage"])
        self.assertEqual(Task.objects.filter(run__workspace=self.workspace).count(), 1)

    def test_a_span_sent_twice_is_stored_once(self):
        spans = self.exporter.get_finished_spans()
        self.send(spans)
        self.send(spans)
        self.assertEqual(Task.objects.filter(run__workspace=self.workspace).count(), 1)
        self.assertEqual(Event.objects.filter(workspace=self.workspace).count(), 4)


class GenAiMappingTest(OtlpTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        tracer, exporter = recording_tracer()
        root = genai_turn(tracer, fail_tool=True)
        # Test data is copied for every test; spans hold locks, so keep what the tests need.
        cls.body = protobuf_body(exporter.get_finished_spans())
        cls.trace_id, cls.root_id = trace_id_of(root), span_id_of(root)
        cls.root_times = (root.start_time, root.end_time)

    def setUp(self):
        self.send(self.body)
        self.run = Run.objects.select_related("session", "agent").get(workspace=self.workspace)

    def test_the_trace_becomes_a_run_named_by_its_root_span(self):
        run = self.run
        self.assertEqual(run.run_id, self.trace_id)
        self.assertEqual(len(run.run_id), 32)
        self.assertEqual(run.workflow, "support turn")
        self.assertEqual(run.agent.agent_id, "support-agent")
        self.assertEqual(run.status, "completed")
        self.assertEqual(run.user_id, "customer-42")
        start, end = self.root_times
        self.assertEqual(run.started_at.timestamp(), start // 1000 / 1e6)
        self.assertEqual(run.duration_ms, (end // 1000 - start // 1000) // 1000)
        self.assertEqual(run.trace, ["support turn"])

    def test_spans_become_tasks_typed_by_their_operation_under_their_parents(self):
        tasks = {t.step_id: t for t in Task.objects.filter(run=self.run).select_related("parent")}
        root = tasks[self.root_id]
        self.assertEqual((root.type, root.parent), ("agent", None))
        children = sorted(tasks.values(), key=lambda t: t.sequence)[1:]
        self.assertEqual(
            [(t.name, t.type, t.status) for t in children if t.parent == root],
            [
                ("chat gpt-4o", "llm", "ok"),
                ("execute_tool get_order", "tool", "failed"),
                ("chat gpt-4o", "llm", "ok"),
            ],
        )
        tool = next(t for t in children if t.type == "tool")
        self.assertEqual(tool.input, {"order": "A-1"})
        self.assertEqual(tool.error["message"], "orders service timed out")
        self.assertEqual(tool.error["type"], "TimeoutError")
        self.assertEqual(tool.metadata["attributes"]["gen_ai.tool.name"], "get_order")
        self.assertNotIn("gen_ai.tool.call.arguments", tool.metadata["attributes"])

    def test_spans_with_token_counts_become_model_calls(self):
        calls = list(ModelCall.objects.filter(run=self.run).select_related("task").order_by("created_at"))
        self.assertEqual(len(calls), 2)
        first = calls[0]
        self.assertEqual((first.model, first.provider), ("gpt-4o-2024-08-06", "openai"))
        self.assertEqual((first.prompt_tokens, first.completion_tokens, first.cached_tokens), (120, 30, 100))
        self.assertEqual(first.finish_reason, "tool_calls")
        self.assertEqual(first.task.type, "llm")
        self.assertEqual(first.metadata["parameters"], {"temperature": 0.2})
        self.assertGreaterEqual(first.latency_ms, 0)
        self.assertEqual(first.request[0], {"role": "system", "content": "Be brief."})
        self.assertEqual(self.run.model_calls, 2)
        self.assertEqual(self.run.total_tokens, 362)

    def test_the_conversation_id_gives_the_session_and_the_messages_its_turns(self):
        session = Session.objects.get(workspace=self.workspace)
        self.assertEqual(session.session_id, "conv-1")
        self.assertEqual(self.run.session, session)
        turns = list(ChatMessage.objects.filter(session=session).order_by("sequence"))
        self.assertEqual(
            [(m.role, m.content if isinstance(m.content, str) else m.content["type"]) for m in turns],
            [
                ("system", "Be brief."),
                ("user", "Where is my order?"),
                ("assistant", "tool_call"),
                ("tool", "tool_result"),
                ("assistant", "It ships tomorrow."),
            ],
        )
        self.assertEqual(turns[2].content["name"], "get_order")
        self.assertEqual(turns[3].content["result"], {"status": "shipped"})
        self.assertTrue(all(m.run_id == self.run.pk for m in turns))
        session.refresh_from_db()
        self.assertEqual((session.message_count, session.last_assistant_text), (5, "It ships tomorrow."))

    def test_span_events_appear_in_the_run_event_log(self):
        logs = Event.objects.filter(run=self.run, type="log")
        self.assertEqual(logs.count(), 1)
        exception = logs.get()
        self.assertEqual(exception.payload["level"], "error")
        self.assertEqual(exception.payload["name"], "exception")
        self.assertEqual(exception.payload["metadata"]["exception.type"], "TimeoutError")

    def test_the_next_turn_of_the_conversation_adds_only_its_new_messages(self):
        tracer, exporter = recording_tracer()
        genai_turn(tracer, question="And my other order?")
        self.send(exporter.get_finished_spans())
        session = Session.objects.get(workspace=self.workspace)
        self.assertEqual(session.run_count, 2)
        texts = list(
            ChatMessage.objects.filter(session=session).order_by("sequence").values_list("content", flat=True)
        )
        self.assertEqual(texts.count("Be brief."), 1)
        self.assertEqual(texts[-4], "And my other order?")


class OpenInferenceMappingTest(OtlpTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        tracer, exporter = recording_tracer(service="rag-service")
        openinference_turn(tracer)
        cls.body = protobuf_body(exporter.get_finished_spans())

    def setUp(self):
        self.send(self.body)
        self.run = Run.objects.select_related("session", "agent").get(workspace=self.workspace)

    def test_the_chain_root_gives_the_run_its_payloads_tags_and_metadata(self):
        run = self.run
        self.assertEqual(run.agent.agent_id, "rag-service")
        self.assertEqual((run.input, run.output), ("What is the refund window?", "30 days."))
        self.assertEqual(run.tags, ["faq", "refunds"])
        self.assertEqual(run.metadata["experiment"], "b")
        self.assertEqual((run.session.session_id, run.user_id), ("oi-session", "reader-7"))

    def test_span_kinds_give_task_types(self):
        types = dict(Task.objects.filter(run=self.run).values_list("name", "type"))
        self.assertEqual(types, {"RetrievalQA": "function", "retrieve": "retriever", "ChatAnthropic": "llm"})
        retrieve = Task.objects.get(run=self.run, name="retrieve")
        self.assertEqual(retrieve.input, {"query": "refund window"})

    def test_llm_attributes_give_the_model_call_with_its_cost(self):
        call = ModelCall.objects.get(run=self.run)
        self.assertEqual((call.model, call.provider), ("claude-sonnet-4", "anthropic"))
        self.assertEqual((call.prompt_tokens, call.completion_tokens, call.cached_tokens), (50, 4, 10))
        self.assertEqual(call.cost, Decimal("0.0001234568"))
        self.assertEqual(call.metadata["parameters"], {"max_tokens": 256})
        self.assertEqual(call.response, [{"role": "assistant", "content": "30 days."}])

    def test_the_exchange_is_stored_once_though_root_and_model_call_both_carry_it(self):
        # The model call's messages are the conversation, its system prompt first; the root's plain
        # text repeats them and adds no turn.
        turns = ChatMessage.objects.filter(session__session_id="oi-session").order_by("sequence")
        self.assertEqual(
            [(m.role, m.content) for m in turns],
            [
                ("system", "Answer from the policy."),
                ("user", "What is the refund window?"),
                ("assistant", "30 days."),
            ],
        )


class SplitTraceTest(OtlpTestCase):
    """Spans of one trace sent in several requests, children first, give the rows of one request."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.other = make_workspace()
        _, cls.other_key = make_api_key(cls.other)
        tracer, exporter = recording_tracer()
        root_id = span_id_of(genai_turn(tracer, fail_tool=True))
        spans = exporter.get_finished_spans()
        cls.whole = protobuf_body(spans)
        cls.root = protobuf_body([s for s in spans if span_id_of(s) == root_id])
        # Children end before their parents: reversed, the last-started child comes first.
        cls.children = [protobuf_body([s]) for s in reversed(spans) if span_id_of(s) != root_id]

    def rows(self, workspace):
        run = Run.objects.get(workspace=workspace)
        tasks = Task.objects.filter(run=run).order_by("sequence")
        return {
            "run": (
                run.run_id,
                run.workflow,
                run.status,
                run.started_at,
                run.ended_at,
                run.total_tokens,
                run.session.session_id,
                run.user_id,
                run.agent.agent_id,
                run.trace,
            ),
            "tasks": [
                (
                    t.step_id,
                    t.parent.step_id if t.parent else None,
                    t.sequence,
                    t.name,
                    t.type,
                    t.status,
                    t.started_at,
                    t.ended_at,
                    t.input,
                    t.output,
                    t.error,
                )
                for t in tasks.select_related("parent")
            ],
            "calls": sorted(
                ModelCall.objects.filter(run=run).values_list("call_id", "task__step_id", "total_tokens")
            ),
            "turns": list(
                ChatMessage.objects.filter(run=run)
                .order_by("sequence")
                .values_list("role", "content", "sequence")
            ),
        }

    def test_children_before_parents_in_separate_requests_give_the_same_rows(self):
        self.send(self.whole)
        whole = self.rows(self.workspace)
        for child in self.children:
            self.send(child, key=self.other_key)
        running = Run.objects.get(workspace=self.other)
        self.assertEqual((running.status, running.workflow), ("running", ""))
        self.send(self.root, key=self.other_key)
        self.assertEqual(self.rows(self.other), whole)


class PayloadPolicyTest(OtlpTestCase):
    def test_redaction_rules_mask_span_payloads_and_attributes_before_storage(self):
        RedactionRule.objects.create(workspace=self.workspace, pattern=r"\d{4} \d{4}", replacement="[card]")
        tracer, exporter = recording_tracer()
        card = "card 4111 1111"
        with tracer.start_as_current_span(
            "pay",
            attributes={"input.value": card, "output.value": card, "payment.note": card, "session.id": "s"},
        ):
            pass
        self.send(exporter.get_finished_spans())
        task = Task.objects.get(run__workspace=self.workspace)
        self.assertEqual((task.input, task.output), ("card [card]", "card [card]"))
        self.assertEqual(task.metadata["attributes"]["payment.note"], "card [card]")
        self.assertEqual(
            list(ChatMessage.objects.values_list("content", flat=True)), ["card [card]", "card [card]"]
        )
        stored = json.dumps(list(Event.objects.values_list("payload", flat=True)))
        self.assertNotIn("4111", stored)


class QueryCountTest(OtlpTestCase):
    def body_with(self, steps):
        tracer, exporter = recording_tracer()
        attributes = {"gen_ai.conversation.id": "c", "gen_ai.usage.input_tokens": 5}
        with tracer.start_as_current_span("root", attributes={"gen_ai.conversation.id": "c"}):
            for index in range(steps):
                with tracer.start_as_current_span(f"call {index}", attributes=attributes) as span:
                    span.add_event("retry")
        return protobuf_body(exporter.get_finished_spans())

    def test_a_request_costs_the_same_queries_whatever_its_size(self):
        self.send(self.body_with(1))  # the agent and the conversation exist from here on
        small, large = self.body_with(2), self.body_with(20)
        with CaptureQueriesContext(connection) as queries:
            self.send(small)
        # 32: the conversation's turns stored before are read once, to drop those it no longer holds;
        # the GenAI log records of the spans once, before the workspace lock;
        # 33: the search documents of what the batch stored are written in one statement;
        # 34: the workspace's review rules are read once for the runs that finished;
        # 35: the shapes of the calls stored before are read once with their tasks (turns.stored_calls);
        # 36, 37: the spend roll-up follows the daily roll-ups' two statements.
        self.assertLess(len(queries), 38)
        with self.assertNumQueries(len(queries)):
            self.send(large)
