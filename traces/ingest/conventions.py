"""What a span's attributes say, read through the conventions agent code uses.

OpenTelemetry GenAI (`gen_ai.*`, current and older names), OpenInference (`openinference.span.kind`,
`llm.*`, `input.value`), the Langfuse SDK (`langfuse.*`) and OpenLLMetry (`traceloop.*`) name the same
things differently; this module reads them into one `SpanFacts`, so the OTLP translation never deals
with attribute names. The names are the constants of `opentelemetry-semantic-conventions` and
`openinference-semantic-conventions`; those of conventions without such a package are in `names`.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from openinference.semconv.trace import SpanAttributes as OI
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.attributes.enduser_attributes import ENDUSER_ID
from opentelemetry.semconv._incubating.attributes.http_attributes import HTTP_STATUS_CODE
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE

from traces.chat_content import ROLE_ALIASES

from .checks import ID_CHARS, time_problem
from .names import OPENINFERENCE_FIRST_TOKEN_EVENT, Langfuse, OpenLLMetry
from .usage import Usage, count, read_span_usage

# The task type a span's kind implies: the first of KIND_KEYS it sets (openinference.span.kind,
# gen_ai.operation.name, langfuse.observation.type, traceloop.span.kind, llm.request.type), lowercased.
# Anything else is a custom task.
KIND_TO_TYPE = {
    "llm": "llm",
    "embedding": "llm",
    "generation": "llm",
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "llm",
    "tool": "tool",
    "execute_tool": "tool",
    "agent": "agent",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "chain": "function",
    "retriever": "retriever",
    "reranker": "retriever",
    "retrieval": "retriever",
    "invoke_workflow": "function",
    # OpenLLMetry: its span kinds and request types, and the operations its LangChain instrumentation adds.
    "completion": "llm",
    "workflow": "function",
    "task": "function",
    "execute_task": "function",
    "vector_db_retrieve": "retriever",
}
KIND_KEYS = (
    OI.OPENINFERENCE_SPAN_KIND,
    gen_ai.GEN_AI_OPERATION_NAME,
    Langfuse.OBSERVATION_TYPE,
    OpenLLMetry.SPAN_KIND,
    OpenLLMetry.LLM_REQUEST_TYPE,
)
# The kinds (lowercased values of KIND_KEYS) of a call to a model. Only a span of one of these kinds is a
# model call: an agent, chain or workflow span often carries the usage of the calls under it as a total,
# which counted again would double the tokens and the cost. A span that declares no kind at all is a model
# call when it has token counts (hand-made spans).
MODEL_CALL_KINDS = {
    "llm",
    "embedding",
    "generation",
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "completion",
}

SESSION_KEYS = (
    OI.SESSION_ID,
    gen_ai.GEN_AI_CONVERSATION_ID,
    Langfuse.TRACE_SESSION_ID,
    OpenLLMetry.ASSOCIATED_SESSION_ID,
)
USER_KEYS = (OI.USER_ID, Langfuse.TRACE_USER_ID, ENDUSER_ID, OpenLLMetry.ASSOCIATED_USER_ID)
TAG_KEYS = (OI.TAG_TAGS, Langfuse.TRACE_TAGS)
TRACE_NAME_KEYS = (Langfuse.TRACE_NAME,)
AGENT_KEYS = (gen_ai.GEN_AI_AGENT_NAME, gen_ai.GEN_AI_AGENT_ID)

MODEL_KEYS = (
    gen_ai.GEN_AI_RESPONSE_MODEL,
    OI.LLM_RESPONSE_MODEL_NAME,
    gen_ai.GEN_AI_REQUEST_MODEL,
    OI.LLM_MODEL_NAME,
    OI.LLM_REQUEST_MODEL_NAME,
    Langfuse.OBSERVATION_MODEL,
    OI.EMBEDDING_MODEL_NAME,
)
PROVIDER_KEYS = (gen_ai.GEN_AI_PROVIDER_NAME, gen_ai.GEN_AI_SYSTEM, OI.LLM_PROVIDER, OI.LLM_SYSTEM)
# Attributes that carry payloads. They become inputs, outputs and messages, and are left out of
# the task's copy of the attributes so a payload is not stored twice.
INPUT_MESSAGE_KEYS = (gen_ai.GEN_AI_INPUT_MESSAGES,)
PAYLOAD_KEYS = {
    OI.INPUT_VALUE,
    OI.OUTPUT_VALUE,
    gen_ai.GEN_AI_INPUT_MESSAGES,
    gen_ai.GEN_AI_OUTPUT_MESSAGES,
    gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS,
    gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS,
    gen_ai.GEN_AI_TOOL_CALL_RESULT,
    Langfuse.OBSERVATION_INPUT,
    Langfuse.OBSERVATION_OUTPUT,
    Langfuse.TRACE_INPUT,
    Langfuse.TRACE_OUTPUT,
    OpenLLMetry.ENTITY_INPUT,
    OpenLLMetry.ENTITY_OUTPUT,
}
PAYLOAD_PREFIXES = (
    OI.LLM_INPUT_MESSAGES + ".",
    OI.LLM_OUTPUT_MESSAGES + ".",
    gen_ai.GEN_AI_PROMPT + ".",
    gen_ai.GEN_AI_COMPLETION + ".",
)
# By direction: OpenInference's value and its mime type, Langfuse's and OpenLLMetry's values,
# OpenInference's messages.
VALUE_KEYS = {
    "input": (OI.INPUT_VALUE, OI.INPUT_MIME_TYPE),
    "output": (OI.OUTPUT_VALUE, OI.OUTPUT_MIME_TYPE),
}
SDK_PAYLOAD_KEYS = {
    "input": (Langfuse.OBSERVATION_INPUT, Langfuse.TRACE_INPUT, OpenLLMetry.ENTITY_INPUT),
    "output": (Langfuse.OBSERVATION_OUTPUT, Langfuse.TRACE_OUTPUT, OpenLLMetry.ENTITY_OUTPUT),
}
MESSAGES_KEYS = {"input": OI.LLM_INPUT_MESSAGES, "output": OI.LLM_OUTPUT_MESSAGES}
# The GenAI request parameters (gen_ai.request.temperature…): a namespace, of which no constant names
# the whole; the model is read apart.
REQUEST_PREFIX = "gen_ai.request."

NAME_CHARS = ID_CHARS  # an error type is shown as a name

# Span events that say when a streamed reply's first token came: OpenInference's, and OpenLLMetry's
# chunk events (one per chunk: the first one).
CHUNK_EVENTS = set(OpenLLMetry.COMPLETION_CHUNK_EVENTS)
FIRST_TOKEN_EVENTS = {OPENINFERENCE_FIRST_TOKEN_EVENT, *CHUNK_EVENTS}


@dataclass
class SpanFacts:
    type: str = "custom"
    kind: str | None = None  # the kind the span declares (see KIND_KEYS), lowercased
    input: object = None
    output: object = None
    input_messages: list = field(default_factory=list)
    output_messages: list = field(default_factory=list)
    session_id: str | None = None
    user_id: str | None = None
    trace_name: str | None = None
    agent_name: str | None = None
    tags: list = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    model: str | None = None
    provider: str | None = None
    usage: Usage = field(default_factory=Usage)  # token counts and the cost the client sent
    finish_reason: str | None = None
    completion_start: datetime | None = None
    ttft_ms: float | None = None
    parameters: dict = field(default_factory=dict)
    error_message: str | None = None  # Langfuse marks failures with a level instead of the span status
    error_type: str | None = None  # error.type, else the HTTP status of a failed request
    problem: tuple | None = None  # (attribute, reason) that rejects the span: a count or cost out of range

    @property
    def has_usage(self):
        return self.usage.prompt_tokens is not None or self.usage.completion_tokens is not None

    @property
    def is_model_call(self):
        """A call to a model by the span's convention; without a declared kind, a span with token counts."""
        return self.kind in MODEL_CALL_KINDS if self.kind is not None else self.has_usage


def read_span(attrs):
    """SpanFacts from a span's attributes (a flat dict of decoded OTLP values)."""
    facts = SpanFacts()
    kind = first(attrs, *KIND_KEYS)
    facts.kind = str(kind).lower() if kind is not None else None
    facts.type = KIND_TO_TYPE.get(facts.kind, "custom") if facts.kind else "custom"
    facts.session_id = text(first(attrs, *SESSION_KEYS))
    facts.user_id = text(first(attrs, *USER_KEYS))
    facts.trace_name = text(first(attrs, *TRACE_NAME_KEYS))
    facts.agent_name = text(first(attrs, *AGENT_KEYS))
    facts.tags = read_tags(attrs)
    read_model(facts, attrs)
    if facts.kind is None and facts.has_usage:
        facts.type = "llm"
    read_payloads(facts, attrs)
    if str(attrs.get(Langfuse.OBSERVATION_LEVEL, "")).upper() == "ERROR":
        facts.error_message = text(attrs.get(Langfuse.OBSERVATION_STATUS_MESSAGE)) or "error"
    facts.error_type = read_error_type(attrs)
    facts.attributes = {
        k: v for k, v in attrs.items() if k not in PAYLOAD_KEYS and not k.startswith(PAYLOAD_PREFIXES)
    }
    return facts


# -- small readers --------------------------------------------------------------------------------


def first(attrs, *keys):
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def text(value):
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def parse_json(value):
    """A JSON string's value; anything else (or text that is not JSON) as it is."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def read_tags(attrs):
    tags = []
    for key in TAG_KEYS:
        value = parse_json(attrs.get(key))
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            tags.extend(str(tag)[:200] for tag in value if tag not in (None, ""))
    return list(dict.fromkeys(tags))


def read_model(facts, attrs):
    facts.model = text(first(attrs, *MODEL_KEYS))
    facts.provider = text(first(attrs, *PROVIDER_KEYS))
    facts.usage = read_span_usage(attrs)
    facts.problem = facts.usage.problem
    facts.finish_reason = read_finish_reason(attrs)
    facts.ttft_ms = read_ttft(attrs)
    started = parse_json(attrs.get(Langfuse.OBSERVATION_COMPLETION_START_TIME))
    if isinstance(started, str):
        try:
            facts.completion_start = datetime.fromisoformat(started.replace("Z", "+00:00"))
        except ValueError:
            facts.completion_start = None
        # A time without an offset cannot be set against the span's; one out of range is not kept.
        if facts.completion_start is not None and (
            facts.completion_start.utcoffset() is None or time_problem(facts.completion_start)
        ):
            facts.completion_start = None
    facts.parameters = read_parameters(attrs)
    if facts.model is None and isinstance(facts.parameters.get("model"), str):
        # A call that failed has no response model; OpenInference names the requested one only here.
        facts.model = text(facts.parameters["model"])


# The finish reason, by convention: GenAI (an array), OpenInference, the older indexed GenAI names
# (OpenLLMetry), the metadata the Langfuse OpenAI integration writes. Else the first output message's.
FINISH_REASON_KEYS = (
    gen_ai.GEN_AI_RESPONSE_FINISH_REASONS,
    OI.LLM_FINISH_REASON,
    f"{gen_ai.GEN_AI_COMPLETION}.0.finish_reason",
    Langfuse.OBSERVATION_FINISH_REASON,
)
FINISH_REASON_CHARS = 64  # model_call_stats.finish_reason


def read_finish_reason(attrs):
    reason = parse_json(first(attrs, *FINISH_REASON_KEYS))
    if isinstance(reason, list):
        reason = next((r for r in reason if r not in (None, "")), None)
    if reason is None:
        messages = parse_json(attrs.get(gen_ai.GEN_AI_OUTPUT_MESSAGES))
        if isinstance(messages, list):
            reason = next(
                (m["finish_reason"] for m in messages if isinstance(m, dict) and m.get("finish_reason")), None
            )
    return text(reason)[:FINISH_REASON_CHARS] if reason not in (None, "") else None


TTFT_MAX_SECONDS = 10**9  # a time to first token the llm.call body holds (10^12 ms)


def read_ttft(attrs):
    """Time to first token in milliseconds from gen_ai.response.time_to_first_chunk (seconds), or None."""
    try:
        seconds = float(attrs.get(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
    except (TypeError, ValueError):
        return None
    # Not a number, or out of range: the attribute is left out, the call is kept.
    return seconds * 1000 if 0 <= seconds <= TTFT_MAX_SECONDS else None


# HTTP status attributes (stable, then older) whose error status names a failed request's error type.
HTTP_STATUS_KEYS = (HTTP_RESPONSE_STATUS_CODE, HTTP_STATUS_CODE)


# How some instrumentations write a Python exception class as error.type: "<class 'openai.RateLimitError'>".
PYTHON_CLASS = re.compile(r"<class '([^']+)'>")


def read_error_type(attrs):
    """error.type as the span set it; else "HTTP <status>" for an HTTP error status; else None."""
    error_type = text(attrs.get(ERROR_TYPE))
    if error_type:
        named = PYTHON_CLASS.fullmatch(error_type)
        return (named.group(1) if named else error_type)[:NAME_CHARS]
    status = count(first(attrs, *HTTP_STATUS_KEYS))
    return f"HTTP {status}" if status is not None and status >= 400 else None


def read_parameters(attrs):
    parameters = {}
    for key, value in attrs.items():
        if key.startswith(REQUEST_PREFIX) and key != gen_ai.GEN_AI_REQUEST_MODEL:
            parameters[key.removeprefix(REQUEST_PREFIX)] = value
    for key in (OI.LLM_INVOCATION_PARAMETERS, Langfuse.OBSERVATION_MODEL_PARAMETERS):
        value = parse_json(attrs.get(key))
        if isinstance(value, dict):
            parameters.update(value)
    return parameters


# -- payloads and messages ------------------------------------------------------------------------


def read_payloads(facts, attrs):
    facts.input_messages = input_messages(attrs)
    facts.output_messages = output_messages(attrs)
    raw_input = first_payload(attrs, "input")
    raw_output = first_payload(attrs, "output")
    if facts.type == "llm":
        # A generation logged by hand often carries its prompt and answer as plain values.
        if not facts.input_messages:
            facts.input_messages = as_messages(raw_input, default_role="user")
        if not facts.output_messages:
            facts.output_messages = as_messages(raw_output, default_role="assistant")
    if facts.type == "llm":
        facts.input = facts.input_messages or raw_input
        facts.output = facts.output_messages or raw_output
    else:
        # Any other span keeps its own value (a LangGraph chain's state) when it has one, even when the
        # instrumentation also lists the messages found in it; those stay in input_messages.
        facts.input = raw_input if raw_input is not None else facts.input_messages or None
        facts.output = raw_output if raw_output is not None else facts.output_messages or None


def first_payload(attrs, direction):
    """input.value / output.value (by their mime type), tool arguments and results, Langfuse values."""
    tool_key = gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS if direction == "input" else gen_ai.GEN_AI_TOOL_CALL_RESULT
    if attrs.get(tool_key) is not None:
        return parse_json(attrs[tool_key])
    value_key, mime_type_key = VALUE_KEYS[direction]
    value = attrs.get(value_key)
    if value is not None:
        if attrs.get(mime_type_key) == "text/plain":
            return value
        return parse_json(value)
    for key in SDK_PAYLOAD_KEYS[direction]:
        if attrs.get(key) is not None:
            return parse_json(attrs[key])
    return None


def input_messages(attrs):
    messages = []
    instructions = parse_json(attrs.get(gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS))
    if instructions:
        parts = instructions if isinstance(instructions, list) else [instructions]
        messages.append({"role": "system", "content": parts_content(parts)})
    structured = parse_json(attrs.get(gen_ai.GEN_AI_INPUT_MESSAGES))
    if isinstance(structured, list):
        return messages + [m for m in map(normalize_message, structured) if m]
    return messages + flattened_messages(attrs, "input")


def output_messages(attrs):
    structured = parse_json(attrs.get(gen_ai.GEN_AI_OUTPUT_MESSAGES))
    if isinstance(structured, list):
        return [m for m in map(normalize_message, structured) if m]
    return flattened_messages(attrs, "output")


def flattened_messages(attrs, direction):
    """OpenInference `llm.input_messages.N.message.*` and older `gen_ai.prompt.N.*` attributes."""
    openinference = MESSAGES_KEYS[direction]
    if isinstance(attrs.get(openinference), list):
        rows = attrs[openinference]
    else:
        rows = unflatten(attrs, openinference + ".")
    if rows:
        return [m for m in map(openinference_message, rows) if m]
    legacy = gen_ai.GEN_AI_PROMPT + "." if direction == "input" else gen_ai.GEN_AI_COMPLETION + "."
    return [m for m in map(normalize_message, map(legacy_message, unflatten(attrs, legacy))) if m]


def legacy_message(row):
    """An OpenLLMetry `gen_ai.prompt.N.*` / `gen_ai.completion.N.*` row as an OpenAI-style message: its
    flattened `tool_calls.K.{id,name,arguments}` become the message's tool calls."""
    calls = unflatten(row, "tool_calls.")
    if not calls:
        return row
    message = {key: value for key, value in row.items() if not key.startswith("tool_calls.")}
    message["tool_calls"] = [
        {"id": call.get("id"), "function": {"name": call.get("name"), "arguments": call.get("arguments")}}
        for call in calls
    ]
    return message


def unflatten(attrs, prefix):
    """`prefix.0.a`, `prefix.0.b`, `prefix.1.a` → [{"a", "b"}, {"a"}], in index order."""
    rows = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix) :].partition(".")
        if index.isdigit() and rest:
            rows.setdefault(int(index), {})[rest] = value
    return [rows[i] for i in sorted(rows)]


def openinference_message(row):
    row = {k.removeprefix("message."): v for k, v in row.items()}
    parts = []
    if row.get("content") not in (None, ""):
        parts.append({"type": "text", "content": row["content"]})
    for item in unflatten(row, "contents."):
        item = {k.removeprefix("message_content."): v for k, v in item.items()}
        if item.get("type", "text") == "text" and item.get("text") is not None:
            parts.append({"type": "text", "content": item["text"]})
        elif item.get("type"):
            parts.append(dict(item))
    for call in unflatten(row, "tool_calls."):
        call = {k.removeprefix("tool_call."): v for k, v in call.items()}
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": call.get("function.name"),
                "arguments": parse_json(call.get("function.arguments")),
            }
        )
    if row.get("tool_call_id") and parts and parts[0]["type"] == "text":
        parts[0] = {"type": "tool_call_response", "id": row["tool_call_id"], "response": parts[0]["content"]}
    return make_message(row.get("role"), parts)


def normalize_message(message):
    """A GenAI message ({role, parts}) or an OpenAI-style one ({role, content, tool_calls})."""
    if not isinstance(message, dict):
        return None
    parts = message.get("parts")
    if not isinstance(parts, list):
        parts = []
        content = parse_json(message.get("content"))
        if isinstance(content, list):
            parts.extend(openai_part(p) for p in content)
        elif content not in (None, ""):
            parts.append(
                {"type": "text", "content": content if isinstance(content, str) else json.dumps(content)}
            )
        for call in message.get("tool_calls") or []:
            function = (call.get("function") or {}) if isinstance(call, dict) else {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id") if isinstance(call, dict) else None,
                    "name": function.get("name"),
                    "arguments": parse_json(function.get("arguments")),
                }
            )
        if message.get("tool_call_id") and parts and parts[0]["type"] == "text":
            parts[0] = {
                "type": "tool_call_response",
                "id": message["tool_call_id"],
                "response": parts[0]["content"],
            }
    return make_message(message.get("role"), parts)


def openai_part(part):
    if isinstance(part, str):
        return {"type": "text", "content": part}
    if isinstance(part, dict) and part.get("type") == "text":
        return {"type": "text", "content": part.get("text", "")}
    return (
        part
        if isinstance(part, dict) and isinstance(part.get("type"), str)
        else {"type": "json", "value": part}
    )


def make_message(role, parts):
    content = parts_content(parts)
    if content in (None, ""):
        return None
    role = str(role or "user").lower()
    return {"role": ROLE_ALIASES.get(role, role)[:32], "content": content}


def parts_content(parts):
    """Plain text when every part is text; else the one structured part, or all of them."""
    parts = [p for p in parts if isinstance(p, dict)]
    if not parts:
        return None
    if all(p.get("type") == "text" for p in parts):
        return "\n".join(str(p.get("content", "")) for p in parts)
    shaped = [shape_part(p) for p in parts]
    return shaped[0] if len(shaped) == 1 else {"type": "parts", "parts": shaped}


def shape_part(part):
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("content", ""))}
    if kind == "tool_call":
        return {k: part.get(k) for k in ("type", "id", "name", "arguments")}
    if kind == "tool_call_response":
        result = part.get("response", part.get("result"))
        return {"type": "tool_result", "id": part.get("id"), "result": result}
    return part if isinstance(kind, str) else {"type": "json", "value": part}


def as_messages(value, default_role):
    """Messages from a hand-logged value: a list of messages, one message, a request body holding them
    (`{"messages": [...], "tools": ...}`, as Langfuse's OpenAI integration logs one), or plain text."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list) and "role" not in value:
        value = value["messages"]
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return [m for m in map(normalize_message, value) if m]
    if isinstance(value, dict) and "role" in value:
        message = normalize_message(value)
        return [message] if message else []
    if isinstance(value, str) and value.strip():
        return [{"role": default_role, "content": value}]
    return []


MESSAGE_KEY_PREFIX = "otlp:msg:"


def message_key(scope, role, content, occurrence):
    """The same turn seen again (a later call resends the history) gets the same event id."""
    canonical = json.dumps([scope, role, content, occurrence], sort_keys=True, ensure_ascii=False)
    return MESSAGE_KEY_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:40]
