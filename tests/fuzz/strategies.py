"""Hypothesis strategies for what agents send: event batches (DESIGN §4), OTLP trace and log requests and
business events (`track`), valid-shaped and malformed, with the edge values that break parsers and
pages: empty, huge, deep, unicode, NUL, HTML, NaN/Infinity, far timestamps, odd ids, duplicates and
events out of order.

A request is a `Request(method, path, body, headers, label)`; `body` is bytes, ready to post.
"""

import base64
import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import timedelta

from google.protobuf import json_format
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.events import BASE

INGEST = "/api/v1/ingest"
OTLP_PATHS = ("/v1/traces", "/api/public/otel/v1/traces")
OTLP_LOG_PATHS = ("/v1/logs", "/api/public/otel/v1/logs")

EVENT_TYPES = (
    "agent.upsert",
    "run.start",
    "run.complete",
    "run.failed",
    "run.paused",
    "run.resumed",
    "state.checkpoint",
    "step.start",
    "step.ok",
    "step.failed",
    "tool.call",
    "tool.ok",
    "tool.failed",
    "llm.call",
    "gate.waiting",
    "gate.approved",
    "gate.rejected",
    "message",
    "track",
    "log",
)


@dataclass
class Request:
    method: str
    path: str
    body: bytes
    headers: dict = field(default_factory=dict)
    label: str = ""

    def sketch(self, limit=300):
        """The body as a short readable line, for reports."""
        body, prefix = self.body, ""
        while body[:2] == b"\x1f\x8b":
            try:
                body, prefix = gzip.decompress(body), prefix + "gzip:"
            except (OSError, EOFError, zlib.error):
                return f"{prefix}corrupt gzip {body[:40]!r}"
        try:
            text = prefix + body.decode()
        except UnicodeDecodeError:
            text = f"{prefix}{body[:limit]!r}"
        if self.headers.get("Content-Encoding"):
            text = f"[Content-Encoding: {self.headers['Content-Encoding']}] {text}"
        return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


# Edge values ------------------------------------------------------------------------------------

NASTY_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: JSON can carry it, UTF-8 and databases cannot
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\u202eRTL Ωμέγα кириллица العربية 漢字 🙂 e\u0301",
    "\x01\x07\x1b[31m\x7f\u200b",
    "null",
    "NaN",
    "-1",
    "0",
    "9" * 40,
    "x" * 201,
    "long " * 4000,
    "../../etc/passwd",
    "'; DROP TABLE runs; --",
    "%s%n{0}{{x}}",
    "\n\r\t",
)
ODD_IDS = (
    "a/b",
    "a?b=c",
    "a#b",
    "100%",
    "%2F",
    "%00",
    "..",
    ".",
    "a b",
    " padded ",
    "ünïcødé-🙂",
    "a\x00b",
    "<b>id</b>",
    "x" * 200,
    "x" * 201,
    "",
    "\\",
    "a;b",
    "~",
)
# Ids the events of one batch share, so that later events find the runs, steps and sessions that
# earlier ones started (or arrive before them).
RUN_IDS = ("run-1", "run-2", "a/b", "run?x=1", "run#1", "100%run")
STEP_IDS = ("step-1", "step-2", "s/1", "s?1", "s#1", "s%1")
SESSION_IDS = ("session-1", "session/2", "s?3")
AGENT_IDS = ("agent-1", "agent/2")

texts = st.one_of(st.sampled_from(NASTY_STRINGS), st.text(max_size=40))
odd_ids = st.one_of(st.sampled_from(ODD_IDS), st.text(min_size=1, max_size=12))
floats = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324]),
    st.floats(allow_nan=True, allow_infinity=True),
)
ints = st.one_of(
    st.sampled_from([0, -1, 2**31, 2**53, 2**53 + 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
    st.integers(min_value=-(10**6), max_value=10**6),
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, texts)


def deep(depth):
    """A list nested `depth` deep: deeper than the JSON parser's or a renderer's recursion limit.

    It stands in the drawn value as a token that `encode_json` expands, because hypothesis itself
    recurses into the values it draws."""
    return f"__deep_{depth}__"


def expand_deep(text):
    return re.sub(r'"__deep_(\d+)__"', lambda m: "[" * int(m[1]) + '"x"' + "]" * int(m[1]), text)


json_values = st.one_of(
    st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
        ),
        max_leaves=12,
    ),
    st.sampled_from([deep(50), deep(200), deep(1100), {"a": deep(990)}]),
    st.just(["x" * 1000] * 300),  # wide
    st.just({f"k{i}": i for i in range(2000)}),  # many keys
)


def timestamps():
    """RFC 3339 near the base time, and values that are far, naive, malformed or of the wrong type."""
    near = st.integers(min_value=-(10**6), max_value=10**6).map(
        lambda us: (BASE + timedelta(microseconds=us * 1000)).isoformat()
    )
    odd = st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59.999999Z",
            "9999-12-31T23:59:59.999999-14:00",
            "1970-01-01T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2038-01-19T03:14:08Z",
            "+275760-09-13T00:00:00Z",
            "2026-01-01T00:00:00",  # naive
            "2026-01-01",
            "2026-01-01T25:61:61Z",
            "2026-01-01T00:00:00.1234567890Z",
            "2026-01-01T00:00:00+99:00",
            "now",
            "",
            "\x00",
        ]
    )
    wrong = st.one_of(st.none(), ints, floats, st.booleans(), st.just([]), st.just({}))
    return st.one_of(near, near, odd, wrong)


def an_id(pool):
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool), odd_ids)


def maybe(strategy):
    """A value for an optional field: absent (None drops it), or a value."""
    return st.one_of(st.none(), strategy)


def body_fields(type_):
    """The DESIGN §4 body of `type_`: required fields (which may still be dropped or wrong) and
    optional ones (which may be absent)."""
    run, step, session, agent = (
        an_id(RUN_IDS),
        an_id(STEP_IDS),
        an_id(SESSION_IDS),
        an_id(AGENT_IDS),
    )
    required, optional = {}, {}
    if type_ == "agent.upsert":
        required = {"agent_id": agent, "name": texts}
        optional = {
            "description": texts,
            "mode": st.sampled_from(["full", "standard", "minimal", "loud", ""]),
            "max_input_chars": ints,
            "max_output_chars": ints,
        }
    elif type_ == "run.start":
        required = {"run_id": run, "agent_id": agent}
        graph = st.fixed_dictionaries(
            {
                "nodes": st.lists(
                    st.fixed_dictionaries({"id": odd_ids}, optional={"name": texts, "type": texts}),
                    max_size=4,
                ),
                "edges": st.lists(
                    st.fixed_dictionaries({"source": odd_ids, "target": odd_ids}, optional={"label": texts}),
                    max_size=4,
                ),
            }
        )
        optional = {
            "session_id": session,
            "user_id": texts,
            "workflow": texts,
            "invocation_id": st.one_of(texts, st.just("abcd1234")),
            "input": json_values,
            "metadata": st.one_of(st.dictionaries(texts, json_values, max_size=3), json_values),
            "tags": st.one_of(st.lists(texts, max_size=4), json_values),
            "graph": st.one_of(graph, json_values),
        }
    elif type_ == "run.complete":
        required, optional = {"run_id": run}, {"output": json_values}
    elif type_ == "run.failed":
        required = {"run_id": run, "error": st.one_of(texts, json_values)}
    elif type_ in ("run.paused", "run.resumed"):
        required, optional = {"run_id": run}, {"reason": texts}
    elif type_ == "state.checkpoint":
        required = {"run_id": run, "state": json_values}
        optional = {"trace": st.one_of(st.lists(texts, max_size=5), json_values)}
    elif type_ == "step.start":
        required = {"run_id": run, "step_id": step, "name": texts}
        optional = {
            "type": st.sampled_from(["function", "llm", "tool", "gate", "custom", "", "rocket"]),
            "parent_id": step,
            "input": json_values,
            "attempt": ints,
        }
    elif type_ in ("step.ok", "tool.ok"):
        key = "output" if type_ == "step.ok" else "result"
        required, optional = {"run_id": run, "step_id": step}, {key: json_values}
    elif type_ in ("step.failed", "tool.failed"):
        required = {"run_id": run, "step_id": step, "error": st.one_of(texts, json_values)}
    elif type_ == "tool.call":
        required = {"run_id": run, "step_id": step, "tool": texts}
        optional = {"args": json_values, "parent_id": step}
    elif type_ == "llm.call":
        required = {"run_id": run, "model": texts}
        number = st.one_of(ints, floats, texts)
        optional = {
            "step_id": step,
            "call_id": odd_ids,
            "provider": texts,
            "prompt_tokens": number,
            "completion_tokens": number,
            "cached_tokens": number,
            "latency_ms": number,
            "ttft_ms": number,
            "cost": st.one_of(number, st.sampled_from(["0.0011", "1e400", "-0", "NaN", "Infinity"])),
            "finish_reason": texts,
            "status": texts,
            "error": json_values,
            "request": json_values,
            "response": json_values,
        }
    elif type_.startswith("gate."):
        required = {"run_id": run, "step_id": step}
        optional = {"name": texts, "approver": texts, "comment": texts}
    elif type_ == "message":
        content = st.one_of(
            texts,
            st.fixed_dictionaries({"type": texts}, optional={"text": texts, "title": texts}),
            st.fixed_dictionaries({"type": st.sampled_from(["text", "image", "tool_call", "card"])}),
            st.dictionaries(texts, json_values, max_size=3),  # an object without `type`
            json_values,
        )
        required = {
            "session_id": session,
            "role": st.sampled_from(["user", "assistant", "system", "tool", "narrator", ""]),
            "content": content,
        }
        optional = {"run_id": run, "step_id": step, "agent_id": agent, "metadata": json_values}
    elif type_ == "track":
        properties = st.one_of(
            st.dictionaries(texts, scalars, max_size=5),  # flat, as documented
            st.dictionaries(texts, json_values, max_size=3),  # nested
            json_values,
        )
        required = {"name": texts}
        optional = {"properties": properties, "session_id": session, "run_id": run, "agent_id": agent}
    elif type_ == "log":
        required = {"run_id": run, "step_id": step, "name": texts}
        optional = {
            "parent_id": step,
            "level": texts,
            "input": json_values,
            "output": json_values,
            "metadata": json_values,
        }
    return required, optional


@st.composite
def bodies(draw, type_):
    required, optional = body_fields(type_)
    body = {}
    for key, strategy in required.items():
        choice = draw(st.integers(0, 19))
        if choice == 0:
            continue  # a required field missing
        body[key] = draw(scalars) if choice == 1 else draw(strategy)  # or of the wrong type
    for key, strategy in optional.items():
        value = draw(maybe(strategy))
        if value is not None:
            body[key] = value
    if draw(st.integers(0, 9)) == 0:
        body[draw(texts)] = draw(json_values)  # an unknown field: kept in metadata
    return body


@st.composite
def events(draw, types=EVENT_TYPES):
    type_ = draw(st.one_of(st.sampled_from(types), st.sampled_from(types), texts))
    event = {
        "id": draw(st.one_of(st.uuids().map(str), odd_ids)),
        "type": type_,
        "timestamp": draw(timestamps()),
        "body": draw(bodies(type_) if type_ in EVENT_TYPES else json_values),
    }
    mangle = draw(st.integers(0, 24))
    if mangle == 0:
        del event[draw(st.sampled_from(sorted(event)))]
    elif mangle == 1:
        event["body"] = draw(scalars)
    elif mangle == 2:
        return draw(json_values)  # not an event object at all
    return event


@st.composite
def batches(draw, types=EVENT_TYPES, max_size=12):
    """A list of events: some repeated (duplicates, same id), then shuffled (out of order)."""
    batch = draw(st.lists(events(types), max_size=max_size))
    if batch and draw(st.booleans()):
        batch += draw(st.lists(st.sampled_from(batch), max_size=3))
    return draw(st.permutations(batch)) if batch else batch


def encode_json(payload):
    """JSON as an agent's serializer writes it: NaN and Infinity as bare words, surrogates escaped."""
    return expand_deep(json.dumps(payload, allow_nan=True)).encode()


def compressions(body):
    """The body plain, gzipped, or as corrupt or truncated gzip: (body, headers)."""
    packed = gzip.compress(body)
    return st.sampled_from(
        [
            (body, {}),
            (packed, {"Content-Encoding": "gzip"}),
            (packed[: max(len(packed) // 2, 1)], {"Content-Encoding": "gzip"}),  # truncated
            (b"\x1f\x8b\x08\x00garbage" + body[:20], {"Content-Encoding": "gzip"}),  # corrupt
            (body, {"Content-Encoding": "gzip"}),  # says gzip, is not
            (gzip.compress(packed), {"Content-Encoding": "gzip"}),  # gzipped twice
        ]
    )


@st.composite
def ingest_requests(draw, types=EVENT_TYPES):
    """POST /api/v1/ingest with a batch, or with a body that is not one."""
    shape = draw(st.integers(0, 9))
    if shape <= 6:
        body = encode_json({"batch": draw(batches(types))})
    elif shape == 7:
        body = encode_json(draw(st.one_of(json_values, st.fixed_dictionaries({"batch": json_values}))))
    elif shape == 8:
        body = draw(
            st.sampled_from(
                [b"", b"{", b"\x00", b"\xff\xfe", b"[]", b"null", b'{"batch": [', b'{"batch": NaN}']
            )
        )
    else:
        body = encode_json({"batch": deep(draw(st.sampled_from([1000, 5000, 20000])))})  # a deep batch
    body, headers = draw(compressions(body))
    headers = {
        "Content-Type": draw(st.sampled_from(["application/json"] * 4 + ["text/plain", ""])),
        **headers,
    }
    return Request("POST", INGEST, body, headers, "ingest")


def track_requests():
    """`track` events alone: the business events behind the dashboard cards."""
    return ingest_requests(types=("track",)).map(
        lambda r: Request(r.method, r.path, r.body, r.headers, "track")
    )


# OTLP --------------------------------------------------------------------------------------------

TRACE_IDS = (bytes.fromhex("5b8aa5a2d2c872e8321cf37308d69df2"), bytes(range(1, 17)))
SPAN_IDS = tuple(bytes([n]) * 8 for n in range(1, 5))
GENAI_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.request.model",
    "gen_ai.system",
    "gen_ai.conversation.id",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.model_name",
    "session.id",
    "input.value",
    "output.value",
    "openinference.span.kind",
    "langfuse.observation.type",
)
NANOS = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.sampled_from([0, 1, 2**63, 2**64 - 1, int(BASE.timestamp() * 1e9)]),
    st.integers(min_value=0, max_value=10**9).map(lambda n: int(BASE.timestamp() * 1e9) + n),
)
ids_of = lambda pool, size: st.one_of(  # noqa: E731
    st.sampled_from(pool), st.binary(max_size=size + 2), st.just(b"\x00" * size)
)


@st.composite
def any_values(draw, depth=2):
    value = AnyValue()
    kind = draw(st.integers(0, 6 if depth else 4))
    if kind == 0:
        value.string_value = draw(texts.filter(lambda s: "\ud800" not in s))
    elif kind == 1:
        value.int_value = draw(st.integers(min_value=-(2**63), max_value=2**63 - 1))
    elif kind == 2:
        value.double_value = draw(floats)
    elif kind == 3:
        value.bool_value = draw(st.booleans())
    elif kind == 4:
        value.bytes_value = draw(st.binary(max_size=20))
    elif kind == 5:
        value.array_value.values.extend(draw(st.lists(any_values(depth - 1), max_size=3)))
    else:
        value.kvlist_value.values.extend(draw(st.lists(key_values(depth - 1), max_size=3)))
    return value


@st.composite
def key_values(draw, depth=2):
    key = draw(st.one_of(st.sampled_from(GENAI_KEYS), texts.filter(lambda s: "\ud800" not in s)))
    return KeyValue(key=key, value=draw(any_values(depth)))


@st.composite
def spans(draw):
    span = Span(
        trace_id=draw(ids_of(TRACE_IDS, 16)),
        span_id=draw(ids_of(SPAN_IDS, 8)),
        parent_span_id=draw(st.one_of(st.just(b""), ids_of(SPAN_IDS, 8))),
        name=draw(texts.filter(lambda s: "\ud800" not in s)),
        kind=draw(st.integers(0, 6)),
        start_time_unix_nano=draw(NANOS),
        end_time_unix_nano=draw(NANOS),
    )
    span.attributes.extend(draw(st.lists(key_values(), max_size=6)))
    span.status.CopyFrom(
        Status(code=draw(st.integers(0, 3)), message=draw(st.sampled_from(["", "boom", "\x00"])))
    )
    for _ in range(draw(st.integers(0, 2))):
        span_event = span.events.add(
            time_unix_nano=draw(NANOS), name=draw(st.sampled_from(["exception", "", "x"]))
        )
        span_event.attributes.extend(draw(st.lists(key_values(1), max_size=3)))
    return span


@st.composite
def exports(draw):
    export = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_spans = export.resource_spans.add()
        resource_spans.resource.attributes.extend(draw(st.lists(key_values(1), max_size=3)))
        for _ in range(draw(st.integers(0, 2))):
            scope = resource_spans.scope_spans.add()
            scope.scope.name = draw(st.sampled_from(["", "openinference", "langfuse-sdk"]))
            scope.spans.extend(draw(st.lists(spans(), max_size=5)))
    return export


# Log records' event names: the GenAI records joined to their spans, and any other.
LOG_EVENT_NAMES = (
    "gen_ai.user.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
    "gen_ai.client.inference.operation.details",
    "",
    "x",
)


@st.composite
def log_records(draw):
    record = LogRecord(
        trace_id=draw(ids_of(TRACE_IDS, 16)),
        span_id=draw(st.one_of(st.just(b""), ids_of(SPAN_IDS, 8))),
        time_unix_nano=draw(NANOS),
        observed_time_unix_nano=draw(NANOS),
        severity_number=draw(st.integers(0, 30)),
        severity_text=draw(st.sampled_from(["", "ERROR", "x" * 40, "\x00"])),
        event_name=draw(st.sampled_from(LOG_EVENT_NAMES)),
    )
    record.body.CopyFrom(draw(any_values()))
    record.attributes.extend(draw(st.lists(key_values(), max_size=4)))
    return record


@st.composite
def log_exports(draw):
    export = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_logs = export.resource_logs.add()
        for _ in range(draw(st.integers(0, 2))):
            scope = resource_logs.scope_logs.add()
            scope.scope.name = draw(st.sampled_from(["", "payments", "opentelemetry.util.genai.handler"]))
            scope.log_records.extend(draw(st.lists(log_records(), max_size=5)))
    return export


def b64_to_hex(value):
    if isinstance(value, list):
        return [b64_to_hex(item) for item in value]
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex()
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(item, str)
            else b64_to_hex(item)
            for key, item in value.items()
        }
    return value


def mangle_json(value, draw):
    """Swap one value somewhere in the OTLP/JSON document for a wrong one."""
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        if draw(st.booleans()) or not isinstance(value[key], (dict, list)):
            value[key] = draw(st.one_of(scalars, st.sampled_from(["zz", "abc", "1" * 64])))
        else:
            mangle_json(value[key], draw)
    elif isinstance(value, list) and value:
        mangle_json(value[draw(st.integers(0, len(value) - 1))], draw)
    return value


@st.composite
def otlp_requests(draw, messages=None, paths=OTLP_PATHS):
    """POST /v1/traces (or the Langfuse path; or with log_exports, /v1/logs): protobuf or OTLP/JSON, valid
    or broken, maybe gzipped."""
    export = draw(exports() if messages is None else messages)
    encoding = draw(st.sampled_from(["protobuf", "json"]))
    if encoding == "protobuf":
        content_type = draw(st.sampled_from(["application/x-protobuf", "application/protobuf"]))
        body = export.SerializeToString()
        broken = draw(st.integers(0, 5))
        if broken == 0:
            body = draw(st.binary(max_size=200))
        elif broken == 1 and body:
            body = body[: draw(st.integers(0, len(body) - 1))]
    else:
        content_type = "application/json"
        payload = b64_to_hex(json_format.MessageToDict(export))
        broken = draw(st.integers(0, 5))
        if broken == 0:
            payload = draw(json_values)
        elif broken == 1:
            payload = mangle_json(payload, draw)
        body = encode_json(payload)
    body, headers = draw(compressions(body))
    headers = {"Content-Type": content_type, **headers}
    if draw(st.integers(0, 19)) == 0:
        headers["Content-Encoding"] = draw(st.sampled_from(["br", "deflate", "GZIP", "gzip, identity"]))
    return Request("POST", draw(st.sampled_from(paths)), body, headers, f"otlp-{encoding}")
