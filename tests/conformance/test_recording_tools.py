"""The fake provider and the capture receiver the recordings are made with: deterministic answers in
both wire formats, and requests kept byte for byte."""

import gzip
import json
import urllib.error
import urllib.request

import pytest

from tests.conformance import fake_provider
from tests.conformance.clients import scenario
from tests.conformance.decode import decoded, rewrite_strings
from tests.conformance.receiver import Receiver
from tests.otel import protobuf_body, recording_tracer


@pytest.fixture
def provider():
    server = fake_provider.serve()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def post(url, body, headers=None):
    request = urllib.request.Request(  # noqa: S310 - a local test server
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def sse_data(raw):
    return [line[6:] for line in raw.decode().splitlines() if line.startswith("data: ")]


def test_a_request_offering_a_tool_gets_a_call_of_it_then_an_answer_with_its_result(provider):
    messages = [{"role": "user", "content": scenario.QUESTION}]
    _, _, raw = post(
        f"{provider}/v1/chat/completions",
        {"model": "m", "messages": messages, "tools": [scenario.OPENAI_TOOL]},
    )
    first = json.loads(raw)
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert (first["id"], first["choices"][0]["finish_reason"]) == ("chatcmpl-conf-001", "tool_calls")
    assert json.loads(call["function"]["arguments"]) == {"order_id": "A-1"}
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 10
    assert first["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4

    messages += [
        first["choices"][0]["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": "shipped"},
    ]
    _, _, raw = post(
        f"{provider}/v1/chat/completions",
        {"model": "m", "messages": messages, "tools": [scenario.OPENAI_TOOL]},
    )
    second = json.loads(raw)
    assert second["choices"][0]["message"]["content"].startswith("Order A-1 has shipped")
    assert second["usage"]["prompt_tokens"] == 90


def test_a_streamed_answer_ends_with_its_usage_when_asked(provider):
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    _, headers, raw = post(
        f"{provider}/v1/chat/completions", {**body, "stream_options": {"include_usage": True}}
    )
    data = sse_data(raw)
    chunks = [json.loads(item) for item in data[:-1]]
    assert headers["Content-Type"] == "text/event-stream"
    assert data[-1] == "[DONE]"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]).startswith(
        "Here is"
    )
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 8


def test_the_failing_model_gets_a_429_with_the_providers_error_body(provider):
    status, headers, raw = post(f"{provider}/v1/chat/completions", {"model": "fail-model", "messages": []})
    assert (status, headers["x-should-retry"]) == (429, "false")
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    status, _, raw = post(f"{provider}/v1/messages", {"model": "fail-model", "messages": []})
    assert (status, json.loads(raw)["error"]["type"]) == (429, "rate_limit_error")


def test_anthropic_messages_plain_and_streamed(provider):
    body = {"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    _, _, raw = post(f"{provider}/v1/messages", body)
    plain = json.loads(raw)
    assert (plain["stop_reason"], plain["usage"]["input_tokens"]) == ("end_turn", 40)
    _, _, raw = post(f"{provider}/v1/messages", {**body, "stream": True})
    kinds = [json.loads(item)["type"] for item in sse_data(raw)]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert "content_block_delta" in kinds


def test_the_receiver_keeps_each_post_as_sent():
    receiver = Receiver()
    try:
        body = gzip.compress(b'{"resourceSpans": []}')
        request = urllib.request.Request(  # noqa: S310 - a local test server
            receiver.url + "/v1/traces",
            data=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        with urllib.request.urlopen(request) as response:  # noqa: S310
            assert response.status == 200
        receiver.settled(quiet=0.1)
    finally:
        receiver.close()
    [capture] = receiver.captures
    assert (capture.path, capture.content_encoding, capture.body) == ("/v1/traces", "gzip", body)


def test_strings_in_a_protobuf_body_are_rewritten_and_the_body_still_decodes():
    tracer, exporter = recording_tracer()
    with tracer.start_as_current_span("step", attributes={"code.filepath": "/home/me/agent.py"}):
        pass
    body = protobuf_body(exporter.get_finished_spans())
    where = ("/v1/traces", "application/x-protobuf", "")
    changed = rewrite_strings(*where, body, lambda text: text.replace("/home/me", "/srv/agent"))
    span = decoded(*where, changed)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["attributes"][0]["value"]["stringValue"] == "/srv/agent/agent.py"
