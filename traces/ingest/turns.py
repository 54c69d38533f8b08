"""Which chat turns a run's conversation shows, from the chat messages its spans carry.

The turns are the agent's exchange with its user, taken from the calls that answer the user: a model
call (or an agent invocation) re-sends the conversation so far as its input, so the call with the most
messages is the main thread, and a call belongs to it when it opens with the same system prompt, or
with none (a follow-up asked of another model). A call whose system prompt differs (an intent
classifier inside the agent) is internal: its messages stay in its task's payload and are not turns.

The conversation is built from every call of the run known so far (this request's spans and the tasks
stored before), whatever order they came in: the answering calls in start order, each adding what is
new in it (its outputs, and its inputs after the last assistant message: the ones before are history)
unless the conversation holds that turn already. The system prompt comes first. Only when no call
carries messages is the root span's plain text in and out one exchange (Langfuse's trace input, or a
decorated function's single argument, `{"args": [text], "kwargs": {}}`, is the user's text).

Stored calls are read from their tasks' payloads, or, where the capture mode cut those, from their
shapes (CallShape: per message its role, a digest of its content and its turn's id, stored with every
request): which calls answer the user, and which turns their conversation holds, are then the same
whatever the mode and however the trace was split. A call known by its shape alone gives no text:
its turns are the ones stored already.

A turn's event id comes from where it belongs (the run; a system prompt, the whole conversation), its
role and content, and how many times the same turn came before, so a turn seen again (a later request
re-sends the history, or its run's spans come over several requests) is a duplicate, not a copy. A
request that completes a run can change which calls answer the user (the classifier came first, alone):
the turns stored before that the run's conversation no longer holds, or holds at another time, are
taken away with their lines of the event log, which the server derived and no client sent, before the
request's turns are stored (drop_superseded_turns).
"""

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from traces.locks import lock_workspace
from traces.models import CallShape, ChatMessage, Event, Run, SearchKind, Task
from traces.rollups.sessions import refresh_sessions
from traces.search import index as search

from .conventions import MESSAGE_KEY_PREFIX, as_messages, message_key, parse_json
from .fold import renumber
from .names import Langfuse

ONE_MICROSECOND = timedelta(microseconds=1)
# The tasks whose payloads may be chat messages: model calls and agent invocations.
MESSAGE_TASK_TYPES = ("llm", "agent")


@dataclass(frozen=True)
class Said:
    """One chat message of a call: its role and content, the digest it is compared by, and for a call
    known by its shape alone, no content but the id of its turn."""

    role: str
    content: object
    digest: str
    key: str | None = None


def said(message):
    return Said(message["role"], message["content"], digest(message["content"]))


@dataclass(frozen=True)
class Call:
    """The chat messages one span carries: what it was asked (inputs) and what it answered (Said)."""

    step_id: str
    start: datetime
    end: datetime
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)

    @classmethod
    def of(cls, step_id, start, end, inputs, outputs):
        """A Call from messages as spans and payloads hold them ({"role", "content"})."""
        return cls(step_id, start, end, [said(m) for m in inputs], [said(m) for m in outputs])

    @property
    def system_prompt(self):
        return next((m.digest for m in self.inputs if m.role == "system"), None)

    @property
    def said(self):
        """What it said, comparable with another call's: (role, digest) of each message."""
        return [(m.role, m.digest) for m in self.inputs + self.outputs]

    @property
    def size(self):
        return len(self.inputs) + len(self.outputs)


@dataclass(frozen=True)
class Turn:
    role: str
    content: object
    step_id: str
    at: datetime
    occurrence: int  # how many times the same turn came before it in the conversation
    key: str | None = None  # the turn's id, for a call known by its shape alone (content None)

    def event_id(self, session_id, run_id):
        if self.key is not None:
            return self.key
        return turn_key(session_id, run_id, self.role, self.content, self.occurrence)


def turn_key(session_id, run_id, role, content, occurrence):
    return message_key(session_id if role == "system" else run_id, role, content, occurrence)


@dataclass
class Conversation:
    """What a run's spans say of its conversation: its turns ({event id: (time, step id)}) and the
    steps whose messages were read for them (a turn of another step is none of this module's)."""

    steps: set
    turns: dict = field(default_factory=dict)


def canonical(content):
    return json.dumps(content, sort_keys=True, ensure_ascii=False)


def digest(content):
    return hashlib.sha256(canonical(content).encode()).hexdigest()[:32]


def conversation(calls, exchange=None):
    """The turns of one run, in order, from its calls (and its root span's exchange, a Call or None)."""
    calls = [call for call in calls if call.inputs or call.outputs]
    answering = answering_calls(calls) if calls else [exchange] if exchange else []
    turns, held, last_at = [], set(), None
    for call in sorted(answering, key=lambda c: (c.start, c.step_id)):
        for message, occurrence, at in new_messages(call):
            if (message.role, message.digest, occurrence) in held:
                continue
            held.add((message.role, message.digest, occurrence))
            # Microseconds apart at least, so the turns keep their order even when calls overlap.
            last_at = at if last_at is None or at > last_at else last_at + ONE_MICROSECOND
            turns.append(Turn(message.role, message.content, call.step_id, last_at, occurrence, message.key))
    return turns


def answering_calls(calls):
    """The calls of the main thread: the call with the most messages (the latest of equals) names it."""
    main = max(calls, key=lambda c: (c.size, c.start, c.step_id))
    prompt = thread_prompt(main, calls)
    return [call for call in calls if call.system_prompt in (None, prompt)]


def thread_prompt(main, calls):
    """The main thread's system prompt: the main call's; when it sends none (some instrumentations
    record the instructions of the first call only), that of a call whose other messages open the
    main call's conversation."""
    if main.system_prompt is not None:
        return main.system_prompt
    history = exchanged(main)
    for call in sorted(calls, key=lambda c: (c.start, c.step_id)):
        own = exchanged(call)
        if call.system_prompt is not None and own and own == history[: len(own)]:
            return call.system_prompt
    return None


def exchanged(call):
    """A call's messages but the system prompt, comparable with another call's."""
    return [(role, digested) for role, digested in call.said if role != "system"]


def occurrences(call):
    """(message, occurrence) of each message of a call, inputs then outputs: the occurrence counts the
    same message earlier in the call."""
    seen = Counter()
    for message in call.inputs + call.outputs:
        key = (message.role, message.digest)
        occurrence, seen[key] = seen[key], seen[key] + 1
        yield message, occurrence


def new_messages(call):
    """(message, occurrence, time) of what is new in a call: its outputs, and its inputs after the last
    assistant message."""
    last_assistant = max((i for i, m in enumerate(call.inputs) if m.role == "assistant"), default=-1)
    for i, (message, occurrence) in enumerate(occurrences(call)):
        if i >= len(call.inputs):
            yield message, occurrence, call.end
        elif i > last_assistant:
            yield message, occurrence, call.start


# -- where the calls come from --------------------------------------------------------------------


def span_call(span):
    """The Call of a span of this request, or None when it carries no chat messages."""
    facts = span.facts
    if facts.type not in MESSAGE_TASK_TYPES or not (facts.input_messages or facts.output_messages):
        return None
    return Call.of(
        span.span_id, span.start, span.end or span.start, facts.input_messages, facts.output_messages
    )


def span_exchange(span):
    """The plain-text exchange of a root span: Langfuse's trace input first, else its own input."""
    said = span.attrs.get(Langfuse.TRACE_INPUT)
    said = parse_json(said) if said is not None else span.facts.input
    return exchange(span.span_id, span.start, span.end or span.start, said, span.facts.output)


def exchange(step_id, start, end, said, answered):
    inputs = as_messages(plain_text(said), "user")
    outputs = as_messages(plain_text(answered), "assistant")
    return Call.of(step_id, start, end, inputs, outputs) if inputs or outputs else None


def plain_text(value):
    """Text, or the one argument of a decorated function ({"args": [text], "kwargs": {}}), else None."""
    if isinstance(value, dict) and set(value) <= {"args", "kwargs"} and not value.get("kwargs"):
        arguments = value.get("args")
        value = arguments[0] if isinstance(arguments, list) and len(arguments) == 1 else None
    return value if isinstance(value, str) else None


def stored_calls(workspace, run_ids, skip):
    """({run_id: [Call]}, {run_id: root exchange}) from the stored tasks of these runs, leaving out the
    tasks whose spans are in this request (`skip`: "run_id:step_id" keys): a task's payloads where
    they say what its shape says (the mode cut nothing), else its shape. Two queries."""
    shapes = stored_shapes(workspace, run_ids, skip)
    calls, exchanges = defaultdict(list), {}
    tasks = Task.objects.filter(
        Q(type__in=MESSAGE_TASK_TYPES) | Q(parent_step_id=""),
        run__workspace=workspace,
        run__run_id__in=run_ids,
    ).values_list(
        "run__run_id", "step_id", "parent_step_id", "type", "started_at", "ended_at", "input", "output"
    )
    for run_id, step_id, parent_step_id, task_type, started_at, ended_at, task_input, task_output in tasks:
        if f"{run_id}:{step_id}" in skip or started_at is None:
            continue
        ended_at = ended_at or started_at
        shape, root = shapes.pop((run_id, step_id), (None, False))
        call = task_call(step_id, task_type, started_at, ended_at, task_input, task_output)
        if shape is not None and not root:
            calls[run_id].append(whole_or(call, shape))
        elif shape is None and call is not None:
            calls[run_id].append(call)
        elif not parent_step_id:
            said_in_full = exchange(step_id, started_at, ended_at, task_input, task_output)
            exchanges[run_id] = whole_or(said_in_full, shape)
    # Shapes of tasks the query did not return (of no type that carries messages, or not started).
    for (run_id, _), (shape, root) in shapes.items():
        if root:
            exchanges.setdefault(run_id, shape)
        else:
            calls[run_id].append(shape)
    return calls, exchanges


def whole_or(call, shape):
    """The call read from its task's payloads when they hold what its shape says, else the shape."""
    if shape is None or (call is not None and call.said == shape.said):
        return call
    return shape


def stored_shapes(workspace, run_ids, skip):
    """{(run_id, step_id): (Call without content, root)} of these runs' stored shapes. One query."""
    rows = CallShape.objects.filter(run__workspace=workspace, run__run_id__in=run_ids).values_list(
        "run__run_id", "step_id", "root", "started_at", "ended_at", "inputs", "outputs"
    )
    return {
        (run_id, step_id): (Call(step_id, start, end, unsaid(inputs), unsaid(outputs)), root)
        for run_id, step_id, root, start, end, inputs, outputs in rows
        if f"{run_id}:{step_id}" not in skip
    }


def unsaid(stored):
    return [Said(role, None, digested, key) for role, digested, key in stored]


def shape_of(call, session_id, run_id, root=False):
    """The CallShape fields of a call of this request (its messages' roles, digests and turn ids)."""
    keyed = [
        [m.role, m.digest, turn_key(session_id, run_id, m.role, m.content, occurrence)]
        for m, occurrence in occurrences(call)
    ]
    inputs, outputs = keyed[: len(call.inputs)], keyed[len(call.inputs) :]
    return {
        "step_id": call.step_id,
        "root": root,
        "started_at": call.start,
        "ended_at": call.end,
        "inputs": inputs,
        "outputs": outputs,
    }


def store_shapes(workspace, shapes):
    """Store the shapes of this request's calls ({run_id: [shape_of fields]}), a span sent again
    replacing its own. Two queries; none without shapes."""
    if not shapes:
        return
    runs = dict(Run.objects.filter(workspace=workspace, run_id__in=list(shapes)).values_list("run_id", "pk"))
    rows = [
        CallShape(run_id=runs[run_id], **fields)
        for run_id, found in shapes.items()
        if run_id in runs
        for fields in found
    ]
    CallShape.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["run", "step_id"],
        update_fields=["root", "started_at", "ended_at", "inputs", "outputs"],
    )


def task_call(step_id, task_type, start, end, task_input, task_output):
    """The Call of a stored task, or None when it holds no chat messages."""
    inputs, outputs = stored_messages(task_input), stored_messages(task_output)
    if task_type in MESSAGE_TASK_TYPES and (inputs or outputs):
        return Call.of(step_id, start, end, inputs, outputs)
    return None


def span_as_stored(span):
    """(its Call, its exchange) of a span of this request as stored_calls will read its task: the
    payloads the fold stores (a failed or open span stores no output), not the span's messages."""
    end = span.end or span.start
    task_input = span.facts.input
    task_output = span.facts.output if span.end is not None and not span.failed else None
    call = task_call(span.span_id, span.facts.type, span.start, end, task_input, task_output)
    return call, exchange(span.span_id, span.start, end, task_input, task_output)


def stored_messages(payload):
    if isinstance(payload, list) and all(
        isinstance(m, dict) and set(m) == {"role", "content"} for m in payload
    ):
        return payload
    return []


def drop_superseded_turns(workspace, conversations):
    """Delete the turns these runs' spans gave before that their conversation no longer holds, or holds
    at another time or step, and their message events; renumber and refresh the sessions they were
    in. `conversations`: {run_id: Conversation}. One query when nothing is superseded."""
    if not conversations:
        return
    stored = ChatMessage.objects.filter(
        workspace=workspace, run__run_id__in=list(conversations), event_id__startswith=MESSAGE_KEY_PREFIX
    ).values_list("pk", "run__run_id", "event_id", "created_at", "step_id", "session_id")
    superseded = [
        row
        for row in stored
        if row[4] in conversations[row[1]].steps
        and conversations[row[1]].turns.get(row[2]) != (row[3], row[4])
    ]
    if not superseded:
        return
    with transaction.atomic():
        lock_workspace(workspace)
        ChatMessage.objects.filter(pk__in=[row[0] for row in superseded]).delete()
        Event.objects.filter(workspace=workspace, event_id__in=[row[2] for row in superseded]).delete()
        search.forget(workspace, SearchKind.MESSAGE, [row[2] for row in superseded])
        sessions = {row[5] for row in superseded}
        renumber("chat_messages", "session_id", "created_at", "event_id", sessions)
        refresh_sessions(sessions)
