"""GenAI log records joined to their span, whichever of them arrives first.

A record is stored as any log record is: a `log` event of its run's event log under its span
(`parent_id`), holding the messages it carries as its input and output, so redaction and the payload
mode cut them as any payload. After every batch of spans and every batch of records, in the batch's
transaction and under the workspace lock (so a batch sees every one committed before it), each span
of the batch that has both a task and GenAI records gets what the records say:

- the task's input and output, and its model call's request and response, are the records'
  messages, in the records' order (time, then id); records without messages leave them as they are;
- the model call takes the records' finish reason when its span named none;
- when the run has a conversation and the call's messages are all here (see complete), the run's
  conversation is made again from its stored tasks, through the same rule as a span's own messages
  (turns: the calls that answer the user, history dedupe and ordering), the turns it no longer holds
  taken away. A run that names its conversation later gets them then from the task's payloads, as any
  span's (otlp.conversation_events).

It is recomputed from all of the span's records each time, so records split over several batches,
sent twice, or sent before or after their span give the same rows.

Records stored before their spans are read before the workspace lock and go into the spans
(give_records), so the fold stores those spans as the join would leave them and no join follows:
under the lock only the records' ids are read, to join again the spans that a record reached since,
or whose payload mode cuts what they were given.
"""

from collections import defaultdict
from typing import NamedTuple

from traces import bulk
from traces.models import Event, ModelCall, RedactionRule, SearchKind, Task, TaskStatus
from traces.rollups.daily import Scope, add, subtract
from traces.search import index as search

from . import ingest_batch, policy
from .genai_records import GENAI_RECORDS, OPERATION_DETAILS_EVENT
from .turns import drop_superseded_turns

# What join_records reads of a task, under the workspace lock: its payloads and what the records need
# of its run (the conversation, the payload mode), not its metadata or its run's payloads.
TASK_FIELDS = ("step_id", "status", "started_at", "input", "output")
TASK_FIELDS += ("run__run_id", "run__session__session_id")
TASK_FIELDS += ("run__agent__mode", "run__agent__max_input_chars", "run__agent__max_output_chars")


class Given(NamedTuple):
    """Records given to a span before the lock, and what the span said itself (its payloads before the
    payload mode, its finish reason): join_records starts from those when it joins them again."""

    records: list
    input: object
    output: object
    finish_reason: str | None


def give_records(workspace, spans):
    """Before the workspace lock: the GenAI records stored for these spans of a request (read in one
    query), given to the spans that take them as join_records would give them to their rows, so that
    the fold stores the spans with them and no join follows. A span takes its records' messages as its
    input and output (where they have some) and their finish reason when it names none.

    Only an ended span that did not fail and is not its trace's root takes them (a failed span stores
    no output, and a root's input is also its run's), and none in a workspace that redacts (the records
    are redacted already, and a rule applied twice may differ). The conversation of a trace a span of
    which takes complete records is read from the request's spans as they will be stored, as
    join_records reads it. Returns ({(trace id, span id): Given}, {those trace ids}); join_records
    checks under the lock that they are still all the records and stored whole, else joins them."""
    records = stored_records(workspace, {(span.trace_id, span.span_id) for span in spans})
    if not records or RedactionRule.objects.filter(workspace=workspace, enabled=True).exists():
        return {}, set()
    given, as_stored = {}, set()
    for span in spans:
        key = (span.trace_id, span.span_id)
        if key not in records or span.is_root or span.end is None or span.failed:
            continue
        inputs, outputs, finish_reason = messages_of(records[key])
        facts = span.facts
        given[key] = Given(records[key], facts.input, facts.output, facts.finish_reason)
        facts.input, facts.output = inputs or facts.input, outputs or facts.output
        facts.finish_reason = facts.finish_reason or finish_reason
        if complete(records[key], failed=False):
            as_stored.add(span.trace_id)
    return given, as_stored


def join_records(workspace, keys, make_turns, fold, given=None):
    """Apply the GenAI records of these (trace id, span id) pairs to their spans' rows, where both are
    stored, after `fold` stored the spans or the records. `make_turns` is otlp.stored_turns (passed in:
    the OTLP translation imports this module). `given`: {key: Given} of give_records, before the lock;
    only the records the spans no longer hold whole are joined again."""
    given = given or {}
    # A record is a line of its run: a run the fold has just created had none before it.
    keys = {key for key in keys if key[0] not in fold.new_runs}
    if given:
        keys = changed_records(workspace, keys | set(given), given, fold)
    records = stored_records(workspace, keys)
    if not records:
        return
    tasks = (
        Task.objects.filter(
            run__workspace=workspace,
            run__run_id__in={run_id for run_id, _ in records},
            step_id__in={step_id for _, step_id in records},
        )
        .select_related("run__session", "run__agent")
        .only(*TASK_FIELDS)
    )
    joined = {key: task for task in tasks if (key := (task.run.run_id, task.step_id)) in records}
    if not joined:
        return
    calls = {
        (call.run_id, call.step_id): call
        for call in ModelCall.objects.filter(
            run__in={task.run_id for task in joined.values()}, step_id__in={key[1] for key in joined}
        ).only("run", "step_id", "call_id", "created_at", "finish_reason", "request", "response")
    }
    changed_tasks, changed_calls, finished_calls, conversations = [], [], [], {}
    for key, task in joined.items():
        inputs, outputs, finish_reason = messages_of(records[key])
        # A span given records before the lock holds them: what it said itself is where to start again.
        own = given.get(key)
        if own is not None:
            inputs, outputs = inputs or own.input, outputs or own.output
        agent = task.run.agent
        payloads = policy.apply_mode({"input": inputs or None, "output": outputs or None}, agent)
        # The model call's copy is a request and a response, which a capture flag may keep whole.
        exchange = policy.apply_mode({"request": inputs or None, "response": outputs or None}, agent)
        reset = own is not None
        if set_payloads(task, {"input": payloads["input"], "output": payloads["output"]}, reset):
            changed_tasks.append(task)
        call = calls.get((task.run_id, task.step_id))
        if call is not None:
            if set_payloads(call, exchange, reset):
                changed_calls.append(call)
            if own is not None:
                finish_reason = own.finish_reason or finish_reason
            elif call.finish_reason:
                finish_reason = None  # the span named one, or earlier records did
            if finish_reason and call.finish_reason != finish_reason:
                call.finish_reason = finish_reason
                finished_calls.append(call)
        session = task.run.session
        failed = task.status == TaskStatus.FAILED
        if session is not None and task.started_at is not None and complete(records[key], failed):
            conversations[key[0]] = session.session_id
    bulk.update(Task, changed_tasks, ["input", "output"])
    write_calls(changed_calls, finished_calls)
    index_payloads(
        workspace, changed_tasks, changed_calls, {task.run_id: task.run for task in joined.values()}
    )
    if conversations:
        # After the payloads are written: the conversation is read from the stored tasks.
        turns, held = make_turns(workspace, conversations)
        drop_superseded_turns(workspace, held)
        ingest_batch(workspace, [raw for raw, _ in turns], storable=True)


def index_payloads(workspace, tasks, calls, runs):
    """The search documents of the payloads the records gave these stored tasks and model calls."""
    documents = search.Batch(workspace)
    for task in tasks:
        documents.add_task(task, ("input", "output"), replaces=True)
    for call in calls:
        run = runs[call.run_id]
        documents.add(
            run, SearchKind.CALL_REQUEST, call.call_id, call.created_at, call.request, replaces=True
        )
        documents.add(
            run, SearchKind.CALL_RESPONSE, call.call_id, call.created_at, call.response, replaces=True
        )
    documents.write()


def stored_spans(workspace, keys):
    """Those of these (trace id, span id) pairs whose span is stored (a task)."""
    if not keys:
        return set()
    tasks = Task.objects.filter(
        run__workspace=workspace,
        run__run_id__in={run_id for run_id, _ in keys},
        step_id__in={step_id for _, step_id in keys},
    ).values_list("run__run_id", "step_id")
    return set(tasks) & keys


# What join_records reads of a stored record: not its attributes.
RECORD_FIELDS = ("name", "input", "output", "finish_reason")
RECORD_COLUMNS = [f"payload__{name}" for name in RECORD_FIELDS]


def record_rows(workspace, keys):
    return Event.objects.filter(
        workspace=workspace,
        type="log",
        run__run_id__in={run_id for run_id, _ in keys},
        payload__parent_id__in={span_id for _, span_id in keys},
        payload__name__in=GENAI_RECORDS,
    )


def stored_records(workspace, keys):
    """{(trace id, span id): [(time, event id, payload)]} of the GenAI records stored for these spans."""
    if not keys:
        return {}
    rows = record_rows(workspace, keys).values_list(
        "run__run_id", "payload__parent_id", "timestamp", "event_id", *RECORD_COLUMNS
    )
    records = defaultdict(list)
    for run_id, span_id, at, event_id, *values in rows:
        if (run_id, span_id) in keys:
            records[run_id, span_id].append((at, event_id, dict(zip(RECORD_FIELDS, values, strict=True))))
    return records


def changed_records(workspace, keys, given, fold):
    """Those of these spans whose stored records are not the ones given to them before the lock: a
    record stored since (by a batch that did not see the span), or given to a span whose run's
    payload mode cuts them, which join_records reads from the stored rows. One query, of ids only."""
    stored = defaultdict(set)
    for run_id, span_id, event_id in record_rows(workspace, keys).values_list(
        "run__run_id", "payload__parent_id", "event_id"
    ):
        stored[run_id, span_id].add(event_id)
    return {
        key
        for key in keys
        if stored.get(key, set())
        != {event_id for _, event_id, _ in (given[key].records if key in given else ())}
        or (key in given and not policy.keeps_whole(fold.agent_of_run(key[0])))
    }


def messages_of(records):
    """The input and output messages of a span's records, in order, and the first finish reason."""
    inputs, outputs, finish_reason = [], [], None
    for _, _, payload in sorted(records, key=lambda record: record[:2]):
        inputs += messages(payload.get("input"))
        outputs += messages(payload.get("output"))
        finish_reason = finish_reason or payload.get("finish_reason")
    return inputs, outputs, finish_reason


def complete(records, failed):
    """Are the call's messages all here? Its input messages are sent before its answer, so they are
    once the answer's records (or the one record of them all) are, or once the call failed without one.
    Turns are only made then: the history rule (turns) needs the whole input to tell what is new.
    """
    if failed:
        return True
    return any(
        payload.get("name") == OPERATION_DETAILS_EVENT or messages(payload.get("output"))
        for _, _, payload in records
    )


def messages(value):
    """The messages of a stored record's payload: none when the payload mode cut them to something else."""
    if isinstance(value, list) and all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in value):
        return value
    return []


def set_payloads(row, values, reset=False):
    """Set the payloads the records give (those not None, or all when `reset`) where they differ; True
    when any did."""
    changed = False
    for name, value in values.items():
        if (value is not None or reset) and getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def write_calls(changed, finished):
    """Write the model calls' payloads and finish reasons; a finish reason is a dimension of the daily
    roll-ups, taken away before and added back after."""
    scope = Scope.of(calls=[call.pk for call in finished])
    subtract(scope)
    calls = list({id(call): call for call in changed + finished}.values())
    bulk.update(ModelCall, calls, ["request", "response", "finish_reason"])
    add(scope)
