"""OTLP figure: agent traces as the OpenTelemetry SDK sends them (10 spans a trace, GenAI and
OpenInference attributes, ~2 KB a span), posted to /v1/traces, then counted and read back."""

import json

from django.test import Client
from opentelemetry.trace import SpanKind

from backoffice.models import ApiKey
from tests.otel import PROTOBUF, messages, protobuf_body, recording_tracer, trace_id_of
from traces.models import Task

from .ingest import ClientPoster, HttpPoster, drop_workspaces, post_all, scratch_workspace
from .measure import Figure, NotMeasured, not_measured
from .payloads import Payloads

NAME, TARGET = "OTLP /v1/traces, spans stored and readable", "≥ 1,500 spans/s"
SPANS_PER_TRACE = 10
TRACES_PER_REQUEST = 50  # 500 spans: the SDK's BatchSpanProcessor exports up to 512 at a time


def agent_trace(tracer, n, text, logger=None):
    """One support-agent turn: an agent span over model calls, tools and a retrieval (10 spans). With a
    `logger`, the GenAI model calls send their messages in a log record (an operation details record, as
    the current openai-v2 instrumentation does) instead of span attributes, and each tool logs a line."""
    question, answer = text.user_texts[n % 64], text.assistant_texts[n % 64]
    notes, context = text.task_outputs[n % 256], text.task_inputs[n % 256]
    root = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support-agent"}
    root |= {"gen_ai.conversation.id": f"otlp-conv-{n // 3}", "user.id": f"customer-{n % 500}"}
    with tracer.start_as_current_span("support turn", attributes=root) as span:
        span.set_attribute("input.value", question)
        for step in range(3):
            said = [("system", context), ("user", question), ("assistant", notes), ("user", question)]
            chat = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 300 + step,
                "gen_ai.usage.output_tokens": 40,
            }
            if logger is None:
                chat["gen_ai.input.messages"] = messages(*said)
                chat["gen_ai.output.messages"] = messages(("assistant", answer))
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=chat):
                if logger is not None:
                    details = {
                        "gen_ai.input.messages": json.loads(messages(*said)),
                        "gen_ai.output.messages": [
                            {
                                "role": "assistant",
                                "parts": [{"type": "text", "content": answer}],
                                "finish_reason": "stop",
                            }
                        ],
                    }
                    logger.emit(
                        event_name="gen_ai.client.inference.operation.details", attributes=chat | details
                    )
            tool = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.arguments": json.dumps({"order": n, "notes": notes[:600]}),
                "gen_ai.tool.call.result": notes,
                "input.value": context,
                "output.value": notes,
            }
            with tracer.start_as_current_span("execute_tool lookup_order", attributes=tool):
                if logger is not None:
                    logger.emit(body=f"order {n} looked up", severity_text="INFO", attributes={"order": n})
        retrieve = {"openinference.span.kind": "RETRIEVER", "input.value": context, "output.value": notes}
        with tracer.start_as_current_span("retrieve", attributes=retrieve):
            pass
        llm = {
            "openinference.span.kind": "LLM",
            "llm.model_name": "claude-sonnet-4",
            "llm.provider": "anthropic",
            "llm.token_count.prompt": 500,
            "llm.token_count.completion": 60,
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": context,
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": notes,
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": answer,
        }
        with tracer.start_as_current_span("ChatAnthropic", attributes=llm):
            pass
        compose = {"openinference.span.kind": "CHAIN", "input.value": notes, "output.value": context}
        with tracer.start_as_current_span("format_answer", attributes=compose):
            pass
        span.set_attribute("output.value", answer)
        return span


def request_bodies(traces):
    """Protobuf bodies of TRACES_PER_REQUEST traces each, made before the clock starts; and the trace
    ids."""
    tracer, exporter = recording_tracer()
    text = Payloads(11)
    bodies, trace_ids = [], []
    for n in range(traces):
        trace_ids.append(trace_id_of(agent_trace(tracer, n, text)))
        if len(trace_ids) % TRACES_PER_REQUEST == 0 or n == traces - 1:
            bodies.append(protobuf_body(exporter.get_finished_spans()))
            exporter.clear()
    return bodies, trace_ids


def otlp_figure(*, spans, clients, server=None, client=None):
    workspace = scratch_workspace("otlp")
    _, key = ApiKey.issue(workspace, "bench")
    try:
        traces = max(spans // SPANS_PER_TRACE, 1)
        bodies, trace_ids = request_bodies(traces)
        size = sum(len(b) for b in bodies) / (traces * SPANS_PER_TRACE)
        poster = (
            HttpPoster(server.port, key, "/v1/traces", PROTOBUF)
            if server
            else ClientPoster(client, key, "/v1/traces", PROTOBUF)
        )

        def stored(status, content):
            if status != 200:
                raise NotMeasured(f"/v1/traces answered {status}: {content[:300]!r}")
            return TRACES_PER_REQUEST * SPANS_PER_TRACE

        seconds, _ = post_all(poster, iter(bodies), clients, stored)
        # Stored and readable, not merely accepted: every span is a task, and a trace reads back whole.
        tasks = Task.objects.filter(workspace=workspace).count()
        if tasks != traces * SPANS_PER_TRACE:
            raise NotMeasured(f"{tasks:,} tasks stored for {traces * SPANS_PER_TRACE:,} spans")
        read = (client or Client(HTTP_HOST="localhost")).get(
            f"/api/v1/runs/{trace_ids[-1]}/tasks", headers={"Authorization": f"Bearer {key}"}
        )
        if read.status_code != 200 or len(read.json()["tasks"]) != SPANS_PER_TRACE:
            raise NotMeasured(f"reading a trace back answered {read.status_code}")
        rate = tasks / seconds
        note = (
            f"{tasks:,} spans ({size / 1024:.1f} KB each on the wire) in {seconds:.1f} s, every one read back"
        )
        return Figure(NAME, TARGET, f"{rate:,.0f} spans/s", rate >= 1500, note=note)
    except NotMeasured as exc:
        return not_measured(NAME, TARGET, str(exc))
    finally:
        drop_workspaces([workspace])
