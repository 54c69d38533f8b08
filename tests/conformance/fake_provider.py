"""A local, deterministic LLM provider for recording what real instrumentation packages send.

Speaks enough of two wire protocols for the client libraries to be happy:

- OpenAI-compatible `POST /v1/chat/completions`, plain and streamed (SSE, with the usage chunk when
  `stream_options.include_usage` asks for it);
- Anthropic `POST /v1/messages`, plain and streamed.

Answers depend only on the request and on how many answers came before, so a recording made
twice has the same ids, texts and token counts:

- a request that offers tools and carries no tool result yet gets a call of its first tool;
- the model `fail-model` gets a 429 with the provider's error body (and `x-should-retry: false`,
  so the SDKs do not wait through their retries);
- anything else gets a short text answer.

Standard library only; run it alone with `python -m tests.conformance.fake_provider [port]`.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAIL_MODEL = "fail-model"
CREATED = 1_767_225_600  # a fixed `created` stamp: answers must not depend on the clock
# Streamed answers wait this long before the first chunk, so a time to first token is measurable.
FIRST_CHUNK_DELAY = 0.05
CHUNK_DELAY = 0.01

# Token counts per kind of answer: distinct, so an expectation can tell which call a row is.
USAGE = {
    "tool_call": {"input": 60, "output": 15, "cached": 10, "reasoning": 4, "cache_creation": 5},
    "after_tool": {"input": 90, "output": 20, "cached": 20, "reasoning": 6, "cache_creation": 0},
    "text": {"input": 40, "output": 12, "cached": 0, "reasoning": 0, "cache_creation": 0},
    "stream": {"input": 30, "output": 8, "cached": 0, "reasoning": 0, "cache_creation": 0},
}
TOOL_ARGUMENT = "A-1"


def answer_text(kind, question):
    if kind == "after_tool":
        return f"Order {TOOL_ARGUMENT} has shipped and arrives tomorrow."
    if kind == "stream":
        return "Here is a streamed answer in five chunks."
    return f"You asked: {question[:60]}" if question else "Hello from the fake provider."


def tool_arguments(parameters):
    """Arguments for a tool call: every declared property gets the same order id."""
    properties = (parameters or {}).get("properties") or {}
    return {name: TOOL_ARGUMENT for name in properties} or {"order_id": TOOL_ARGUMENT}


class Counter:
    def __init__(self):
        self._lock = threading.Lock()
        self._n = 0

    def next(self):
        with self._lock:
            self._n += 1
            return self._n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counter = None  # set per server

    def log_message(self, *args):  # keep recordings' output quiet
        pass

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def send_json(self, status, payload, headers=()):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        time.sleep(FIRST_CHUNK_DELAY)

    def sse(self, data, event=None):
        prefix = f"event: {event}\n" if event else ""
        self.wfile.write(f"{prefix}data: {data}\n\n".encode())
        self.wfile.flush()
        time.sleep(CHUNK_DELAY)

    def do_GET(self):
        # Some SDKs look around at start-up (model lists, health); nothing here needs it.
        self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):
        path = self.path.split("?")[0].rstrip("/")
        request = self.read_json()
        if path.endswith("/chat/completions"):
            self.openai(request)
        elif path.endswith("/messages"):
            self.anthropic(request)
        else:
            self.send_json(404, {"error": {"message": f"no route {path}", "type": "invalid_request_error"}})

    # OpenAI ------------------------------------------------------------------------------------

    def openai(self, request):
        model = request.get("model", "")
        if model == FAIL_MODEL:
            error = {
                "message": "Rate limit reached for fail-model: deterministic failure.",
                "type": "rate_limit_error",
                "param": None,
                "code": "rate_limit_exceeded",
            }
            self.send_json(429, {"error": error}, [("x-should-retry", "false")])
            return
        messages = request.get("messages") or []
        has_tool_result = any(message.get("role") == "tool" for message in messages)
        tools = request.get("tools") or []
        streamed = bool(request.get("stream"))
        if tools and not has_tool_result:
            kind = "tool_call"
        elif messages and messages[-1].get("role") == "tool":
            kind = "after_tool"
        else:
            kind = "stream" if streamed else "text"
        n = self.counter.next()
        completion_id = f"chatcmpl-conf-{n:03d}"
        usage = openai_usage(USAGE[kind])
        message = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        if kind == "tool_call":
            function = tools[0].get("function") or {}
            call = {
                "id": f"call_conf_{n:03d}",
                "type": "function",
                "function": {
                    "name": function.get("name", "tool"),
                    "arguments": json.dumps(tool_arguments(function.get("parameters"))),
                },
            }
            message["tool_calls"] = [call]
            finish = "tool_calls"
        else:
            message["content"] = answer_text(kind, last_user_text(messages))
        if not streamed:
            self.send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": CREATED,
                    "model": model,
                    "system_fingerprint": "fp_conformance",
                    "service_tier": "default",
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                    "usage": usage,
                },
            )
            return
        self.openai_stream(request, completion_id, model, message, finish, usage)

    def openai_stream(self, request, completion_id, model, message, finish, usage):
        def chunk(delta, finish_reason=None, choices=True, with_usage=False):
            body = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": model,
                "system_fingerprint": "fp_conformance",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
                if choices
                else [],
            }
            if with_usage:
                body["usage"] = usage
            elif (request.get("stream_options") or {}).get("include_usage"):
                body["usage"] = None
            return json.dumps(body)

        self.start_stream()
        self.sse(chunk({"role": "assistant", "content": ""}))
        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            self.sse(chunk({"tool_calls": [{"index": 0, **call}]}))
        else:
            for piece in split_text(message["content"]):
                self.sse(chunk({"content": piece}))
        self.sse(chunk({}, finish_reason=finish))
        if (request.get("stream_options") or {}).get("include_usage"):
            self.sse(chunk(None, choices=False, with_usage=True))
        self.sse("[DONE]")

    # Anthropic ---------------------------------------------------------------------------------

    def anthropic(self, request):
        model = request.get("model", "")
        if model == FAIL_MODEL:
            error = {
                "type": "rate_limit_error",
                "message": "Rate limit reached for fail-model: deterministic failure.",
            }
            self.send_json(429, {"type": "error", "error": error}, [("x-should-retry", "false")])
            return
        messages = request.get("messages") or []
        has_tool_result = any(is_tool_result(message) for message in messages)
        tools = request.get("tools") or []
        streamed = bool(request.get("stream"))
        if tools and not has_tool_result:
            kind = "tool_call"
        elif has_tool_result and is_tool_result(messages[-1]):
            kind = "after_tool"
        else:
            kind = "stream" if streamed else "text"
        n = self.counter.next()
        numbers = USAGE[kind]
        usage = {
            "input_tokens": numbers["input"],
            "output_tokens": numbers["output"],
            "cache_creation_input_tokens": numbers["cache_creation"],
            "cache_read_input_tokens": numbers["cached"],
        }
        if kind == "tool_call":
            tool = tools[0]
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_conf_{n:03d}",
                    "name": tool.get("name", "tool"),
                    "input": tool_arguments(tool.get("input_schema")),
                }
            ]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": answer_text(kind, last_user_text(messages))}]
            stop = "end_turn"
        message = {
            "id": f"msg_conf_{n:03d}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not streamed:
            self.send_json(200, message)
            return
        self.start_stream()
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        self.sse(json.dumps({"type": "message_start", "message": start}), "message_start")
        for index, block in enumerate(content):
            if block["type"] == "text":
                opening, deltas = (
                    {"type": "text", "text": ""},
                    [{"type": "text_delta", "text": piece} for piece in split_text(block["text"])],
                )
            else:
                opening = {**block, "input": {}}
                deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
            self.sse(
                json.dumps({"type": "content_block_start", "index": index, "content_block": opening}),
                "content_block_start",
            )
            for delta in deltas:
                self.sse(
                    json.dumps({"type": "content_block_delta", "index": index, "delta": delta}),
                    "content_block_delta",
                )
            self.sse(json.dumps({"type": "content_block_stop", "index": index}), "content_block_stop")
        self.sse(
            json.dumps(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                }
            ),
            "message_delta",
        )
        self.sse(json.dumps({"type": "message_stop"}), "message_stop")


def openai_usage(numbers):
    return {
        "prompt_tokens": numbers["input"],
        "completion_tokens": numbers["output"],
        "total_tokens": numbers["input"] + numbers["output"],
        "prompt_tokens_details": {"cached_tokens": numbers["cached"], "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": numbers["reasoning"],
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def is_tool_result(message):
    """An Anthropic user message that carries a tool's result."""
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def split_text(text):
    words = text.split(" ")
    return [(" " if i else "") + " ".join(words[i : i + 2]) for i in range(0, len(words), 2)]


def last_user_text(messages):
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def serve(port=0):
    """Start the provider on 127.0.0.1 in a daemon thread; returns the server (`.server_port`)."""
    handler = type("FakeProviderHandler", (Handler,), {"counter": Counter()})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    running = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"fake provider on http://127.0.0.1:{running.server_port}", flush=True)
    threading.Event().wait()
