"""Generated conversations, in every shape agents record tool use in, always export as valid examples."""

import json
from datetime import UTC, datetime

from django.test import SimpleTestCase
from hypothesis import event, given, settings
from hypothesis import strategies as st

from traces.ingest.conventions import as_messages
from traces.models import ChatMessage, Review, Run
from traces.reviews.examples import Records, example
from traces.reviews.tickets import turn_text

from .finetune_format import problems

REVIEWED, EARLIER = 1, 2
STARTED = datetime(2026, 1, 1, tzinfo=UTC)
IDS = st.sampled_from(["call_1", "call_2", "", None, 7])
STEPS = st.sampled_from(["lookup", "search", "unknown", ""])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
TEXT = st.text(max_size=20)
CONTENT = st.one_of(
    TEXT,
    st.none(),
    st.builds(lambda text: {"type": "text", "text": text}, TEXT),
    st.builds(lambda text: {"type": "buttons", "text": text, "buttons": ["Yes", "No"]}, TEXT),
)
# A call as OpenAI records it, as an OTLP part, or half-written.
ARGUMENTS = st.one_of(JSON, st.text(max_size=10))
OPENAI_CALL = st.builds(
    lambda call_id, name, arguments: {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    },
    IDS,
    TEXT,
    ARGUMENTS,
)
PART_CALL = st.builds(
    lambda call_id, name, arguments: {
        "type": "tool_call",
        "id": call_id,
        "name": name,
        "arguments": arguments,
    },
    IDS,
    TEXT,
    ARGUMENTS,
)


@st.composite
def assistant_turn(draw):
    shape = draw(st.sampled_from(["text", "metadata", "part", "parts"]))
    if shape == "metadata":
        return draw(CONTENT), {"tool_calls": draw(st.lists(OPENAI_CALL, max_size=3))}, ""
    if shape == "part":
        return draw(PART_CALL), {}, ""
    if shape == "parts":
        parts = draw(st.lists(st.one_of(PART_CALL, st.builds(lambda t: {"type": "text", "text": t}, TEXT))))
        return {"type": "parts", "parts": parts}, {}, ""
    return draw(CONTENT), {}, ""


@st.composite
def tool_turn(draw):
    shape = draw(st.sampled_from(["metadata", "result", "demo", "bare"]))
    step = draw(STEPS)
    if shape == "metadata":
        return draw(CONTENT), {"tool_call_id": draw(IDS)}, step
    if shape == "result":
        return {"type": "tool_result", "id": draw(IDS), "result": draw(JSON)}, {}, step
    if shape == "demo":
        return {"type": "tool_result", "tool": draw(TEXT), "data": draw(JSON)}, {}, step
    return draw(JSON), {}, step


@st.composite
def turn(draw):
    role = draw(st.sampled_from(["system", "user", "assistant", "tool"]))
    if role == "assistant":
        content, metadata, step = draw(assistant_turn())
    elif role == "tool":
        content, metadata, step = draw(tool_turn())
    else:
        content, metadata, step = draw(CONTENT), {}, ""
    return role, content, metadata, step


@st.composite
def conversation(draw):
    """Turns of an earlier run then of the reviewed one, the review's target and correction."""
    drawn = [(EARLIER, *t) for t in draw(st.lists(turn(), max_size=6))]
    drawn += [(REVIEWED, *t) for t in draw(st.lists(turn(), min_size=1, max_size=10))]
    turns = []
    for index, (run, role, content, metadata, step) in enumerate(drawn):
        message = ChatMessage(
            pk=index + 1,
            session_id=1,
            run_id=run,
            role=role,
            content=content,
            metadata=metadata,
            step_id=step,
            event_id=f"evt_{index}",
            sequence=index,
            created_at=STARTED,
        )
        message.run_key = f"run-{run}"  # as records() annotates it
        turns.append(message)
    replies = [m.pk for m in turns if m.run_id == REVIEWED and m.role == "assistant"]
    target = draw(st.sampled_from([None, *replies]))
    corrected = draw(st.sampled_from(["", "The right answer."]))
    tools = {(run, "lookup"): ("lookup_order", draw(JSON)) for run in (REVIEWED, EARLIER)}
    tools[REVIEWED, "search"] = ("search kb", draw(JSON))
    prompts = draw(st.sampled_from([[], [(STARTED, 3, STARTED, "You are Nova.")]]))
    requests = {REVIEWED: [(STARTED, "chatcmpl-1", as_messages(draw(request()), "user"))]}
    return turns, target, corrected, tools, prompts, requests


@st.composite
def request(draw):
    """What a model call was sent: the user's message, then tool calls and results in OpenAI's shape."""
    sent = [{"role": "user", "content": draw(TEXT)}]
    for _ in range(draw(st.integers(0, 2))):
        calls = draw(st.lists(OPENAI_CALL, max_size=2))
        sent.append({"role": "assistant", "content": draw(st.none() | TEXT), "tool_calls": calls})
        for _ in range(draw(st.integers(0, 3))):
            sent.append({"role": "tool", "tool_call_id": draw(IDS), "content": draw(st.text(max_size=8))})
    return {"model": "gpt-4o", "messages": sent}


def users_up_to_the_reply(turns, target):
    """The user turns of the conversation up to the reviewed reply (the target, else the last reply)."""
    replies = [i for i, m in enumerate(turns) if m.run_id == REVIEWED and m.role == "assistant"]
    targeted = [i for i in replies if turns[i].pk == target]
    cut = (targeted or replies or [len(turns)])[-1]
    return [turn_text(m.content) for m in turns[:cut] if m.role == "user"]


def review_of(target, corrected):
    run = Run(pk=REVIEWED, run_id="run-1", session_id=1, started_at=STARTED)
    return Review(pk=1, run=run, rating="bad", target_message_id=target, corrected_output=corrected)


class GeneratedConversationTest(SimpleTestCase):
    @settings(max_examples=200, deadline=None)
    @given(conversation())
    def test_every_example_is_valid_and_keeps_the_users_turns(self, drawn):
        turns, target, corrected, tools, prompts, requests = drawn
        found = Records(
            turns_by_session={1: turns}, tools=tools, prompts={("session", 1): prompts}, requests=requests
        )
        made = example(review_of(target, corrected), found)
        if made is None:
            self.assertFalse(corrected)
            return
        self.assertEqual(problems(json.dumps(made)), [])
        roles = {m["role"] for m in made["messages"]} | {
            "call" for m in made["messages"] if m.get("tool_calls")
        }
        event(f"holds {sorted(roles)}")
        if corrected:
            self.assertEqual(made["messages"][-1], {"role": "assistant", "content": corrected})
        said = [m["content"] for m in made["messages"] if m["role"] == "user"]
        self.assertEqual(said, users_up_to_the_reply(turns, target))
