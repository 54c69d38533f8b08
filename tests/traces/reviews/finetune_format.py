"""The OpenAI chat fine-tuning format, as its documentation states it, checked line by line.

Rules (platform.openai.com/docs/guides/fine-tuning, "Preparing your dataset", and the format checks
of the OpenAI cookbook's "Data preparation and analysis for chat model fine-tuning"):

- a line is one JSON object with a non-empty `messages` list; beside it only `tools`,
  `parallel_tool_calls` and `metadata` are known;
- a message has a `role` of system, user, assistant or tool and only the keys its role allows;
- system, user and tool messages carry `content` as a string; an assistant message carries a string
  `content`, or `tool_calls` (then its content may be empty or null);
- an assistant `tool_calls` entry is `{"id", "type": "function", "function": {"name", "arguments"}}`
  with a non-empty id (unique in its message, so an answer names one call), a name of letters,
  digits, `_` and `-` (64 at most) and arguments as a string holding JSON;
- a tool message answers, by `tool_call_id`, a call of the assistant message before it that nothing
  answered yet; every call is answered before the next system, user or assistant message;
- `weight`, on assistant messages only, is 0 or 1;
- there is at least one assistant message, and the last message is the assistant's, with content.
"""

import json
import re

LINE_KEYS = {"messages", "tools", "parallel_tool_calls", "metadata"}
ROLES = {"system", "user", "assistant", "tool"}
MESSAGE_KEYS = {
    "system": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "weight"},
    "tool": {"role", "content", "tool_call_id"},
}
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def problems(line):
    """What is wrong with one line of a JSONL file; an empty list when it is a valid example."""
    try:
        example = json.loads(line)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(example, dict):
        return ["not an object"]
    found = [f"unknown key {key!r}" for key in sorted(set(example) - LINE_KEYS)]
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*found, "messages: missing, not a list or empty"]
    if "metadata" in example and not isinstance(example["metadata"], dict):
        found.append("metadata: not an object")
    found += pairing(messages)
    for index, message in enumerate(messages):
        found += [f"messages[{index}]: {problem}" for problem in message_problems(message)]
    roles = [message.get("role") for message in messages if isinstance(message, dict)]
    if "assistant" not in roles:
        found.append("no assistant message")
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant":
        found.append("the last message is not the assistant's")
    elif not isinstance(last.get("content"), str) or not last["content"].strip():
        found.append("the last message has no content")
    return found


def message_problems(message):
    if not isinstance(message, dict):
        return ["not an object"]
    role = message.get("role")
    if role not in ROLES:
        return [f"role {role!r} is not one of {sorted(ROLES)}"]
    found = [f"unknown key {key!r} for role {role}" for key in sorted(set(message) - MESSAGE_KEYS[role])]
    content = message.get("content")
    if role == "assistant" and message.get("tool_calls"):
        if content is not None and not isinstance(content, str):
            found.append("content: not a string or null")
        found += [f"tool_calls: {problem}" for problem in calls_problems(message["tool_calls"])]
    elif not isinstance(content, str):
        found.append("content: missing or not a string")
    elif role == "assistant" and not content.strip():
        found.append("an assistant message with no content and no tool calls")
    if "tool_calls" in message and role == "assistant" and not message["tool_calls"]:
        found.append("tool_calls: empty")
    if "name" in message and not isinstance(message["name"], str):
        found.append("name: not a string")
    if "weight" in message and (type(message["weight"]) is not int or message["weight"] not in (0, 1)):
        found.append("weight: not 0 or 1")
    if role == "tool" and (not isinstance(message.get("tool_call_id"), str) or not message["tool_call_id"]):
        found.append("tool_call_id: missing or not a string")
    return found


def calls_problems(calls):
    if not isinstance(calls, list):
        return ["not a list"]
    found = []
    for index, call in enumerate(calls):
        if not isinstance(call, dict) or set(call) != {"id", "type", "function"}:
            found.append(f"[{index}]: not {{id, type, function}}")
            continue
        if not isinstance(call["id"], str) or not call["id"]:
            found.append(f"[{index}].id: missing or not a string")
        if call["type"] != "function":
            found.append(f"[{index}].type: not 'function'")
        function = call["function"]
        if not isinstance(function, dict) or set(function) != {"name", "arguments"}:
            found.append(f"[{index}].function: not {{name, arguments}}")
            continue
        if not isinstance(function["name"], str) or not FUNCTION_NAME.match(function["name"]):
            found.append(f"[{index}].function.name: {function['name']!r} is not a function name")
        try:
            if not isinstance(function["arguments"], str):
                raise ValueError("not a string")
            json.loads(function["arguments"])
        except ValueError:
            found.append(f"[{index}].function.arguments: not a string holding JSON")
    return found


def pairing(messages):
    """Each tool message answers a call still open; every call is answered before the next turn."""
    found, open_calls = [], []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        if message.get("role") == "tool":
            answered = message.get("tool_call_id")
            if answered in open_calls:
                open_calls.remove(answered)
            else:
                found.append(f"messages[{index}]: answers {answered!r}, which no open tool call has")
            continue
        if open_calls:
            found.append(f"messages[{index}]: comes before the answers to {open_calls}")
        open_calls = []
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        for call in calls if isinstance(calls, list) else ():
            call_id = call.get("id") if isinstance(call, dict) else None
            if call_id in open_calls:
                found.append(f"messages[{index}]: tool call id {call_id!r} used twice")
            open_calls.append(call_id)
    if open_calls:
        found.append(f"the example ends before the answers to {open_calls}")
    return found


def assert_valid(lines):
    """Every line valid; the failure lists the first few lines that are not, with their problems."""
    failing = {number: found for number, line in enumerate(lines, 1) if (found := problems(line))}
    assert not failing, "\n".join(f"line {number}: {found}" for number, found in list(failing.items())[:5])
