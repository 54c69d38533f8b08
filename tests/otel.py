"""Spans made with the real OpenTelemetry SDK, and the two OTLP/HTTP encodings of them, for tests."""

import base64
import json
import urllib.error
import urllib.request

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def recording_tracer(service="support-bot"):
    """A tracer whose finished spans are kept in memory: (tracer, exporter). No global state."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("tests.otel"), exporter


def protobuf_body(spans):
    return encode_spans(spans).SerializeToString()


def json_body(spans):
    """OTLP/JSON: the protobuf JSON mapping, with trace and span ids as hex instead of base64."""
    payload = json_format.MessageToDict(encode_spans(spans))
    return json.dumps(base64_ids_to_hex(payload)).encode()


def base64_ids_to_hex(value):
    if isinstance(value, list):
        return [base64_ids_to_hex(item) for item in value]
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex()
            if key in ("traceId", "spanId", "parentSpanId")
            else base64_ids_to_hex(item)
            for key, item in value.items()
        }
    return value


def trace_id_of(span):
    return format(span.context.trace_id, "032x")


def span_id_of(span):
    return format(span.context.span_id, "016x")


def messages(*pairs):
    """GenAI messages as a JSON string: messages(("user", "Hi"), ("assistant", "Hello")).

    A part that is a dict is kept as it is (a tool call or a tool result).
    """
    return json.dumps(
        [
            {"role": role, "parts": [part if isinstance(part, dict) else {"type": "text", "content": part}]}
            for role, part in pairs
        ]
    )


def genai_turn(tracer, conversation="conv-1", question="Where is my order?", fail_tool=False):
    """One turn of a support agent in GenAI conventions: agent → model call → tool → model call.

    Returns the root span.
    """
    tool_call = {"type": "tool_call", "id": "call-1", "name": "get_order", "arguments": {"order": "A-1"}}
    tool_result = {"type": "tool_call_response", "id": "call-1", "response": {"status": "shipped"}}
    agent = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "support-agent",
        "gen_ai.conversation.id": conversation,
        "user.id": "customer-42",
    }
    with tracer.start_as_current_span("support turn", attributes=agent) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.request.temperature": 0.2,
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
                "gen_ai.usage.cache_read.input_tokens": 100,
                "gen_ai.response.finish_reasons": ["tool_calls"],
                "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
                "gen_ai.input.messages": messages(("user", question)),
                "gen_ai.output.messages": messages(("assistant", tool_call)),
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool get_order",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_order",
                "gen_ai.tool.call.arguments": json.dumps({"order": "A-1"}),
                "gen_ai.tool.call.result": json.dumps({"status": "shipped"}),
            },
        ) as tool:
            if fail_tool:
                tool.record_exception(TimeoutError("orders service timed out"))
                tool.set_status(Status(StatusCode.ERROR, "orders service timed out"))
        with tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 200,
                "gen_ai.usage.output_tokens": 12,
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.input.messages": messages(
                    ("user", question), ("assistant", tool_call), ("tool", tool_result)
                ),
                "gen_ai.output.messages": messages(("assistant", "It ships tomorrow.")),
            },
        ):
            pass
    return root


def openinference_turn(tracer, session="oi-session"):
    """A LangChain-style trace in OpenInference conventions: chain → retriever → LLM. Returns the root."""
    with tracer.start_as_current_span(
        "RetrievalQA",
        attributes={
            "openinference.span.kind": "CHAIN",
            "session.id": session,
            "user.id": "reader-7",
            "input.value": "What is the refund window?",
            "input.mime_type": "text/plain",
            "output.value": "30 days.",
            "output.mime_type": "text/plain",
            "metadata": json.dumps({"experiment": "b"}),
            "tag.tags": ["faq", "refunds"],
        },
    ) as root:
        with tracer.start_as_current_span(
            "retrieve",
            attributes={
                "openinference.span.kind": "RETRIEVER",
                "input.value": json.dumps({"query": "refund window"}),
                "input.mime_type": "application/json",
            },
        ):
            pass
        with tracer.start_as_current_span(
            "ChatAnthropic",
            attributes={
                "openinference.span.kind": "LLM",
                "llm.model_name": "claude-sonnet-4",
                "llm.provider": "anthropic",
                "llm.token_count.prompt": 50,
                "llm.token_count.completion": 4,
                "llm.token_count.prompt_details.cache_read": 10,
                "llm.cost.total": 0.000123456789012,
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "Answer from the policy.",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "What is the refund window?",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "30 days.",
                "llm.invocation_parameters": json.dumps({"max_tokens": 256}),
            },
        ):
            pass
    return root


class JsonSpanExporter(SpanExporter):
    """Exports as OTLP/JSON over HTTP, as the JavaScript and browser exporters do."""

    def __init__(self, endpoint, headers):
        self.endpoint, self.headers = endpoint, headers

    def export(self, spans):
        headers = {"Content-Type": JSON, **self.headers}
        request = urllib.request.Request(self.endpoint, data=json_body(spans), headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the live test server
                ok = response.status == 200
        except urllib.error.HTTPError:
            ok = False
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self):
        pass
