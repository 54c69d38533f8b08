"""OTLP logs: each log record a line of its run's event log; a GenAI record also its span's messages.

A record belongs to the run of its trace id, and sits under the task of its span id as a span event
does: a `log` event without a step of its own, with the record's severity as its level, its event
name (else its logger's scope name) as its name, its body and its attributes. A record without a
trace id has no run to go to and is rejected by name. A GenAI record (genai_records) keeps the
messages it carries as the event's input and output instead of its body, and span_records joins them
to its span, whichever arrives first.

Each event's id derives from the record's content, so a record sent again is a duplicate.
"""

import hashlib
from dataclasses import dataclass, field

from opentelemetry.semconv._incubating.attributes.event_attributes import EVENT_NAME

from . import REJECTED, ingest_batch, precheck
from .checks import time_problem
from .conventions import text
from .genai_records import GENAI_RECORDS, read_record
from .otlp import (
    ATTRIBUTE_DEPTH,
    NAME_CHARS,
    REASONS_SHOWN,
    TooDeep,
    any_value,
    attributes,
    event,
    stored_turns,
    timestamp,
)
from .span_records import join_records, stored_spans

# A record's level, by the lowest severity number of each range of the OTLP log data model.
SEVERITY_LEVELS = ((21, "fatal"), (17, "error"), (13, "warn"), (9, "info"), (5, "debug"), (1, "trace"))
LEVEL_CHARS = 16  # the log event's level


@dataclass
class Outcome:
    rejected: dict = field(default_factory=dict)  # where the record is in the request -> reason

    @property
    def error_message(self):
        shown = [f"{where}: {reason}" for where, reason in list(self.rejected.items())[:REASONS_SHOWN]]
        more = len(self.rejected) - len(shown)
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def ingest_logs(workspace, request):
    """Store an ExportLogsServiceRequest's records in the workspace; returns the Outcome.

    One batch, one transaction: the rows are committed when this returns.
    """
    outcome, events, places, joined = Outcome(), [], [], set()
    for where, raw, scope in records(request):
        translated, problem = record_event(raw, scope)
        problem = problem or ("{}: {}".format(*found) if (found := precheck(translated)) else None)
        if problem:
            outcome.rejected[where] = problem
            continue
        events.append(translated)
        places.append(where)
        body = translated["body"]
        if body["name"] in GENAI_RECORDS and "parent_id" in body:
            joined.add((body["run_id"], body["parent_id"]))

    def join(fold):
        # Only the spans stored already: the others join their records when they arrive.
        join_records(workspace, stored_spans(workspace, joined), stored_turns, fold)

    results = ingest_batch(workspace, events, then=join if joined else None)
    for result, where in zip(results, places, strict=True):
        if result["status"] == REJECTED:
            outcome.rejected[where] = f"{result['field']}: {result['reason']}"
    return outcome


def records(request):
    """(where the record is, the record, its scope's name) for each record of the request."""
    for r, resource_logs in enumerate(request.resource_logs):
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            for i, raw in enumerate(scope_logs.log_records):
                yield f"resource_logs.{r}.scope_logs.{s}.log_records.{i}", raw, scope_logs.scope.name


def record_event(raw, scope):
    """(the record's `log` event, None), or (None, the reason it is rejected, naming its field)."""
    if len(raw.trace_id) != 16 or not any(raw.trace_id):
        return None, "trace_id: must be 16 bytes, not all zero: a record goes to the run of its trace"
    if raw.span_id and len(raw.span_id) != 8:
        return None, "span_id: must be 8 bytes or empty"
    time_field = "time_unix_nano" if raw.time_unix_nano else "observed_time_unix_nano"
    nanos = getattr(raw, time_field)
    if not nanos:
        return None, "time_unix_nano: missing, and observed_time_unix_nano too"
    reason = time_problem(timestamp(nanos))
    if reason:
        return None, f"{time_field}: {reason}"
    try:
        attrs = attributes(raw.attributes)
    except TooDeep as exc:
        return None, f"attributes.{exc}"
    try:
        body = any_value(raw.body)
    except TooDeep:
        return None, f"body: nested deeper than {ATTRIBUTE_DEPTH} levels"
    name = (raw.event_name or text(attrs.get(EVENT_NAME)) or scope).strip()[:NAME_CHARS] or "log"
    # All zero is the invalid span id: a record logged outside any span.
    trace_id, span_id = raw.trace_id.hex(), raw.span_id.hex() if any(raw.span_id) else ""
    log = {"run_id": trace_id, "name": name, "level": level(raw)}
    if span_id:
        log["parent_id"] = span_id
    facts = read_record(name, body, attrs) if span_id else None
    if facts is None:
        log.update(body=body, metadata=attrs)
    else:
        payloads = {"input": facts.inputs, "output": facts.outputs, "finish_reason": facts.finish_reason}
        log.update({key: value for key, value in payloads.items() if value}, metadata=facts.attributes)
    digest = hashlib.sha256(raw.SerializeToString(deterministic=True)).hexdigest()[:32]
    return event(f"otlp:log:{trace_id}:{span_id}:{digest}", "log", timestamp(nanos), log), None


def level(raw):
    """The record's severity as a level name: by its number, else its text as sent, else info."""
    if raw.severity_number:
        return next((name for lowest, name in SEVERITY_LEVELS if raw.severity_number >= lowest), "info")
    return (raw.severity_text.strip().lower() or "info")[:LEVEL_CHARS]
