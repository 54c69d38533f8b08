"""OTLP traces, translated into the event vocabulary of the batch ingest and folded like any batch.

A trace is a run (`run_id` = the trace id in 32 hex characters) and every span a task (`step_id` = the
span id in 16). The root span also starts and ends the run; a span that is a call to a model by its
convention is also a model call (see conventions.MODEL_CALL_KINDS); span events are lines of the run's
event log under their span (`log` events without a step of their own), and an exception is also the
failed task's error; the chat messages of the calls that answer the user become the conversation's
turns when the trace names a session (see turns).

Each event's id is derived from the trace, the span and the event's role, so a span sent again is a
duplicate and not a second row, and the fold's order-independence covers spans that arrive split
over several requests, in any order. Any span may name the conversation: spans stored before a later
request named it join it then, with the turns they would have had (conversation_events reads the
run's stored tasks beside the request's spans); the conversation takes the run's agent (see
fold.settle_session_people).
"""

import base64
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from django.db import transaction
from openinference.semconv.trace import SpanAttributes as OI
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from traces.graphs.trace_graph import declared_graph
from traces.models import Run

from . import REJECTED, ingest_batch, precheck
from .checks import id_problem, time_problem
from .conventions import CHUNK_EVENTS, FIRST_TOKEN_EVENTS, SpanFacts, read_span
from .names import EXCEPTION_EVENT
from .run_metadata import root_metadata, run_metadata, span_metadata
from .same_call import call_id
from .span_records import give_records, join_records
from .turns import (
    Conversation,
    conversation,
    drop_superseded_turns,
    shape_of,
    span_as_stored,
    span_call,
    span_exchange,
    store_shapes,
    stored_calls,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SPAN_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
UNKNOWN_SERVICE = "unknown_service"
NAME_CHARS = 200
PROVIDER_CHARS = 100  # model_call_stats.provider
# Span attribute values (kvlist and array values inside each other) nest at most this deep; protobuf
# bodies stop near 32 levels already (the decoder's limit of 100 nested messages).
ATTRIBUTE_DEPTH = 32
# Attributes that become ids of the run record, by the body field they fill.
LINK_ATTRIBUTES = {"session_id": OI.SESSION_ID, "user_id": OI.USER_ID}
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
    metadata: dict = field(default_factory=dict)
    graph: dict | None = None


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
    # GenAI log records stored before their spans go into them now, before the workspace lock.
    given, as_stored = give_records(workspace, spans)
    events, owners = [], []
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
    accepted = [span for span in spans if span.key not in outcome.rejected]
    turns, conversations, shapes = conversation_events(workspace, traces, accepted, as_stored)
    for raw, owner in turns:
        events.append(raw)
        owners.append(owner)
    # Records stored before their spans and not given to them are joined to them (see span_records).
    keys = {(span.trace_id, span.span_id) for span in accepted}
    given = {key: records for key, records in given.items() if key in keys}
    joined = partial(join_records, workspace, keys, stored_turns, given=given)
    with transaction.atomic():
        # Before the batch: a turn stored with another time or step comes back as the batch has it.
        drop_superseded_turns(workspace, conversations)
        results = ingest_batch(workspace, events, then=joined)
        store_shapes(workspace, shapes)
    for result, owner in zip(results, owners, strict=True):
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
    """Session, user, name, tags and metadata per trace: the root span's first, then any other span's;
    and the graph the trace declares (see traces.graphs.trace_graph)."""
    traces, metadatas, roots = {}, defaultdict(list), {}
    for span in sorted(spans, key=lambda s: not s.is_root):
        trace = traces.setdefault(span.trace_id, TraceFacts())
        facts = span.facts
        trace.session_id = trace.session_id or facts.session_id
        trace.user_id = trace.user_id or facts.user_id
        trace.name = trace.name or facts.trace_name
        trace.tags = trace.tags or facts.tags
        metadata = span_metadata(span.attrs)
        trace.metadata = {**run_metadata(metadata), **trace.metadata}
        metadatas[span.trace_id].append(metadata)
        if span.is_root:
            roots[span.trace_id] = span.attrs
    for trace_id, trace in traces.items():
        if trace_id in roots:  # the graph goes with the run.start, made of the root span
            trace.graph = declared_graph(roots[trace_id], metadatas[trace_id])
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
        "metadata": {
            "service": span.service,
            "scope": span.scope,
            **root_metadata(span.attrs),
            **trace.metadata,
        },
        "tags": trace.tags,
    }
    if trace.graph is not None:
        body["graph"] = trace.graph
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
        "call_id": call_id(span.span_id, span.attrs),
        "model": (facts.model or "unknown")[:NAME_CHARS],
        "provider": (facts.provider or "")[:PROVIDER_CHARS],
        "prompt_tokens": facts.usage.prompt_tokens,
        "completion_tokens": facts.usage.completion_tokens,
        "cached_tokens": facts.usage.cached_tokens,
        "cache_creation_tokens": facts.usage.cache_creation_tokens,
        "reasoning_tokens": facts.usage.reasoning_tokens,
        "finish_reason": facts.finish_reason,
        "request": facts.input,
        "response": facts.output,
        "parameters": facts.parameters or None,
    }
    if span.end is not None:
        body["latency_ms"] = (span.end - span.start).total_seconds() * 1000
    body["ttft_ms"] = ttft_ms(span)
    for name in ("cost", "input_cost", "output_cost"):
        if getattr(facts.usage, name) is not None:
            body[name] = str(getattr(facts.usage, name))
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


def conversation_events(workspace, traces, spans, as_stored=frozenset()):
    """The conversation of every trace that names one, from its spans in this request and its tasks
    stored before (see turns): [(message event, owning span key or None)], {run_id: Conversation},
    and the shapes of this request's calls to store ({run_id: [CallShape fields]}). The spans of the
    traces in `as_stored` are read as their tasks will be stored, as join_records reads them (see
    span_records.give_records)."""
    named = {trace_id: facts.session_id for trace_id, facts in traces.items() if facts.session_id}
    if not named:
        return [], {}, {}
    sent_now = {span.key for span in spans}
    calls, exchanges = stored_calls(workspace, list(named), sent_now)
    shapes = defaultdict(list)
    for span in spans:
        run_id = span.trace_id
        if run_id not in named:
            continue
        if run_id in as_stored:
            call, said = span_as_stored(span)
        else:
            call, said = span_call(span), None
        if call is not None:
            calls[run_id].append(call)
            shapes[run_id].append(shape_of(call, named[run_id], run_id))
        elif span.is_root:
            exchanges[run_id] = said if run_id in as_stored else span_exchange(span)
            if exchanges[run_id] is not None:
                shapes[run_id].append(shape_of(exchanges[run_id], named[run_id], run_id, root=True))
    return *turn_events(named, calls, exchanges, sent_now), shapes


def stored_turns(workspace, named):
    """The conversation of these runs ({run_id: session_id}) from their stored tasks alone, as
    conversation_events gives it: for the GenAI log records joined to stored tasks (span_records)."""
    calls, exchanges = stored_calls(workspace, list(named), set())
    return turn_events(named, calls, exchanges, set())


def turn_events(named, calls, exchanges, sent_now):
    """The message events of each run's conversation ({run_id: session_id}) from its calls and root
    exchange, each with the key of its span when that span is in this request (`sent_now`)."""
    events, conversations = [], {}
    for run_id, session_id in named.items():
        exchange = exchanges.get(run_id)
        sources = [call.step_id for call in calls[run_id] + ([exchange] if exchange else [])]
        conversations[run_id] = Conversation(steps=set(sources))
        for turn in conversation(calls[run_id], exchange):
            key = turn.event_id(session_id, run_id)
            conversations[run_id].turns[key] = (turn.at, turn.step_id)
            if turn.content is None:
                continue  # a call known by its shape: its turn is stored already, its text is not here
            body = {
                "session_id": session_id,
                "role": turn.role,
                "content": turn.content,
                "run_id": run_id,
                "step_id": turn.step_id,
            }
            owner = f"{run_id}:{turn.step_id}"
            raw = event(key, "message", turn.at, body)
            events.append((raw, owner if owner in sent_now else None))
    return events, conversations
