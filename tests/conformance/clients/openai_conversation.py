"""The scenario's exchange made with the OpenAI Python SDK; instrumentations watch it from outside."""

import contextlib
import json

import openai

from tests.conformance.clients import scenario


def converse(client, tool_span=None):
    """Steps 1-4 of the scenario with `client` (an openai.OpenAI). Returns the conversation's messages.

    `tool_span(name, call_id, arguments)` is a context manager around the tool's run, for clients
    that trace tools by hand (None: the tool runs untraced).
    """
    messages = [
        {"role": "system", "content": scenario.SYSTEM},
        {"role": "user", "content": scenario.QUESTION},
    ]
    first = client.chat.completions.create(
        model=scenario.MODEL, messages=messages, tools=[scenario.OPENAI_TOOL]
    )
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    arguments = json.loads(call.function.arguments)
    with tool_span(call.function.name, call.id, arguments) if tool_span else contextlib.nullcontext():
        result = scenario.get_order_status(**arguments)
    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    second = client.chat.completions.create(
        model=scenario.MODEL, messages=messages, tools=[scenario.OPENAI_TOOL]
    )
    messages.append({"role": "assistant", "content": second.choices[0].message.content})

    messages.append({"role": "user", "content": scenario.FOLLOW_UP})
    stream = client.chat.completions.create(
        model=scenario.MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    messages.append({"role": "assistant", "content": streamed})

    # the failed call is part of the scenario: it must arrive as a failed model call
    with contextlib.suppress(openai.RateLimitError):
        client.chat.completions.create(model=scenario.FAIL_MODEL, messages=messages)
    return messages
