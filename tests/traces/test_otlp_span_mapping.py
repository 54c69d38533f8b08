"""What a user of each instrumentation expects to see: span events in the event log (never tasks), an
exception as its task's error, failed model calls, time to first token, and usage counted once.

Spans are made by the real OpenTelemetry SDK, with the attributes and events each instrumentation sets.
"""

import json
from datetime import timedelta

from opentelemetry.trace import Status, StatusCode

from tests.events import BASE, event
from tests.factories import make_api_key, make_workspace
from tests.otel import recording_tracer, span_id_of
from tests.traces.test_otlp_api import OtlpTestCase
from traces.ingest import ingest_batch
from traces.models import Event, ModelCall, Run, Task
from traces.rollups.daily import differences
from traces.rollups.model_calls import model_rollup

NS = 1_000_000  # nanoseconds in a millisecond


def nanos(at):
    return int(at.timestamp() * 1e9)


def chat_attributes(**extra):
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        **extra,
    }


class SpanEventsTest(OtlpTestCase):
    def test_span_events_are_lines_of_the_event_log_under_their_span_and_never_tasks(self):
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("agent") as root, tracer.start_as_current_span("lookup") as lookup:
            lookup.add_event("cache miss", {"key": "A-1"})
            lookup.add_event("retry", {"attempt": 2})
        self.send(exporter.get_finished_spans())
        run = Run.objects.get(workspace=self.workspace)
        self.assertEqual(
            sorted(Task.objects.filter(run=run).values_list("name", "status")),
            [("agent", "ok"), ("lookup", "ok")],
        )
        lines = list(Event.objects.filter(run=run, type="log").order_by("timestamp", "event_id"))
        self.assertEqual([line.payload["name"] for line in lines], ["cache miss", "retry"])
        self.assertEqual({line.payload["parent_id"] for line in lines}, {span_id_of(lookup)})
        self.assertEqual(lines[0].payload["metadata"], {"key": "A-1"})
        self.assertEqual({line.step_id for line in lines}, {""})
        self.assertEqual(Task.objects.get(run=run, name="lookup").parent.step_id, span_id_of(root))
        self.assertEqual(differences(self.workspace), [])

    def test_an_exception_under_a_failed_span_is_its_error_with_type_message_and_stack_trace(self):
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("agent"), tracer.start_as_current_span("charge card") as span:
            try:
                raise ConnectionError("payments service unreachable")
            except ConnectionError as exc:
                span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR))
        self.send(exporter.get_finished_spans())
        tasks = {t.name: t for t in Task.objects.filter(run__workspace=self.workspace)}
        self.assertEqual(set(tasks), {"agent", "charge card"})
        failed = tasks["charge card"]
        self.assertEqual(failed.status, "failed")
        self.assertEqual(failed.error["message"], "payments service unreachable")
        self.assertEqual(failed.error["type"], "ConnectionError")
        self.assertIn("raise ConnectionError", failed.error["stacktrace"])
        line = Event.objects.get(run__workspace=self.workspace, type="log")
        self.assertEqual((line.payload["name"], line.payload["level"]), ("exception", "error"))

    def test_an_exception_on_a_span_without_a_status_fails_it_and_an_explicit_ok_keeps_it_ok(self):
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("agent"):
            with tracer.start_as_current_span("unset") as unset:
                unset.record_exception(ValueError("bad order id"))
            with tracer.start_as_current_span("interrupted") as caught:
                # LangGraph's interrupt: recorded, and the span set OK by the instrumentation.
                caught.record_exception(RuntimeError("GraphInterrupt"))
                caught.set_status(Status(StatusCode.OK))
        self.send(exporter.get_finished_spans())
        tasks = {t.name: t for t in Task.objects.filter(run__workspace=self.workspace)}
        self.assertEqual((tasks["unset"].status, tasks["unset"].error["type"]), ("failed", "ValueError"))
        self.assertEqual((tasks["interrupted"].status, tasks["interrupted"].error), ("ok", None))
        self.assertEqual(tasks["agent"].status, "ok")
        self.assertEqual(Event.objects.filter(run__workspace=self.workspace, type="log").count(), 2)

    def test_an_exception_on_the_root_span_fails_the_run_with_its_message_and_type(self):
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("agent") as root:
            root.record_exception(LookupError("no such customer"))
            # OpenInference's LangChain instrumentation writes the whole traceback into the status.
            root.set_status(
                Status(StatusCode.ERROR, "LookupError('no such customer')Traceback (most recent…")
            )
        self.send(exporter.get_finished_spans())
        run = Run.objects.get(workspace=self.workspace)
        self.assertEqual(run.status, "failed")
        self.assertEqual((run.error["message"], run.error["type"]), ("no such customer", "LookupError"))

    def test_a_failed_span_without_an_exception_keeps_its_status_message(self):
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("agent") as root:
            root.set_status(Status(StatusCode.ERROR, "budget exhausted"))
        self.send(exporter.get_finished_spans())
        self.assertEqual(Run.objects.get(workspace=self.workspace).error, "budget exhausted")

    def test_a_batch_log_without_a_step_id_is_an_event_of_the_run_and_no_task(self):
        results = ingest_batch(
            self.workspace,
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot"}),
                event("step.start", {"run_id": "r1", "step_id": "s1", "name": "lookup"}, at=1),
                event(
                    "log", {"run_id": "r1", "parent_id": "s1", "name": "cache miss", "level": "warn"}, at=2
                ),
                event("step.ok", {"run_id": "r1", "step_id": "s1"}, at=3),
            ],
        )
        self.assertEqual({r["status"] for r in results}, {"accepted"})
        self.assertEqual(list(Task.objects.values_list("step_id", "status")), [("s1", "ok")])
        self.assertEqual(Event.objects.get(type="log").payload["parent_id"], "s1")


class FailedModelCallTest(OtlpTestCase):
    def failed_calls(self):
        """OpenInference's failed call (no response model: only the invocation parameters name it) and
        OpenLLMetry's (error.type), each under an agent."""
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("agent"):
            with tracer.start_as_current_span(
                "ChatCompletion",
                attributes={
                    "openinference.span.kind": "LLM",
                    "llm.provider": "openai",
                    "llm.invocation_parameters": json.dumps({"model": "fail-model", "temperature": 0}),
                },
            ) as span:
                span.record_exception(RuntimeError("Error code: 429 - rate limited"))
                span.set_status(Status(StatusCode.ERROR, "Error code: 429 - rate limited"))
            with tracer.start_as_current_span(
                "openai.chat",
                attributes=chat_attributes(**{"llm.request.type": "chat", "error.type": "RateLimitError"}),
            ) as span:
                span.set_status(Status(StatusCode.ERROR, "rate limited"))
            with tracer.start_as_current_span(
                "chat gpt-4o", attributes=chat_attributes(**{"http.response.status_code": 503})
            ) as span:
                span.set_status(Status(StatusCode.ERROR))
            with tracer.start_as_current_span(
                "chat gpt-4o",
                attributes=chat_attributes(
                    **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2}
                ),
            ):
                pass
        return exporter.get_finished_spans()

    def test_a_failed_llm_call_is_a_model_call_with_status_error_and_its_error_type(self):
        self.send(self.failed_calls())
        calls = {
            c.task.name: c for c in ModelCall.objects.filter(workspace=self.workspace).select_related("task")
        }
        self.assertEqual(len(ModelCall.objects.filter(workspace=self.workspace)), 4)
        openinference = calls["ChatCompletion"]
        self.assertEqual((openinference.model, openinference.status), ("fail-model", "error"))
        self.assertEqual(openinference.error["type"], "RuntimeError")
        self.assertEqual(openinference.error["message"], "Error code: 429 - rate limited")
        self.assertEqual(calls["openai.chat"].error, {"message": "rate limited", "type": "RateLimitError"})
        by_status = dict(ModelCall.objects.filter(task__name="chat gpt-4o").values_list("status", "error"))
        self.assertEqual(by_status, {"error": {"message": "HTTP 503", "type": "HTTP 503"}, "ok": None})

    def test_the_llm_error_rate_counts_failed_calls(self):
        self.send(self.failed_calls())
        rows = {
            (r.model, r.errors, r.calls)
            for r in model_rollup(ModelCall.objects.filter(workspace=self.workspace))
        }
        self.assertEqual(rows, {("fail-model", 1, 1), ("gpt-4o", 2, 3)})
        run = Run.objects.get(workspace=self.workspace)
        self.assertEqual(run.model_calls, 4)
        self.assertEqual(differences(self.workspace), [])


class TimeToFirstTokenTest(OtlpTestCase):
    def test_the_genai_time_to_first_chunk_attribute_gives_ttft(self):
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span(
            "chat gpt-4o", attributes=chat_attributes(**{"gen_ai.response.time_to_first_chunk": 0.25})
        ):
            pass
        self.send(exporter.get_finished_spans())
        self.assertEqual(ModelCall.objects.get(workspace=self.workspace).ttft_ms, 250)

    def test_openinference_first_token_event_gives_ttft_and_no_task(self):
        tracer, exporter = recording_tracer()
        start = BASE
        span = tracer.start_span(
            "ChatCompletion",
            attributes={
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o",
                "llm.token_count.prompt": 9,
            },
            start_time=nanos(start),
        )
        span.add_event("First Token Stream Event", timestamp=nanos(start) + 180 * NS)
        span.end(end_time=nanos(start + timedelta(seconds=1)))
        self.send(exporter.get_finished_spans())
        call = ModelCall.objects.get(workspace=self.workspace)
        self.assertEqual((call.ttft_ms, call.latency_ms), (180, 1000))
        self.assertEqual(Task.objects.filter(run__workspace=self.workspace).count(), 1)
        self.assertEqual(Event.objects.get(type="log").payload["name"], "First Token Stream Event")


class StreamedChunksTest(OtlpTestCase):
    def test_openllmetry_chunk_events_give_one_model_call_one_task_ttft_and_one_counted_line(self):
        tracer, exporter = recording_tracer()
        start = BASE
        span = tracer.start_span(
            "openai.chat",
            attributes=chat_attributes(
                **{
                    "llm.request.type": "chat",
                    "gen_ai.usage.input_tokens": 20,
                    "gen_ai.usage.output_tokens": 5,
                }
            ),
            start_time=nanos(start),
        )
        for chunk in range(6):
            span.add_event(
                "gen_ai.content.completion.chunk", timestamp=nanos(start) + (300 + 10 * chunk) * NS
            )
        span.end(end_time=nanos(start) + 400 * NS)
        self.send(exporter.get_finished_spans())
        call = ModelCall.objects.get(workspace=self.workspace)
        self.assertEqual((call.ttft_ms, call.total_tokens), (300, 25))
        self.assertEqual(Task.objects.filter(run__workspace=self.workspace).count(), 1)
        line = Event.objects.get(type="log")
        self.assertEqual(line.payload["metadata"], {"chunks": 6})


class UsageCountedOnceTest(OtlpTestCase):
    def send_tree(self, parent_attributes, child_attributes, workspace=None):
        """A parent span over one call, sent to a workspace of its own; the run."""
        workspace = workspace or make_workspace()
        _, key = make_api_key(workspace)
        tracer, exporter = recording_tracer()
        with (
            tracer.start_as_current_span("parent", attributes=parent_attributes),
            tracer.start_as_current_span("call", attributes=child_attributes),
        ):
            pass
        self.send(exporter.get_finished_spans(), key=key)
        return Run.objects.get(workspace=workspace)

    def test_a_chain_or_agent_span_totalling_its_calls_is_not_a_second_model_call(self):
        child = {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "llm.token_count.prompt": 1000,
            "llm.token_count.completion": 200,
            "llm.cost.total": 0.01,
        }
        totals = {"llm.token_count.prompt": 1000, "llm.token_count.completion": 200, "llm.cost.total": 0.01}
        for parent in (
            {"openinference.span.kind": "CHAIN", **totals},
            {"openinference.span.kind": "AGENT", "llm.model_name": "gpt-4o", **totals},
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 1000},
            {"traceloop.span.kind": "workflow", "gen_ai.usage.input_tokens": 1000},
            {"langfuse.observation.type": "span", "langfuse.observation.usage_details": '{"input": 1000}'},
        ):
            with self.subTest(parent=parent):
                run = self.send_tree(parent, child)
                self.assertEqual(
                    (run.model_calls, run.total_tokens, str(run.cost)), (1, 1200, "0.0100000000")
                )
                parent_task = Task.objects.get(run=run, name="parent")
                self.assertEqual((parent_task.total_tokens, parent_task.type == "llm"), (0, False))
                self.assertEqual(differences(run.workspace), [])

    def test_a_langfuse_generation_is_a_model_call(self):
        run = self.send_tree(
            {"langfuse.observation.type": "span"},
            {
                "langfuse.observation.type": "generation",
                "langfuse.observation.model.name": "claude",
                "langfuse.observation.usage_details": '{"input": 30, "output": 4}',
            },
        )
        self.assertEqual((run.model_calls, run.total_tokens), (1, 34))
