"""What a model call used and what it cost as the client said, in every convention that says it.

Token kinds: prompt (all input, cached and cache-creation tokens included), completion (reasoning
included), cached reads, cache creation and reasoning. They arrive as span attributes (GenAI
`gen_ai.usage.*`, OpenInference `llm.token_count.*`, OpenLLMetry's older names), as usage objects
(Langfuse `usage_details`, an OpenAI or Anthropic `usage` in the event API) and, for the cost, as
OpenInference `llm.cost.*`, `gen_ai.usage.cost` or Langfuse `cost_details`, whose input/output split
is kept as sent.
"""

import json
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

from openinference.semconv.trace import SpanAttributes as OI
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai

from .checks import COST_MAX, TOKENS_MAX
from .names import GENAI_USAGE_COST, Langfuse, OpenLLMetry

# Span attributes per token kind, the first one set wins; then the Langfuse usage object fills the gaps.
SPAN_TOKEN_KEYS = {
    "prompt_tokens": (
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS,
        gen_ai.GEN_AI_USAGE_PROMPT_TOKENS,
        OI.LLM_TOKEN_COUNT_PROMPT,
    ),
    "completion_tokens": (
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
        gen_ai.GEN_AI_USAGE_COMPLETION_TOKENS,
        OI.LLM_TOKEN_COUNT_COMPLETION,
    ),
    "cached_tokens": (
        gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        OpenLLMetry.CACHE_READ_INPUT_TOKENS,
        OI.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ,
    ),
    "cache_creation_tokens": (
        gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        *OpenLLMetry.CACHE_CREATION_INPUT_TOKENS,
        OI.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE,
    ),
    "reasoning_tokens": (
        gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        OpenLLMetry.REASONING_TOKENS,
        OI.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING,
    ),
}
# Keys of a usage object per token kind (dots walk into nested objects): OpenAI chat and responses,
# Anthropic, and the keys the Langfuse SDK and its integrations write into usage_details.
OBJECT_TOKEN_KEYS = {
    "prompt_tokens": ("prompt_tokens", "input_tokens", "input", "promptTokens"),
    "completion_tokens": ("completion_tokens", "output_tokens", "output", "completionTokens"),
    "cached_tokens": (
        "prompt_tokens_details.cached_tokens",
        "input_tokens_details.cached_tokens",
        "cache_read_input_tokens",
        "input_cached_tokens",
        "input_cache_read",
        "cache_read_tokens",
        "cached_tokens",
    ),
    "cache_creation_tokens": (
        "cache_creation_input_tokens",
        "input_cache_creation",
        "input_cache_write",
        "cache_write_tokens",
    ),
    "reasoning_tokens": (
        "completion_tokens_details.reasoning_tokens",
        "output_tokens_details.reasoning_tokens",
        "output_reasoning_tokens",
        "output_reasoning",
        "reasoning_tokens",
    ),
}
OBJECT_TOTAL_KEYS = ("total_tokens", "total")
# Anthropic's and Langfuse's input counts leave the cache reads and writes out; OpenAI's include them.
SEPARATE_CACHE_PROMPT_KEYS = ("input_tokens", "input")


@dataclass
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: Decimal | None = None
    input_cost: Decimal | None = None
    output_cost: Decimal | None = None
    problem: tuple | None = None  # (attribute, reason): a count or cost out of range rejects the span

    @property
    def has_tokens(self):
        return any(getattr(self, kind) for kind in SPAN_TOKEN_KEYS)


USAGE_FIELDS = tuple(f.name for f in fields(Usage) if f.name != "problem")


def count(value):
    """A token count as an int (negative or huge ones too: see the range check), or None."""
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def money(value):
    """A cost in dollars, with at most 10 decimal places when within what a column holds, or None."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not amount.is_finite():
        return None
    if abs(amount) > COST_MAX:
        return amount  # rejected by the range check, never stored
    return amount.quantize(Decimal("1e-10"))


def json_object(value):
    """A dict, or a JSON object in a string, as a dict; anything else as None."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def dig(obj, path):
    """obj[path]; else, for a dotted path, the value nested under its parts (a.b is obj["a"]["b"])."""
    if isinstance(obj, dict) and path in obj:
        return obj[path]
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def read_span_usage(attrs):
    """Usage from a span's attributes (a flat dict of decoded OTLP values)."""
    usage, sources = Usage(), {}
    for kind, keys in SPAN_TOKEN_KEYS.items():
        sources[kind], value = first_count(attrs, keys)
        setattr(usage, kind, value)
    details = json_object(attrs.get(Langfuse.OBSERVATION_USAGE_DETAILS))
    if details is not None:
        for kind, value in vars(read_usage_object(details)).items():
            if kind in SPAN_TOKEN_KEYS and getattr(usage, kind) is None and value is not None:
                setattr(usage, kind, value)
                sources[kind] = Langfuse.OBSERVATION_USAGE_DETAILS
    read_sent_cost(usage, attrs, sources)
    usage.problem = range_problem(usage, sources)
    return usage


def read_usage_object(obj):
    """Usage from a usage object: OpenAI's (nested details), Anthropic's or Langfuse's usage_details."""
    usage = Usage()
    for kind, keys in OBJECT_TOKEN_KEYS.items():
        setattr(usage, kind, first_count(obj, keys)[1])
    prompt_key = first_count(obj, OBJECT_TOKEN_KEYS["prompt_tokens"])[0]
    total = first_count(obj, OBJECT_TOTAL_KEYS)[1]
    adds_up = total is not None and total == (usage.prompt_tokens or 0) + (usage.completion_tokens or 0)
    if prompt_key in SEPARATE_CACHE_PROMPT_KEYS and not adds_up:
        # The stored prompt is the whole input, as OpenAI and the GenAI conventions count it.
        usage.prompt_tokens += (usage.cached_tokens or 0) + (usage.cache_creation_tokens or 0)
    usage.problem = range_problem(usage, {})
    return usage


def first_count(obj, keys):
    """(key, count) of the first of `keys` that holds a count, or (None, None)."""
    return next(((key, n) for key in keys if (n := count(dig(obj, key))) is not None), (None, None))


def read_sent_cost(usage, attrs, sources):
    """The cost the client sent, and its input/output split when it sent one."""
    details = json_object(attrs.get(Langfuse.OBSERVATION_COST_DETAILS)) or {}
    # Langfuse's cost keys follow its usage keys: "input…" and "cache…" are input, "output…" output.
    langfuse_input = [v for k, v in details.items() if k != "total" and "output" not in k]
    langfuse_output = [v for k, v in details.items() if "output" in k]
    parts = {
        "input_cost": (OI.LLM_COST_PROMPT, attrs.get(OI.LLM_COST_PROMPT), langfuse_input),
        "output_cost": (OI.LLM_COST_COMPLETION, attrs.get(OI.LLM_COST_COMPLETION), langfuse_output),
    }
    for kind, (key, value, langfuse_values) in parts.items():
        if value is not None:
            setattr(usage, kind, money(value))
            sources[kind] = key
        elif langfuse_values:
            setattr(usage, kind, sum_money(langfuse_values))
            sources[kind] = Langfuse.OBSERVATION_COST_DETAILS
    for key, value in (
        (OI.LLM_COST_TOTAL, attrs.get(OI.LLM_COST_TOTAL)),
        (GENAI_USAGE_COST, attrs.get(GENAI_USAGE_COST)),
        (Langfuse.OBSERVATION_COST_DETAILS, details.get("total")),
    ):
        if money(value) is not None:
            usage.cost, sources["cost"] = money(value), key
            break
    else:
        if usage.input_cost is not None or usage.output_cost is not None:
            usage.cost = (usage.input_cost or 0) + (usage.output_cost or 0)
            sources["cost"] = sources.get("input_cost") or sources["output_cost"]
    if usage.cost == 0 and not usage.has_tokens:
        # A zero cost on a call that used no tokens is a placeholder (langfuse.openai writes one for a
        # failed call), not a price: the call's cost stays to be priced, or unknown.
        usage.cost = usage.input_cost = usage.output_cost = None


def sum_money(values):
    amounts = [money(v) for v in values]
    return sum((a for a in amounts if a is not None), Decimal(0))


def range_problem(usage, sources):
    """(attribute, reason) for a negative count or cost, or one beyond what the columns hold; else None."""
    for name in USAGE_FIELDS:
        value = getattr(usage, name)
        limit = TOKENS_MAX if name.endswith("tokens") else COST_MAX
        if value is not None and not 0 <= value <= limit:
            return sources.get(name, name), f"{name} must be between 0 and {limit:,}, got {value}"
    return None


def of_llm_call(body):
    """The token kinds of an `llm.call` event body: its own fields, else its `usage` object, else the
    usage inside its `response` (an OpenAI or Anthropic answer as returned)."""
    usage_object = json_object(getattr(body, "usage", None))
    if usage_object is None:
        usage_object = json_object(dig(body.response, "usage")) if isinstance(body.response, dict) else None
    sent = read_usage_object(usage_object) if usage_object is not None else Usage()
    if sent.problem:
        sent = Usage()  # a response's usage out of range is a payload, not a count (`usage` is checked)
    return {
        kind: next((n for n in (getattr(body, kind), getattr(sent, kind)) if n is not None), 0)
        for kind in SPAN_TOKEN_KEYS
    }
