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
"""

from collections import defaultdict

from traces import bulk
from traces.models import Event, ModelCall, Task, TaskStatus
from traces.rollups.daily import Scope, add, subtract

from . import ingest_batch, policy
from .genai_records import GENAI_RECORDS, OPERATION_DETAILS_EVENT
from .turns import drop_superseded_turns

RUN_PAYLOADS = ("run__input", "run__output", "run__error", "run__state", "run__graph")


def join_records(workspace, keys, make_turns, fold):
    """Apply the GenAI records of these (trace id, span id) pairs to their spans' rows, where both are
    stored, after `fold` stored the spans or the records. `make_turns` is otlp.stored_turns (passed in:
    the OTLP translation imports this module)."""
    # A record is a line of its run: a run the fold has just created had none before it.
    keys = {key for key in keys if key[0] not in fold.new_runs}
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
        .defer(*RUN_PAYLOADS)
    )
    joined = {key: task for task in tasks if (key := (task.run.run_id, task.step_id)) in records}
    if not joined:
        return
    calls = {
        (call.run_id, call.step_id): call
        for call in ModelCall.objects.filter(
            run__in={task.run_id for task in joined.values()}, step_id__in={key[1] for key in joined}
        ).only("run", "step_id", "finish_reason", "request", "response")
    }
    changed_tasks, changed_calls, finished_calls, conversations = [], [], [], {}
    for key, task in joined.items():
        inputs, outputs, finish_reason = messages_of(records[key])
        payloads = policy.apply_mode({"input": inputs or None, "output": outputs or None}, task.run.agent)
        if set_payloads(task, {"input": payloads["input"], "output": payloads["output"]}):
            changed_tasks.append(task)
        call = calls.get((task.run_id, task.step_id))
        if call is not None:
            if set_payloads(call, {"request": payloads["input"], "response": payloads["output"]}):
                changed_calls.append(call)
            if finish_reason and not call.finish_reason:
                call.finish_reason = finish_reason
                finished_calls.append(call)
        session = task.run.session
        if session is not None and task.started_at is not None and complete(records[key], task):
            conversations[key[0]] = session.session_id
    bulk.update(Task, changed_tasks, ["input", "output"])
    write_calls(changed_calls, finished_calls)
    if conversations:
        # After the payloads are written: the conversation is read from the stored tasks.
        turns, held = make_turns(workspace, conversations)
        drop_superseded_turns(workspace, held)
        ingest_batch(workspace, [raw for raw, _ in turns], storable=True)


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


def stored_records(workspace, keys):
    """{(trace id, span id): [(time, event id, payload)]} of the GenAI records stored for these spans."""
    if not keys:
        return {}
    rows = Event.objects.filter(
        workspace=workspace,
        type="log",
        run__run_id__in={run_id for run_id, _ in keys},
        payload__parent_id__in={span_id for _, span_id in keys},
        payload__name__in=GENAI_RECORDS,
    ).values_list("run__run_id", "payload__parent_id", "timestamp", "event_id", *RECORD_COLUMNS)
    records = defaultdict(list)
    for run_id, span_id, at, event_id, *values in rows:
        if (run_id, span_id) in keys:
            records[run_id, span_id].append((at, event_id, dict(zip(RECORD_FIELDS, values, strict=True))))
    return records


def messages_of(records):
    """The input and output messages of a span's records, in order, and the first finish reason."""
    inputs, outputs, finish_reason = [], [], None
    for _, _, payload in sorted(records, key=lambda record: record[:2]):
        inputs += messages(payload.get("input"))
        outputs += messages(payload.get("output"))
        finish_reason = finish_reason or payload.get("finish_reason")
    return inputs, outputs, finish_reason


def complete(records, task):
    """Are the call's messages all here? Its input messages are sent before its answer, so they are
    once the answer's records (or the one record of them all) are, or once the call failed without one.
    Turns are only made then: the history rule (turns) needs the whole input to tell what is new.
    """
    if task.status == TaskStatus.FAILED:
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


def set_payloads(row, values):
    """Set the payloads the records give (those not None) where they differ; True when any did."""
    changed = False
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
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
