"""OTLP traces, translated into the event vocabulary of the batch ingest and folded like any batch.

A trace is a run (`run_id` = the trace id in 32 hex characters) and every span a task (`step_id` = the
span id in 16). The root span also starts and ends the run; a span that is a call to a model by its
convention is also a model call (see conventions.MODEL_CALL_KINDS); span events are lines of the run's
event log under their span (`log` events without a step of their own), and an exception is also the
failed task's error; chat messages found on a span become conversation turns when the trace names a
session.

Each event's id is derived from the trace, the span and the event's role, so a span sent again is a
duplicate and not a second row, and the fold's order-independence covers spans that arrive split
over several requests, in any order. Any span may name the conversation: spans stored before a later
request named it join it then, with the turns they would have had (earlier_turns), the root span's
plain-text exchange included; the conversation takes the run's agent (see fold.settle_session_people).
"""

import base64
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from django.db.models import Q
from openinference.semconv.trace import SpanAttributes as OI
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from traces.models import Run, Task

from . import REJECTED, ingest_batch, precheck
from .checks import id_problem, time_problem
from .conventions import CHUNK_EVENTS, FIRST_TOKEN_EVENTS, SpanFacts, as_messages, message_key, read_span
from .names import EXCEPTION_EVENT
from .span_records import join_records

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
SPAN_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
UNKNOWN_SERVICE = "unknown_service"
NAME_CHARS = 200
PROVIDER_CHARS = 100  # model_call_stats.provider
# Span attribute values (kvlist and array values inside each other) nest at most this deep; protobuf
# bodies stop near 32 levels already (the decoder's limit of 100 nested messages).
ATTRIBUTE_DEPTH = 32
# Attributes that become ids of the run record, by the body field they fill.
LINK_ATTRIBUTES = {"session_id": OI.SESSION_ID, "user_id": OI.USER_ID}
# The tasks whose payloads may be chat messages: model calls and agent invocations.
MESSAGE_TASK_TYPES = ("llm", "agent")
# How many rejected spans the partial-success message names; the count covers all of them.
REASONS_SHOWN = 5


class TooDeep(Exception):
    """An attribute value nested deeper than ATTRIBUTE_DEPTH; the message names the attribute."""


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    start: datetime
    end: datetime | None
    status: int  # trace_pb2.Status code: unset, ok or error
    status_message: str
    attrs: dict
    events: list
    service: str
    scope: str
    facts: SpanFacts = field(default_factory=SpanFacts)

    @property
    def key(self):
        return f"{self.trace_id}:{self.span_id}"

    @property
    def is_root(self):
        return not self.parent_id

    @property
    def exception(self):
        """The attributes of the last exception recorded on the span (the one that ended it), or None."""
        return next((attrs for name, _, attrs in reversed(self.events) if name == EXCEPTION_EVENT), None)

    @property
    def failed(self):
        """ERROR status, or a Langfuse ERROR level, fails a span. So does an exception recorded on a span
        whose status is unset: the semantic conventions record an exception when it escapes the operation.
        An explicit OK wins: the instrumentation caught it (LangGraph's interrupts are recorded so)."""
        if self.status == trace_pb2.Status.STATUS_CODE_ERROR or self.facts.error_message is not None:
            return True
        return self.status == trace_pb2.Status.STATUS_CODE_UNSET and self.exception is not None


@dataclass
class TraceFacts:
    """What the spans of one trace in this request say about the whole run."""

    session_id: str | None = None
    user_id: str | None = None
    name: str | None = None
    tags: list = field(default_factory=list)


@dataclass
class Outcome:
    rejected: dict = field(default_factory=dict)  # span key -> reason

    @property
    def error_message(self):
        if not self.rejected:
            return ""
        shown = [f"span {key}: {reason}" for key, reason in list(self.rejected.items())[:REASONS_SHOWN]]
        more = len(self.rejected) - len(shown)
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def ingest_spans(workspace, request):
    """Fold an ExportTraceServiceRequest into the workspace's rows; returns the Outcome.

    One batch, one transaction: the rows are committed when this returns.
    """
    spans, outcome = read_spans(request)
    traces = trace_facts(spans)
    missing = [trace_id for trace_id, facts in traces.items() if not facts.session_id]
    if missing:
        # A trace whose session was named in an earlier request keeps its turns in that conversation.
        for run_id, session_id in Run.objects.filter(
            workspace=workspace, run_id__in=missing, session__isnull=False
        ).values_list("run_id", "session__session_id"):
            traces[run_id].session_id = session_id
    events = earlier_turns(workspace, traces, spans)
    owners = [None] * len(events)
    for span in spans:
        translated = span_events(span, traces[span.trace_id])
        problem = next(filter(None, map(precheck, translated)), None)
        if problem:
            # Not one of its events is stored: a span is taken whole or named as rejected.
            outcome.rejected[span.key] = "{}: {}".format(*problem)
            continue
        for raw in translated:
            events.append(raw)
            owners.append(span.key)
    # GenAI log records stored before their spans are joined to them (see span_records).
    keys = {(span.trace_id, span.span_id) for span in spans}
    joined = partial(join_records, workspace, keys, turn_events)
    for result, owner in zip(ingest_batch(workspace, events, then=joined), owners, strict=True):
        if result["status"] == REJECTED and owner and owner not in outcome.rejected:
            outcome.rejected[owner] = f"{result['field']}: {result['reason']}"
    return outcome


# -- decoding -------------------------------------------------------------------------------------


def read_spans(request):
    """The request's valid spans in start order, and an Outcome counting the ones that are not."""
    outcome, spans = Outcome(), []
    for resource_spans in request.resource_spans:
        try:
            resource, resource_problem = attributes(resource_spans.resource.attributes), None
        except TooDeep as exc:
            resource, resource_problem = {}, f"resource.attributes.{exc}"
        service = str(resource.get(SERVICE_NAME) or UNKNOWN_SERVICE)[:NAME_CHARS]
        for scope_spans in resource_spans.scope_spans:
            for raw in scope_spans.spans:
                span, problem = read_span_message(raw, service, scope_spans.scope.name)
                problem = resource_problem or problem
                if problem:
                    outcome.rejected[f"{raw.trace_id.hex()}:{raw.span_id.hex()}"] = problem
                else:
                    spans.append(span)
    spans.sort(key=lambda s: (s.start, s.span_id))
    return spans, outcome


def read_span_message(raw, service, scope):
    """(Span, None), or (None, the reason the span is rejected, naming its field or attribute)."""
    if len(raw.trace_id) != 16 or not any(raw.trace_id):
        return None, "trace_id: must be 16 bytes, not all zero"
    if len(raw.span_id) != 8 or not any(raw.span_id):
        return None, "span_id: must be 8 bytes, not all zero"
    if raw.parent_span_id and len(raw.parent_span_id) != 8:
        return None, "parent_span_id: must be 8 bytes or empty"
    if not raw.start_time_unix_nano:
        return None, "start_time_unix_nano: missing"
    times = [
        ("start_time_unix_nano", raw.start_time_unix_nano),
        ("end_time_unix_nano", raw.end_time_unix_nano),
    ]
    times += [(f"events.{i}.time_unix_nano", e.time_unix_nano) for i, e in enumerate(raw.events)]
    for name, nanos in times:
        reason = nanos and time_problem(timestamp(nanos))
        if reason:
            return None, f"{name}: {reason}"
    start = timestamp(raw.start_time_unix_nano)
    end = max(timestamp(raw.end_time_unix_nano), start) if raw.end_time_unix_nano else None
    try:
        attrs = attributes(raw.attributes)
        events = [
            (
                e.name.strip()[:NAME_CHARS] or "event",
                timestamp(e.time_unix_nano) if e.time_unix_nano else start,
                attributes(e.attributes),
            )
            for e in raw.events
        ]
    except TooDeep as exc:
        return None, f"attributes.{exc}"
    facts = read_span(attrs)
    if facts.problem:
        return None, "attributes.{}: {}".format(*facts.problem)
    for field_name, attribute in LINK_ATTRIBUTES.items():
        reason = id_problem(field_name, getattr(facts, field_name))
        if reason:
            return None, f"attributes.{attribute}: {reason}"
    span = Span(
        trace_id=raw.trace_id.hex(),
        span_id=raw.span_id.hex(),
        parent_id=raw.parent_span_id.hex() if any(raw.parent_span_id) else "",
        name=raw.name.strip()[:NAME_CHARS],
        kind=SPAN_KINDS.get(raw.kind, "unspecified"),
        start=start,
        end=end,
        status=raw.status.code,
        status_message=raw.status.message,
        attrs=attrs,
        events=events,
        service=service,
        scope=scope,
        facts=facts,
    )
    return span, None


def timestamp(nanos):
    return EPOCH + timedelta(microseconds=nanos // 1000)


def attributes(key_values):
    """A flat dict of decoded values; TooDeep (naming the key) when one nests past ATTRIBUTE_DEPTH."""
    decoded = {}
    for kv in key_values:
        try:
            decoded[kv.key] = any_value(kv.value)
        except TooDeep:
            raise TooDeep(f"{kv.key}: nested deeper than {ATTRIBUTE_DEPTH} levels") from None
    return decoded


def any_value(value, depth=1):
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which in ("array_value", "kvlist_value") and depth >= ATTRIBUTE_DEPTH:
        raise TooDeep
    if which == "array_value":
        return [any_value(v, depth + 1) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    result = getattr(value, which)
    if isinstance(result, float) and not math.isfinite(result):
        return str(result)  # JSON has no NaN or infinity
    return result


# -- translation ----------------------------------------------------------------------------------


def trace_facts(spans):
    """Session, user, name and tags per trace: the root span's first, then any other span's."""
    traces = {}
    for span in sorted(spans, key=lambda s: not s.is_root):
        trace = traces.setdefault(span.trace_id, TraceFacts())
        facts = span.facts
        trace.session_id = trace.session_id or facts.session_id
        trace.user_id = trace.user_id or facts.user_id
        trace.name = trace.name or facts.trace_name
        trace.tags = trace.tags or facts.tags
    return traces


def span_events(span, trace):
    """The batch events that say what one span says."""
    facts, run_id = span.facts, span.trace_id
    prefix = f"otlp:{run_id}:{span.span_id}"
    failed = span.failed
    error = span_error(span) if failed else None
    events = []
    if span.is_root:
        events.append(event(f"{prefix}:run.start", "run.start", span.start, run_start_body(span, trace)))
        if span.end is not None:
            ending = {"run_id": run_id, **({"error": error} if failed else {"output": facts.output})}
            events.append(
                event(f"{prefix}:run.end", "run.failed" if failed else "run.complete", span.end, ending)
            )
    events.append(event(f"{prefix}:start", "step.start", span.start, step_start_body(span, trace)))
    if span.end is not None:
        ending = {"run_id": run_id, "step_id": span.span_id}
        ending.update({"error": error} if failed else {"output": facts.output})
        events.append(event(f"{prefix}:end", "step.failed" if failed else "step.ok", span.end, ending))
    if facts.is_model_call:
        # At the same time as the step's start; the id sorts after it, so the log reads in that order.
        events.append(event(f"{prefix}:start:llm", "llm.call", span.start, llm_call_body(span, error)))
    events.extend(event_log(span, prefix))
    if trace.session_id:
        events.extend(chat_turns(span, trace))
    return events


def event(event_id, type_, at, body):
    return {"id": event_id, "type": type_, "timestamp": at.isoformat(), "body": body}


def run_start_body(span, trace):
    facts = span.facts
    body = {
        "run_id": span.trace_id,
        "agent_id": (facts.agent_name or span.service)[:NAME_CHARS],
        "workflow": (trace.name or span.name)[:NAME_CHARS],
        "input": facts.input,
        "metadata": {"service": span.service, "scope": span.scope, **facts.metadata},
        "tags": trace.tags,
    }
    if trace.session_id:
        body["session_id"] = trace.session_id
    if trace.user_id:
        body["user_id"] = trace.user_id
    return body


def step_start_body(span, trace):
    facts = span.facts
    body = {
        "run_id": span.trace_id,
        "step_id": span.span_id,
        "name": span.name or facts.type,
        "type": facts.type,
        "input": facts.input,
        "span_kind": span.kind,
        "scope": span.scope,
        "attributes": facts.attributes,
    }
    if span.parent_id:
        body["parent_id"] = span.parent_id
    # Any span may name the conversation: the fold links the run to it when the root span does not.
    if trace.session_id:
        body["session_id"] = trace.session_id
    if trace.user_id:
        body["user_id"] = trace.user_id
    return body


def llm_call_body(span, error):
    facts = span.facts
    body = {
        "run_id": span.trace_id,
        "step_id": span.span_id,
        "call_id": span.span_id,
        "model": (facts.model or "unknown")[:NAME_CHARS],
        "provider": (facts.provider or "")[:PROVIDER_CHARS],
        "prompt_tokens": facts.prompt_tokens,
        "completion_tokens": facts.completion_tokens,
        "cached_tokens": facts.cached_tokens,
        "finish_reason": facts.finish_reason,
        "request": facts.input,
        "response": facts.output,
        "parameters": facts.parameters or None,
    }
    if span.end is not None:
        body["latency_ms"] = (span.end - span.start).total_seconds() * 1000
    body["ttft_ms"] = ttft_ms(span)
    if facts.cost is not None:
        body["cost"] = str(facts.cost)
    if error is not None:
        body.update(status="error", error=error)
    return {k: v for k, v in body.items() if v is not None}


def event_log(span, prefix):
    """`log` events for the span's events: lines of the run's event log under the span's task, never
    tasks of their own (a log without a step_id). A streamed reply's chunk events, one per chunk, are
    one line that counts them."""
    lines, chunk_line, chunks = [], None, 0
    for index, (name, at, attrs) in enumerate(span.events):
        if name in CHUNK_EVENTS:
            chunks += 1
            if chunk_line is not None:
                continue
            chunk_line = len(lines)
        body = {
            "run_id": span.trace_id,
            "parent_id": span.span_id,
            "name": name,
            "level": "error" if name == EXCEPTION_EVENT else "info",
            "metadata": attrs,
        }
        lines.append(event(f"{prefix}:event:{index}", "log", at, body))
    if chunks > 1:
        body = lines[chunk_line]["body"]
        body["metadata"] = {**body["metadata"], "chunks": chunks}
    return lines


def first_token_at(span):
    """When the first token came, by the span event an instrumentation records for it, or None."""
    return next((at for name, at, _ in span.events if name in FIRST_TOKEN_EVENTS), None)


def ttft_ms(span):
    """Time to first token: the GenAI attribute, else Langfuse's completion start, else the first-token
    span event (OpenInference's, or the first chunk event of OpenLLMetry). None when none says."""
    facts = span.facts
    if facts.ttft_ms is not None:
        return facts.ttft_ms
    started = facts.completion_start or first_token_at(span)
    if started is not None and started >= span.start:
        return (started - span.start).total_seconds() * 1000
    return None


def span_error(span):
    """The error of a failed span: the message, type and stack trace of the exception that ended it;
    else its status message (or Langfuse's) and its error type (error.type, an HTTP status). The
    exception's message comes first: some instrumentations write a whole traceback into the status."""
    exception = span.exception or {}
    message = (
        exception.get(EXCEPTION_MESSAGE)
        or span.status_message
        or span.facts.error_message
        or span.facts.error_type
        or "error"
    )
    details = {
        "type": exception.get(EXCEPTION_TYPE) or span.facts.error_type,
        "stacktrace": exception.get(EXCEPTION_STACKTRACE),
    }
    details = {key: value for key, value in details.items() if value}
    return {"message": message, **details} if details else message


def chat_turns(span, trace):
    """message events for the chat messages a span carries."""
    facts = span.facts
    inputs, outputs = facts.input_messages, facts.output_messages
    if span.is_root and not inputs and not outputs:
        # A root span with plain text in and out is one exchange of the conversation.
        inputs = as_messages(facts.input if isinstance(facts.input, str) else None, "user")
        outputs = as_messages(facts.output if isinstance(facts.output, str) else None, "assistant")
    where = (trace.session_id, span.trace_id, span.span_id)
    return turn_events(*where, inputs, outputs, span.start, span.end or span.start)


def turn_events(session_id, run_id, step_id, inputs, outputs, start, end):
    """message events for what is new in one model call: its outputs, and the inputs after the last
    assistant message (the ones before are the history: earlier calls' outputs and earlier turns).

    A turn's id comes from where it belongs (the run; a system prompt, the whole conversation), its
    role and content, and how many times the same turn came before in the call, so the history that
    a later call of the run repeats is a duplicate, not a second copy of the turn.
    """
    last_assistant = max((i for i, m in enumerate(inputs) if m["role"] == "assistant"), default=-1)
    seen, turns = {}, []
    timed = [(m, start, i > last_assistant) for i, m in enumerate(inputs)] + [(m, end, True) for m in outputs]
    for index, (message, at, new) in enumerate(timed):
        role, content = message["role"], message["content"]
        occurrence = seen.get((role, repr(content)), 0)
        seen[(role, repr(content))] = occurrence + 1
        if not new:
            continue
        scope = session_id if role == "system" else run_id
        body = {
            "session_id": session_id,
            "role": role,
            "content": content,
            "run_id": run_id,
            "step_id": step_id,
        }
        # Microseconds apart, so the turns of one call keep their order in the conversation.
        turns.append(
            event(
                message_key(scope, role, content, occurrence), "message", at + index * ONE_MICROSECOND, body
            )
        )
    return turns


def earlier_turns(workspace, traces, spans):
    """Turns of spans stored before their trace named its session (children sent before the root).

    They were kept as task payloads, without a conversation to join; now that one is known they
    join it, with the ids they would have had if the whole trace had come at once.
    """
    named = [trace_id for trace_id, facts in traces.items() if facts.session_id]
    if not named:
        return []
    sent_now = {span.key for span in spans}
    # The root span too: chat_turns reads its plain text in and out as one exchange.
    tasks = Task.objects.filter(
        Q(type__in=MESSAGE_TASK_TYPES) | Q(parent_step_id=""),
        run__workspace=workspace,
        run__run_id__in=named,
        run__session__isnull=True,
    ).values_list("run__run_id", "step_id", "parent_step_id", "started_at", "ended_at", "input", "output")
    turns = []
    for run_id, step_id, parent_step_id, started_at, ended_at, task_input, task_output in tasks:
        if f"{run_id}:{step_id}" in sent_now or started_at is None:
            continue
        inputs, outputs = stored_messages(task_input), stored_messages(task_output)
        if not parent_step_id and not inputs and not outputs:
            inputs = as_messages(task_input if isinstance(task_input, str) else None, "user")
            outputs = as_messages(task_output if isinstance(task_output, str) else None, "assistant")
        where = (traces[run_id].session_id, run_id, step_id)
        turns.extend(turn_events(*where, inputs, outputs, started_at, ended_at or started_at))
    return turns


def stored_messages(payload):
    if isinstance(payload, list) and all(
        isinstance(m, dict) and set(m) == {"role", "content"} for m in payload
    ):
        return payload
    return []
