"""What a reviewed run teaches: the conversation up to the reviewed reply, in the OpenAI chat format.

The conversation is the session's chat turns up to the reviewed reply (the targeted one, else the
run's last reply); a corrected output replaces that reply, and what came after it goes (it answered a
reply that was wrong). A run without chat turns is read as its input (user) and output (assistant).

The agent's system prompt comes first when a model call of the conversation sent one: the system
message of the call that carried the most of the conversation (a classifier inside the agent sends
its own prompt with one message; the calls that answer the user send the history).

Tool use follows the format's pairing: an assistant message lists `tool_calls` (id, function name,
arguments as a JSON string) and each `tool` message answers one of them by `tool_call_id` before the
next turn. Ids come from what was recorded (a turn's `tool_calls` / `tool_call_id` metadata, or the
tool call and result parts of OTLP messages); when the run's turns hold no tool use, the tool calls
and results its last model call sent are read from that call's request. A tool result recorded with
no call gets one made from its tool task (name and input), in an assistant message of its own, with
an id derived from the run and step so every export writes the same. A call no tool message answers
is left out rather than left hanging.

Assistant messages of earlier runs carry `weight: 0`: they are context, not what the review vouches
for.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field

from django.db.models import F, Q

from traces.ingest.conventions import as_messages
from traces.models import ChatMessage, ChatRole, ModelCall, Task, TaskType

from .tickets import turn_text

TRAINING_ROLES = (ChatRole.SYSTEM, ChatRole.USER, ChatRole.ASSISTANT, ChatRole.TOOL)
# The format's function names: letters, digits, underscores and dashes, 64 at most.
NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
UNNAMED_TOOL = "tool"


@dataclass
class Records:
    """What the examples of a chunk of reviews are made from (see `records`)."""

    turns_by_session: dict = field(default_factory=dict)  # session pk → [ChatMessage] in order
    turns_by_run: dict = field(default_factory=dict)  # run pk → [ChatMessage] of runs with no session
    tools: dict = field(default_factory=dict)  # (run pk, step id) → (name, input) of tool tasks
    # session or run key → [(run started, messages beside the prompt, call time, prompt)]
    prompts: dict = field(default_factory=dict)
    # run pk → [(call time, call id, messages)] of the reviewed runs' model calls
    requests: dict = field(default_factory=dict)


@dataclass(eq=False)
class Message:
    """One message being built, with the run it came from (for `weight`)."""

    role: str
    content: str
    run: int | None
    tool_calls: list = field(default_factory=list)
    tool_call_id: str | None = None
    made: bool = False  # an assistant tool_calls message made for results recorded with no call

    def as_dict(self, trained_run=None):
        """The message in the format; assistant messages of other runs than `trained_run` (when given)
        weigh 0."""
        entry = {"role": str(self.role), "content": self.content}
        if self.tool_calls:
            entry["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            entry["tool_call_id"] = self.tool_call_id
        if trained_run is not None and self.role == ChatRole.ASSISTANT and self.run != trained_run:
            entry["weight"] = 0
        return entry


def conversation_key(run):
    return ("session", run.session_id) if run.session_id else ("run", run.pk)


def records(runs):
    """The turns, tool tasks, system prompts and model call requests the examples of these runs need.
    Three queries (two when no tool turn names a step)."""
    found = Records()
    sessions = {run.session_id for run in runs if run.session_id}
    lone = {run.pk for run in runs if not run.session_id}
    turns = (
        ChatMessage.objects.filter(Q(session__in=sessions) | Q(run__in=lone), role__in=TRAINING_ROLES)
        .annotate(run_key=F("run__run_id"))
        .order_by("session", "sequence", "id")
    )
    tool_steps = set()
    for turn in turns:
        if turn.session_id in sessions:
            found.turns_by_session.setdefault(turn.session_id, []).append(turn)
        else:
            found.turns_by_run.setdefault(turn.run_id, []).append(turn)
        if turn.role == ChatRole.TOOL and turn.run_id and turn.step_id:
            tool_steps.add((turn.run_id, turn.step_id))
    if tool_steps:
        tasks = Task.objects.filter(
            run__in={run for run, _ in tool_steps},
            step_id__in={step for _, step in tool_steps},
            type=TaskType.TOOL,
        ).values_list("run_id", "step_id", "name", "input")
        found.tools = {(run, step): (name, task_input) for run, step, name, task_input in tasks}
    reviewed = {run.pk for run in runs}
    calls = ModelCall.objects.filter(Q(run__session__in=sessions) | Q(run__in=lone)).values_list(
        "run_id", "run__session_id", "run__started_at", "call_id", "created_at", "request"
    )
    for run_pk, session_pk, started_at, call_id, created_at, request in calls:
        messages = as_messages(request, ChatRole.USER)
        prompt = sent_prompt(request, messages)
        if prompt is not None:
            key = ("session", session_pk) if session_pk in sessions else ("run", run_pk)
            others = sum(m["role"] != ChatRole.SYSTEM for m in messages)
            found.prompts.setdefault(key, []).append((started_at, others, created_at, prompt))
        if run_pk in reviewed:
            found.requests.setdefault(run_pk, []).append((created_at, call_id, messages))
    return found


def sent_prompt(request, messages):
    """The system prompt of a model call: its first system message, or the request's own `system`
    (Anthropic's Messages API sends it beside the messages, as text or text blocks); None for none."""
    prompt = next((m["content"] for m in messages if m["role"] == ChatRole.SYSTEM), None)
    if prompt is not None:
        return turn_text(prompt)
    system = request.get("system") if isinstance(request, dict) else None
    if isinstance(system, list):
        texts = [block.get("text") for block in system if isinstance(block, dict)]
        system = "\n".join(text for text in texts if isinstance(text, str)) or None
    return system if isinstance(system, str) and system.strip() else None


def agent_prompt(run, found):
    """The system prompt of the call that carried the most of the conversation, among the calls of
    this run and the runs before it (the latest of equals); None when no call sent one."""
    sent = [entry for entry in found.prompts.get(conversation_key(run), ()) if entry[0] <= run.started_at]
    if not sent:
        return None
    return max(sent, key=lambda entry: (entry[1], entry[2]))[3]


# -- one turn -------------------------------------------------------------------------------------


def stable_id(*parts):
    return "call_" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def function_name(name):
    cleaned = NOT_IN_NAME.sub("_", str(name or "")).strip("_")[:64]
    return cleaned or UNNAMED_TOOL


def arguments_text(value):
    """Arguments as the format wants them: a string holding JSON."""
    if value is None:
        return "{}"
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return json.dumps(value, ensure_ascii=False)
        return value
    return json.dumps(value, ensure_ascii=False)


def tool_call(call, made_id):
    """A recorded call in any of its shapes (OpenAI's, or a flat {id, name, arguments} part) in the
    format's; `made_id` when it was recorded with none."""
    function = call.get("function") if isinstance(call.get("function"), dict) else call
    return {
        "id": str(call.get("id") or made_id),
        "type": "function",
        "function": {
            "name": function_name(function.get("name")),
            "arguments": arguments_text(function.get("arguments")),
        },
    }


def content_text(value):
    return value if isinstance(value, str) else turn_text(value)


def answer_text(value):
    """A tool's answer as text: compact JSON, as tools answer a model."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def assistant_message(turn):
    """An assistant turn: its text and the tool calls its metadata or its tool call parts record."""
    content, calls = turn.content, []
    recorded = (turn.metadata or {}).get("tool_calls")
    if isinstance(recorded, list):
        calls = [call for call in recorded if isinstance(call, dict)]
    kind = content.get("type") if isinstance(content, dict) else None
    if kind == "tool_call":
        calls, content = [*calls, content], ""
    elif kind == "parts" and isinstance(content.get("parts"), list):
        parts = [part for part in content["parts"] if isinstance(part, dict)]
        calls += [part for part in parts if part.get("type") == "tool_call"]
        rest = [part for part in parts if part.get("type") != "tool_call"]
        content = "\n".join(
            part["text"]
            if part.get("type") == "text" and isinstance(part.get("text"), str)
            else turn_text(part)
            for part in rest
        )
    made = [stable_id(turn.run_key or "", turn.event_id, index) for index in range(len(calls))]
    calls = [tool_call(call, made_id) for call, made_id in zip(calls, made, strict=True)]
    # An answer names its call by id, so two calls of one message never share one.
    for call, made_id in zip(calls, made, strict=True):
        if any(other["id"] == call["id"] for other in calls if other is not call):
            call["id"] = made_id
    return Message(ChatRole.ASSISTANT, content_text(content), turn.run_id, tool_calls=calls)


@dataclass
class ToolResult:
    """A tool turn: what it answered, and what its own record says of the call it answers."""

    message: Message
    call_id: str | None
    name: str | None
    arguments: object
    made_id: str


def tool_result(turn, tools):
    content = turn.content
    extra = turn.metadata or {}
    call_id = extra.get("tool_call_id") if isinstance(extra.get("tool_call_id"), str) else None
    name = extra.get("name")
    if isinstance(content, dict) and content.get("type") == "tool_result":
        call_id = call_id or (content.get("id") if isinstance(content.get("id"), str) else None)
        name = name or content.get("tool") or content.get("name")
        answer = next((content[key] for key in ("result", "data", "output") if key in content), content)
    else:
        answer = content
    task_name, arguments = tools.get((turn.run_id, turn.step_id), (None, None))
    message = Message(ChatRole.TOOL, answer_text(answer), turn.run_id)
    made_id = stable_id(turn.run_key or "", turn.step_id or turn.event_id)
    return ToolResult(message, call_id, name or task_name, arguments, made_id)


# -- pairing --------------------------------------------------------------------------------------


class Pairing:
    """Messages in order, each tool message answering a call of the assistant message before it."""

    def __init__(self):
        self.messages = []
        self.pending = []  # (assistant message, call) not answered yet

    def add(self, message):
        self.close()
        if said_nothing(message):
            return
        self.messages.append(message)
        self.pending = [(message, call) for call in message.tool_calls]

    def answer(self, result):
        call = self.match(result.call_id)
        if call is None:
            call = tool_call(
                {"id": result.call_id, "name": result.name, "arguments": result.arguments}, result.made_id
            )
            self.open_call(call, result.message.run)
        result.message.tool_call_id = call["id"]
        self.messages.append(result.message)

    def match(self, call_id):
        """The pending call this result answers: the one of its id, or the first when it has none."""
        for index, (_, call) in enumerate(self.pending):
            if call_id is None or call["id"] == call_id:
                return self.pending.pop(index)[1]
        return None

    def open_call(self, call, run):
        """A call for a result recorded without one: added to the assistant message made for the
        results just before, so results of one step share it, else in a new one."""
        made = next((m for m in reversed(self.messages) if m.role != ChatRole.TOOL), None)
        if made is None or not made.made or any(other["id"] == call["id"] for other in made.tool_calls):
            self.close()
            made = Message(ChatRole.ASSISTANT, "", run, made=True)
            self.messages.append(made)
        made.tool_calls.append(call)

    def close(self):
        """Leave out the calls nothing answered, and an assistant message left with nothing to say."""
        unanswered = {id(call) for _, call in self.pending}
        for message in {id(message): message for message, _ in self.pending}.values():
            message.tool_calls = [call for call in message.tool_calls if id(call) not in unanswered]
            if said_nothing(message):
                self.messages = [kept for kept in self.messages if kept is not message]
        self.pending = []


def said_nothing(message):
    """An assistant message with no text and no calls: the format has no use for it."""
    return message.role == ChatRole.ASSISTANT and not message.tool_calls and not message.content.strip()


def paired(turns, tools):
    pairing = Pairing()
    for turn in turns:
        if turn.role == ChatRole.TOOL:
            pairing.answer(tool_result(turn, tools))
        elif turn.role == ChatRole.ASSISTANT:
            pairing.add(assistant_message(turn))
        else:
            pairing.add(Message(turn.role, turn_text(turn.content), turn.run_id))
    pairing.close()
    return pairing.messages


# -- the example ----------------------------------------------------------------------------------


def reviewed_turns(review, found):
    """The conversation's turns up to the reviewed reply, and whether that reply is among them.

    `found` is the Records of the review's chunk."""
    run = review.run
    if run.session_id:
        conversation = found.turns_by_session.get(run.session_id, [])
    else:
        conversation = found.turns_by_run.get(run.pk, [])
    own = [index for index, turn in enumerate(conversation) if turn.run_id == run.pk]
    if not own:
        return [], False
    replies = [index for index in own if conversation[index].role == ChatRole.ASSISTANT]
    targeted = [index for index in replies if conversation[index].pk == review.target_message_id]
    if targeted or replies:
        return conversation[: (targeted or replies)[-1] + 1], True
    return conversation[: own[-1] + 1], False


def recorded_tool_use(run, turns, found):
    """When the run's turns before its reply hold no tool use, the tool calls and results that the
    last model call before the reply was sent (after the user's last message), as turns; else none.

    Clients that record only what the user saw as chat turns still send the tool exchange to the
    model, with its ids: that request is the record of it."""
    reply = turns[-1]
    own = [turn for turn in turns[:-1] if turn.run_id == run.pk]
    if any(turn.role == ChatRole.TOOL for turn in own):
        return []
    sent = [entry for entry in found.requests.get(run.pk, ()) if entry[0] <= reply.created_at]
    for _, call_id, messages in sorted(sent, key=lambda entry: entry[:2], reverse=True):
        last_user = max((i for i, m in enumerate(messages) if m["role"] == ChatRole.USER), default=-1)
        tail = messages[last_user + 1 :]
        if any(m["role"] == ChatRole.TOOL for m in tail):
            return [request_turn(run, call_id, index, m) for index, m in enumerate(tail)]
    return []


def request_turn(run, call_id, index, message):
    turn = ChatMessage(
        run_id=run.pk, role=message["role"], content=message["content"], event_id=f"{call_id}:{index}"
    )
    turn.run_key = run.run_id
    return turn


def run_as_messages(run):
    messages = []
    if run.input is not None:
        messages.append(Message(ChatRole.USER, turn_text(run.input), run.pk))
    if run.output is not None:
        messages.append(Message(ChatRole.ASSISTANT, turn_text(run.output), run.pk))
    return messages


def exchange(review, found):
    """(the messages before the reviewed reply, the agent's prompt first; that reply, or None when the
    run has none with text)."""
    run = review.run
    turns, has_reply = reviewed_turns(review, found)
    if has_reply:
        turns = [*turns[:-1], *recorded_tool_use(run, turns, found), turns[-1]]
    if turns:
        messages = paired(turns[:-1] if has_reply else turns, found.tools)
        reply = assistant_message(turns[-1]) if has_reply else None
    else:
        messages = run_as_messages(run)
        last = messages[-1] if messages else None
        reply = messages.pop() if last and last.role == ChatRole.ASSISTANT else None
    if reply is not None:
        # The reply ends what is shown: calls nothing answers after it are left out.
        reply.tool_calls = []
        reply = None if said_nothing(reply) else reply
    prompt = agent_prompt(run, found)
    if prompt and not any(m.role == ChatRole.SYSTEM and m.content == prompt for m in messages):
        messages.insert(0, Message(ChatRole.SYSTEM, prompt, None))
    return messages, reply


def example(review, found):
    """The training example of one review, or None when it has no reply to teach."""
    messages, reply = exchange(review, found)
    corrected = review.corrected_output
    if corrected.strip():
        reply = Message(ChatRole.ASSISTANT, corrected, review.run.pk)
    if reply is None:
        return None
    return {
        "messages": [message.as_dict(review.run.pk) for message in [*messages, reply]],
        "metadata": {
            "review_id": review.pk,
            "run_id": review.run.run_id,
            "rating": review.rating or None,
            "was_corrected": bool(corrected),
        },
    }
