"""Event-batch ingest: validate each event, drop duplicates, fold the rest into rows in one transaction."""

import json

from django.db import connection, transaction
from pydantic import ValidationError

from traces import bulk
from traces.locks import lock_workspace
from traces.models import Event, RedactionRule
from traces.search import index as search

from . import custom
from .checks import id_problem, link_problem, nesting_problem
from .fold import Fold, is_task_event
from .policy import Redactor, storable_event
from .pricing import PackagePrices
from .schemas import BODY_BY_TYPE, Envelope, ValidEvent

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"


def first_error(exc, prefix=""):
    """(field, reason) of a pydantic error, the field as a dotted path."""
    error = exc.errors(include_url=False)[0]
    path = ".".join(str(part) for part in (*prefix, *error["loc"]) if part != "__root__")
    reason = error["msg"]
    if error["type"] == "literal_error" and path == "type":
        reason = f"unknown event type {error.get('input')!r}"
    return path or "event", reason


def validate(index, raw, storable=False, custom_types=None):
    """A ValidEvent, or the rejection of this one event. `custom_types`: {type: validator} of the
    workspace's own types that the batch names (custom.catalogue)."""
    if not isinstance(raw, dict):
        return rejection(index, None, "event", "must be an object")
    event_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    problem = precheck(raw)
    if problem:
        return rejection(index, event_id, *problem)
    if not storable:
        raw = storable_event(raw)
    if custom.is_custom(raw.get("type")):
        return validate_custom(index, event_id, raw, custom_types or {})
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        return rejection(index, event_id, *first_error(exc))
    try:
        body = BODY_BY_TYPE[envelope.type].model_validate(envelope.body)
    except ValidationError as exc:
        return rejection(index, event_id, *first_error(exc, ("body",)))
    return ValidEvent(index, envelope, body)


def validate_custom(index, event_id, raw, custom_types):
    """A custom event: its envelope, then its body against the schema of its type."""
    try:
        envelope = custom.CustomEnvelope.model_validate(raw)
    except ValidationError as exc:
        return rejection(index, event_id, *first_error(exc))
    validator = custom_types.get(envelope.type)
    if validator is None:
        reason = f"unknown event type {envelope.type!r}: {custom.HOW_TO_DEFINE}"
        return rejection(index, event_id, "type", reason)
    problem = custom.body_problem(validator, envelope.body)
    if problem:
        return rejection(index, event_id, *problem)
    try:
        body = custom.CustomBody.model_validate(envelope.body)
    except ValidationError as exc:
        return rejection(index, event_id, *first_error(exc, ("body",)))
    return ValidEvent(index, envelope, body)


def precheck(raw):
    """(field, reason) when the raw event cannot go to its schema: ids the fold reads from any body
    (declared by its type or not) that no column or page takes, or values nested too deep to follow.
    Runs before NUL characters are replaced, so an id holding one is rejected, not rewritten."""
    reason = id_problem("id", raw.get("id"))
    if reason:
        return "id", reason
    body = raw.get("body")
    if isinstance(body, dict):
        problem = link_problem(body)
        if problem:
            return problem
    return nesting_problem(raw)


def rejection(index, event_id, field, reason):
    return {"index": index, "id": event_id, "status": REJECTED, "field": field, "reason": reason}


def ingest_batch(workspace, raw_events, *, storable=False, then=None):
    """Store a batch of raw events; returns one result per event, in the order given. `storable`: the
    caller has made sure their text holds nothing PostgreSQL cannot store (see storable_body). `then(fold)`
    runs after a fold, with it, in its transaction and under the workspace lock: for work that must see
    the rows of every batch committed before (OTLP log records joined to their spans).

    The rows are committed when this returns: a caller that acknowledges afterwards never loses an event.
    """
    results = [None] * len(raw_events)
    candidates = []
    seen = set()
    # One query, and only for a batch that names a custom type (a type that is no string names none).
    named = {
        raw.get("type") for raw in raw_events if isinstance(raw, dict) and isinstance(raw.get("type"), str)
    }
    custom_types = custom.catalogue(workspace, named)
    for index, raw in enumerate(raw_events):
        checked = validate(index, raw, storable, custom_types)
        if isinstance(checked, dict):
            results[index] = checked
        elif checked.id in seen:
            results[index] = {"index": index, "id": checked.id, "status": DUPLICATE}
        else:
            seen.add(checked.id)
            candidates.append(checked)
    texts, documents, package_prices = {}, {}, PackagePrices()
    if candidates:
        redact(workspace, candidates)
        if connection.vendor == "postgresql":
            texts = dump_payloads(candidates)
        documents = search.words_ahead(searched_values(candidates))
        package_prices.ahead(candidates)
    with transaction.atomic(), bulk.dumped(texts), search.ahead(documents):
        if candidates:
            lock_workspace(workspace)
            stored = stored_event_ids(workspace, seen)
            fresh = [e for e in candidates if e.id not in stored]
            if fresh:
                fold = Fold(workspace, fresh, package_prices)
                fold.apply()
                if then is not None:
                    then(fold)
            for event in candidates:
                status = DUPLICATE if event.id in stored else ACCEPTED
                results[event.index] = {"index": event.index, "id": event.id, "status": status}
    return results


def stored_event_ids(workspace, ids):
    """Which of these event ids the workspace has stored already.

    On PostgreSQL the ids go as one array: an IN list of 1,000 parameters took 5-12 ms to bind and
    parse, under the workspace lock; the array takes about 1.
    """
    if connection.vendor != "postgresql":
        return set(
            Event.objects.filter(workspace=workspace, event_id__in=ids).values_list("event_id", flat=True)
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT event_id FROM {Event._meta.db_table} "  # noqa: S608 - the model's table
            "WHERE workspace_id = %s AND event_id = ANY(%s::text[])",
            [workspace.pk, text_array(ids)],
        )
        return {row[0] for row in cursor.fetchall()}


def text_array(values):
    """A PostgreSQL array literal of these strings, each quoted: one parameter instead of many."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def redact(workspace, events):
    """Each body as it will be stored, but for the agent's payload mode: dumped in JSON form (NaN
    becomes null) and redacted by the workspace's rules; the fold reads the body in that form. Done
    before the workspace lock, so batches of one workspace overlap here; the fold applies the payload
    mode, which depends on rows other batches write."""
    redactor = Redactor(RedactionRule.objects.filter(workspace=workspace, enabled=True))
    for event in events:
        event.stored = redactor.apply_to_body(event.body.model_dump(mode="json", exclude_unset=True))
        event.body = type(event.body).model_construct(**event.stored)


# Body fields whose values the fold writes as they are into JSON columns of other rows (a task's
# input, a model call's request, a message's content…).
PAYLOAD_FIELDS = ("input", "output", "error", "args", "result", "request", "response", "state", "content")
PAYLOAD_FIELDS += ("graph", "tags", "properties")


def dump_payloads(events):
    """The JSON text of each stored body and of its payloads, made before the workspace lock: one
    dump of everything, which the event log and the rows the fold writes share (see bulk.dumped)."""
    texts, dumps = {}, json.dumps
    for event in events:
        stored, rest, parts = event.stored, {}, []
        for name, value in stored.items():
            if name in PAYLOAD_FIELDS and isinstance(value, dict | list):
                text = dumps(value)
                texts[id(value)] = (value, text)
                parts.append(f'"{name}": {text}')
            else:
                rest[name] = value
        text = dumps(rest)
        if parts:
            text = text[:-1] + (", " if rest else "") + ", ".join(parts) + "}"
        texts[id(stored)] = (stored, text)
    return texts


# Body fields whose values the fold stores in columns the search indexes (a task's name, input, output and
# error, a model call's request and response, a chat turn's content…).
SEARCHED_FIELDS = ("name", "input", "output", "error", "args", "result", "request", "response", "content")


def searched_values(events):
    for event in events:
        if event.type == "log" and not is_task_event(event):
            continue  # a line of the event log, which the search does not read (an OTLP log record)
        for name in SEARCHED_FIELDS:
            value = event.stored.get(name)
            if isinstance(value, str | dict | list) and value:
                yield value


def summarize(results):
    counts = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
    for result in results:
        counts[result["status"]] += 1
    return {
        "accepted": counts[ACCEPTED],
        "duplicates": counts[DUPLICATE],
        "rejected": counts[REJECTED],
        "results": results,
    }
