"""Backoffice's own client (traces/client.py): the agent reports its run, turns, steps and model calls.

The model calls go to the fake provider with urllib (OpenAI wire format); the agent measures and
reports what the client's vocabulary has room for: tokens, cached tokens, latency, time to first
token of the streamed reply, finish reason, and the failed call with its error.
"""

import json
import time
import urllib.error
import urllib.request

from tests.conformance.clients import scenario
from traces import client as bo


def post(body):
    request = urllib.request.Request(  # noqa: S310 - the local fake provider
        scenario.provider_url() + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-conformance"},
    )
    return urllib.request.urlopen(request)  # noqa: S310 - the local fake provider


def chat(messages, **options):
    """A plain call, reported as a model call inside an llm step. Returns the assistant message."""
    body = {"model": scenario.MODEL, "messages": messages, **options}
    with bo.span(f"chat {scenario.MODEL}", type="llm", input=messages) as step:
        started = time.monotonic()
        with post(body) as response:
            answer = json.load(response)
        latency = round((time.monotonic() - started) * 1000)
        choice, usage = answer["choices"][0], answer["usage"]
        bo.model_call(
            scenario.MODEL,
            call_id=answer["id"],
            provider="openai",
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            cached_tokens=usage["prompt_tokens_details"]["cached_tokens"],
            latency_ms=latency,
            finish_reason=choice["finish_reason"],
            request=body,
            response=answer,
        )
        step.output = choice["message"]
    return choice["message"]


def chat_streamed(messages):
    body = {
        "model": scenario.MODEL,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with bo.span(f"chat {scenario.MODEL}", type="llm", input=messages) as step:
        started, first, text, usage, finish, call_id = time.monotonic(), None, "", None, None, None
        with post(body) as response:
            for line in response:
                if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                call_id = chunk["id"]
                usage = chunk.get("usage") or usage
                for choice in chunk["choices"]:
                    if choice["delta"].get("content") and first is None:
                        first = time.monotonic()
                    text += choice["delta"].get("content") or ""
                    finish = choice.get("finish_reason") or finish
        ended = time.monotonic()
        bo.model_call(
            scenario.MODEL,
            call_id=call_id,
            provider="openai",
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            cached_tokens=usage["prompt_tokens_details"]["cached_tokens"],
            latency_ms=round((ended - started) * 1000),
            ttft_ms=round((first - started) * 1000),
            finish_reason=finish,
            request=body,
            response={"content": text},
        )
        step.output = text
    return text


def failing_call(messages):
    body = {"model": scenario.FAIL_MODEL, "messages": messages}
    with bo.span(f"chat {scenario.FAIL_MODEL}", type="llm", input=messages) as step:
        started = time.monotonic()
        try:
            post(body).close()
        except urllib.error.HTTPError as error:
            detail = json.load(error)["error"]
            failure = {"type": detail["type"], "message": detail["message"], "status": error.code}
            bo.model_call(
                scenario.FAIL_MODEL,
                provider="openai",
                latency_ms=round((time.monotonic() - started) * 1000),
                status="error",
                error=failure,
                request=body,
            )
            step.error = failure  # caught: the run goes on


def main():
    bo.configure(scenario.receiver_url(), api_key="bo_conformance", agent_id=scenario.AGENT_NAME)
    with bo.run(
        scenario.AGENT_NAME,
        session_id=scenario.SESSION_ID,
        user_id=scenario.USER_ID,
        input=scenario.QUESTION,
        tags=scenario.TAGS,
        metadata=scenario.METADATA,
    ) as run:
        messages = [
            {"role": "system", "content": scenario.SYSTEM},
            {"role": "user", "content": scenario.QUESTION},
        ]
        bo.message("system", scenario.SYSTEM)
        bo.message("user", scenario.QUESTION)
        with bo.span(scenario.AGENT_NAME, type="agent", input=scenario.QUESTION) as agent:
            asked = chat(messages, tools=[scenario.OPENAI_TOOL])
            call = asked["tool_calls"][0]
            arguments = json.loads(call["function"]["arguments"])
            messages.append({k: v for k, v in asked.items() if v is not None})
            with bo.span(scenario.TOOL_NAME, type="tool", input=arguments) as tool:
                tool.output = scenario.get_order_status(**arguments)
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": tool.output})
            answer = chat(messages, tools=[scenario.OPENAI_TOOL])["content"]
            bo.message("assistant", answer)
            messages.append({"role": "assistant", "content": answer})
            bo.message("user", scenario.FOLLOW_UP)
            messages.append({"role": "user", "content": scenario.FOLLOW_UP})
            streamed = chat_streamed(messages)
            bo.message("assistant", streamed)
            failing_call(messages)
            agent.output = streamed
        run.output = streamed
    bo.flush()


main()
