"""A stored run as OTLP spans, in the conventions Backoffice's own OTLP ingest reads (traces.ingest).

Each task is a span (parent task → parent span) and the run is its root span. A run that came in over
OTLP has that root already: its one top-level task, started with the run. Any other run gets a root span
made of the run itself, with its top-level tasks under it. A task keeps the attributes its span arrived
with (the task's metadata), and wherever what they say, read through traces.ingest.conventions, differs
from the rows, the GenAI attribute that the reading puts first is set to the row's value: the type, the
session and user, the model, its tokens and cost. Payloads go out as `gen_ai.input.messages` and
`gen_ai.output.messages` (a model call's or an agent's chat messages, in GenAI parts) or as
`input.value` and `output.value`. The lines of the run's event log under a span (span events, an
exception) go back on it. So a run exported to another Backoffice gives the same rows there.

Ids: a run id of 32 hex characters is the trace id and a step id of 16 the span id, as OTLP ingest makes
them; other ids are hashed into ids of that shape, the same on every export.
"""

import hashlib
import json
import re
from datetime import timedelta

from openinference.semconv.trace import SpanAttributes as OI
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from traces.ingest.conventions import KIND_TO_TYPE, read_span
from traces.ingest.names import EXCEPTION_EVENT, GENAI_USAGE_COST, Langfuse
from traces.ingest.usage import SPAN_TOKEN_KEYS
from traces.models import Event, ModelCall, RunStatus, Task, TaskStatus, TaskType

SCOPE = "backoffice.export"
TRACE_ID = re.compile(r"[0-9a-f]{32}")
SPAN_ID = re.compile(r"[0-9a-f]{16}")
# The GenAI operation that reads back as each task type (traces.ingest.conventions.KIND_TO_TYPE); the
# other types have no convention and read back as custom.
OPERATIONS = {
    TaskType.LLM: "chat",
    TaskType.TOOL: "execute_tool",
    TaskType.AGENT: "invoke_agent",
    TaskType.FUNCTION: "invoke_workflow",
    TaskType.RETRIEVER: "retrieval",
}
# The attribute that wins each token kind (the first of traces.ingest.usage.SPAN_TOKEN_KEYS).
TOKEN_KEYS = {kind: keys[0] for kind, keys in SPAN_TOKEN_KEYS.items()}
OPEN = (TaskStatus.RUNNING, TaskStatus.WAITING)  # the statuses of a span that has not ended
NANOS = 1_000_000_000


def trace_id(run_id):
    return run_id if TRACE_ID.fullmatch(run_id) else hashlib.sha256(run_id.encode()).hexdigest()[:32]


def span_id(run_id, step_id):
    if SPAN_ID.fullmatch(step_id):
        return step_id
    return hashlib.sha256(f"{run_id}\0{step_id}".encode()).hexdigest()[:16]


def nanos(at):
    return int(at.timestamp()) * NANOS + at.microsecond * 1000


# -- attribute values -----------------------------------------------------------------------------


def any_value(value):
    """A decoded attribute value (traces.ingest.otlp.any_value) encoded back."""
    if value is None:
        return common_pb2.AnyValue()
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, list):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=key_values(value)))
    return common_pb2.AnyValue(string_value=str(value))


def key_values(attrs):
    return [common_pb2.KeyValue(key=str(key), value=any_value(value)) for key, value in attrs.items()]


def as_json(value):
    return json.dumps(value, ensure_ascii=False, default=str)


# -- messages and payloads ------------------------------------------------------------------------


def genai_part(content):
    """A stored message's content (traces.ingest.conventions.shape_part) as GenAI parts."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    kind = content.get("type") if isinstance(content, dict) else None
    if kind == "parts":
        return [part for item in content.get("parts") or [] for part in genai_part(item)]
    if kind == "text":
        return [{"type": "text", "content": content.get("text", "")}]
    if kind == "tool_result":
        return [{"type": "tool_call_response", "id": content.get("id"), "response": content.get("result")}]
    if isinstance(kind, str):
        return [content]
    return [{"type": "json", "value": content}]


def chat_messages(payload):
    """A payload that is a list of stored chat messages, as GenAI messages; else None."""
    if not isinstance(payload, list) or not payload:
        return None
    if not all(isinstance(m, dict) and set(m) == {"role", "content"} for m in payload):
        return None
    return [{"role": m["role"], "parts": genai_part(m["content"])} for m in payload]


def payload_attributes(task_type, task_input, task_output):
    """A task's input and output as the attributes OTLP ingest reads them from, by task type."""
    attrs = {}
    for value, messages_key, tool_key, value_key, mime_key in (
        (
            task_input,
            gen_ai.GEN_AI_INPUT_MESSAGES,
            gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS,
            OI.INPUT_VALUE,
            OI.INPUT_MIME_TYPE,
        ),
        (
            task_output,
            gen_ai.GEN_AI_OUTPUT_MESSAGES,
            gen_ai.GEN_AI_TOOL_CALL_RESULT,
            OI.OUTPUT_VALUE,
            OI.OUTPUT_MIME_TYPE,
        ),
    ):
        messages = chat_messages(value) if task_type in (TaskType.LLM, TaskType.AGENT) else None
        if value is None:
            continue
        if messages is not None:
            attrs[messages_key] = as_json(messages)
        elif task_type == TaskType.TOOL:
            attrs[tool_key] = as_json(value)
        elif isinstance(value, str):
            attrs[value_key], attrs[mime_key] = value, "text/plain"
        else:
            attrs[value_key], attrs[mime_key] = as_json(value), "application/json"
    return attrs


# -- what the attributes must say -----------------------------------------------------------------


def settle(attrs, wanted):
    """Set what read_span reads differently from the rows: `wanted` is [(fact, value, key, sent)]:
    when facts.<fact> is not `value`, attribute `key` is set to `sent`."""
    facts = read_span(attrs)
    for fact, value, key, sent in wanted:
        if getattr(facts, fact, None) != value:
            attrs[key] = sent
    return attrs


def type_attributes(attrs, task_type):
    facts = read_span(attrs)
    if facts.type == task_type or task_type not in OPERATIONS:
        return
    # The kind read first wins: set the one the span already declares, else the GenAI operation.
    if attrs.get(OI.OPENINFERENCE_SPAN_KIND):
        kind = next(k for k, t in KIND_TO_TYPE.items() if t == task_type)
        attrs[OI.OPENINFERENCE_SPAN_KIND] = kind.upper()
    else:
        attrs[gen_ai.GEN_AI_OPERATION_NAME] = OPERATIONS[task_type]


def call_attributes(attrs, call):
    """A model call row's model, provider, tokens, cost and finish reason, where attrs say otherwise."""
    facts = read_span(attrs)
    if facts.model != call.model:
        attrs[gen_ai.GEN_AI_RESPONSE_MODEL] = call.model
    if (facts.provider or "") != call.provider and call.provider:
        attrs[gen_ai.GEN_AI_PROVIDER_NAME] = call.provider
    for kind, key in TOKEN_KEYS.items():
        if (getattr(facts.usage, kind) or 0) != getattr(call, kind):
            attrs[key] = getattr(call, kind)
    # A cost the client sent goes with the call; one computed here is the receiver's to compute with its
    # own prices, as it would have been had the agent sent there directly.
    if call.cost_sent and call.cost is not None and facts.usage.cost != call.cost:
        attrs[GENAI_USAGE_COST] = float(call.cost)
        for name, key in (("input_cost", OI.LLM_COST_PROMPT), ("output_cost", OI.LLM_COST_COMPLETION)):
            if getattr(call, name) is not None:
                attrs[key] = float(getattr(call, name))
    if (facts.finish_reason or "") != call.finish_reason and call.finish_reason:
        attrs[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = [call.finish_reason]
    if call.ttft_ms is not None and facts.ttft_ms is None:
        attrs[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = call.ttft_ms / 1000
    parameters = (call.metadata or {}).get("parameters") or {}
    if facts.parameters != parameters:
        attrs.update({f"gen_ai.request.{key}": value for key, value in parameters.items()})


def run_attributes(attrs, run, name):
    """What the root span says of the run: its agent, workflow, session, user, tags and metadata."""
    service = (run.metadata or {}).get("service") or (run.agent.agent_id if run.agent else SCOPE)
    agent_id = run.agent.agent_id if run.agent else service
    facts = read_span(attrs)
    if (facts.agent_name or service) != agent_id:
        attrs[gen_ai.GEN_AI_AGENT_NAME] = agent_id
    if (facts.trace_name or name) != run.workflow and run.workflow:
        attrs[Langfuse.TRACE_NAME] = run.workflow
    wanted = [("tags", run.tags or [], OI.TAG_TAGS, run.tags or [])]
    if run.session_id:
        session = run.session.session_id
        wanted.append(("session_id", session, OI.SESSION_ID, session))
    if run.user_id:
        wanted.append(("user_id", run.user_id, OI.USER_ID, run.user_id))
    settle(attrs, wanted)
    metadata = {k: v for k, v in (run.metadata or {}).items() if k not in ("service", "scope")}
    if metadata:
        attrs[OI.METADATA] = as_json(metadata)
    return service


# -- spans ----------------------------------------------------------------------------------------


def error_parts(error):
    """(status message, exception attributes or None) of a stored error."""
    if isinstance(error, dict):
        message = str(error.get("message") or "error")
        exception = {EXCEPTION_MESSAGE: message}
        if error.get("type"):
            exception[EXCEPTION_TYPE] = str(error["type"])
        if error.get("stacktrace"):
            exception[EXCEPTION_STACKTRACE] = str(error["stacktrace"])
        return message, exception if len(exception) > 1 else None
    return (str(error) if error not in (None, "") else "error"), None


def make_span(trace, ids, name, at, attrs, failure, lines):
    """One span: `ids` (span id, parent span id or ""), `at` (start, end or None), `failure` (failed,
    error), `lines` the event log's lines under it [(name, time, attributes)]."""
    (span, parent), (start, end), (failed, error) = ids, at, failure
    message, exception = error_parts(error) if failed else ("", None)
    events = [
        trace_pb2.Span.Event(time_unix_nano=nanos(when), name=line_name, attributes=key_values(line_attrs))
        for line_name, when, line_attrs in lines
    ]
    if exception and not any(line[0] == EXCEPTION_EVENT for line in lines):
        when = nanos(end or start)
        events.append(
            trace_pb2.Span.Event(time_unix_nano=when, name=EXCEPTION_EVENT, attributes=key_values(exception))
        )
    if failed:
        status = trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message=message)
    elif end is not None:
        # OK, not unset: a span with an exception recorded and an unset status reads as failed.
        status = trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_OK)
    else:
        status = trace_pb2.Status()
    client = attrs.get(gen_ai.GEN_AI_OPERATION_NAME) == "chat"
    return trace_pb2.Span(
        trace_id=bytes.fromhex(trace),
        span_id=bytes.fromhex(span),
        parent_span_id=bytes.fromhex(parent) if parent else b"",
        name=name,
        kind=trace_pb2.Span.SPAN_KIND_CLIENT if client else trace_pb2.Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=nanos(start),
        end_time_unix_nano=nanos(end) if end is not None else 0,
        attributes=key_values(attrs),
        events=events,
        status=status,
    )


def log_lines(run):
    """{step_id: [(name, time, attributes)]}: the run's event log lines under a span. One query."""
    lines = {}
    events = Event.objects.filter(run=run, type="log", step_id="").order_by("timestamp", "id")
    for payload, at in events.values_list("payload", "timestamp"):
        if isinstance(payload, dict) and payload.get("parent_id"):
            attrs = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
            lines.setdefault(payload["parent_id"], []).append(
                (str(payload.get("name") or "event"), at, attrs)
            )
    return lines


def split_calls(tasks, calls):
    """({task pk: the model call that is the task's own span}, [the other calls]): an llm task's first
    call is its own; a second one, or one without an llm task, gets a span of its own."""
    llm_tasks = {task.pk for task in tasks if task.type == TaskType.LLM}
    own, others = {}, []
    for call in calls:
        if call.task_id in llm_tasks and call.task_id not in own:
            own[call.task_id] = call
        else:
            others.append(call)
    return own, others


def run_spans(run):
    """(service name, scope name, spans) of one finished run (agent and session loaded). Three queries."""
    trace = trace_id(run.run_id)
    tasks = list(Task.objects.filter(run=run).order_by("sequence", "id"))
    calls = list(ModelCall.objects.filter(run=run).order_by("created_at", "id"))
    lines = log_lines(run)
    tops = [task for task in tasks if not task.parent_step_id]
    own = tops[0] if len(tops) == 1 and tops[0].started_at == run.started_at else None
    root_id = span_id(run.run_id, own.step_id if own else "\0run")
    own_calls, other_calls = split_calls(tasks, calls)
    spans, service = [], None
    if own is None:
        attrs = payload_attributes(TaskType.FUNCTION, run.input, run.output)
        attrs[gen_ai.GEN_AI_OPERATION_NAME] = OPERATIONS[TaskType.FUNCTION]
        name = run.workflow or run.run_id
        service = run_attributes(attrs, run, name)
        at = (run.started_at, run.ended_at or run.started_at)
        failure = (run.status == RunStatus.FAILED, run.error)
        spans.append(make_span(trace, (root_id, ""), name, at, attrs, failure, []))
    for task in tasks:
        attrs = dict((task.metadata or {}).get("attributes") or {})
        attrs.update(payload_attributes(task.type, task.input, task.output))
        type_attributes(attrs, task.type)
        if task.pk in own_calls:
            call_attributes(attrs, own_calls[task.pk])
        failed = task.status == TaskStatus.FAILED
        error = task.error
        if task is own:
            service = run_attributes(attrs, run, task.name)
            failed = failed or run.status == RunStatus.FAILED
            error = error if error is not None else run.error
        parent = span_id(run.run_id, task.parent_step_id) if task.parent_step_id else root_id
        parent = "" if task is own else parent
        start = task.started_at or run.started_at
        at = (start, None if task.status in OPEN else task.ended_at or start)
        ids = (span_id(run.run_id, task.step_id), parent)
        spans.append(
            make_span(trace, ids, task.name, at, attrs, (failed, error), lines.get(task.step_id, []))
        )
    for call in other_calls:
        attrs = payload_attributes(TaskType.LLM, call.request, call.response)
        attrs[gen_ai.GEN_AI_OPERATION_NAME] = "chat"
        call_attributes(attrs, call)
        parent = span_id(run.run_id, call.step_id) if call.step_id else root_id
        ids = (span_id(run.run_id, f"\0call\0{call.call_id}"), parent)
        at = (call.created_at, call.created_at + timedelta(milliseconds=call.latency_ms or 0))
        failure = (call.status == "error", call.error)
        spans.append(make_span(trace, ids, f"chat {call.model}"[:200], at, attrs, failure, []))
    return service, (run.metadata or {}).get("scope") or SCOPE, spans


def requests_of(run, spans_per_request):
    """The run as ExportTraceServiceRequests of at most `spans_per_request` spans each, in start order."""
    service, scope, spans = run_spans(run)
    spans.sort(key=lambda span: (span.start_time_unix_nano, span.span_id))
    resource = resource_pb2.Resource(attributes=key_values({SERVICE_NAME: service}))
    for first in range(0, len(spans), spans_per_request):
        scope_spans = trace_pb2.ScopeSpans(
            scope=common_pb2.InstrumentationScope(name=scope), spans=spans[first : first + spans_per_request]
        )
        resource_spans = trace_pb2.ResourceSpans(resource=resource, scope_spans=[scope_spans])
        yield trace_service_pb2.ExportTraceServiceRequest(resource_spans=[resource_spans])
