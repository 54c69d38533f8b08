"""Model calls that look like the real ones: list prices, token counts, speeds and finish reasons."""

from dataclasses import dataclass

MILLION = 1_000_000


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    input_price: float  # dollars per million prompt tokens
    output_price: float
    cached_price: float
    ttft_ms: tuple[int, int]
    ms_per_token: tuple[int, int]
    stop: str  # the provider's finish reason for a plain answer
    tool_use: str  # … and for an answer that calls tools
    call_prefix: str


MODELS = {
    "gpt-4o": ModelSpec("openai", 2.50, 10.00, 1.25, (250, 700), (9, 16), "stop", "tool_calls", "chatcmpl-"),
    "gpt-4o-mini": ModelSpec(
        "openai", 0.15, 0.60, 0.075, (180, 450), (5, 10), "stop", "tool_calls", "chatcmpl-"
    ),
    "claude-sonnet-4-20250514": ModelSpec(
        "anthropic", 3.00, 15.00, 0.30, (400, 1100), (12, 20), "end_turn", "tool_use", "msg_01"
    ),
}
GPT_4O, GPT_4O_MINI, CLAUDE_SONNET_4 = MODELS


def cost(spec, prompt_tokens, completion_tokens, cached_tokens):
    uncached = prompt_tokens - cached_tokens
    dollars = uncached * spec.input_price + cached_tokens * spec.cached_price
    dollars += completion_tokens * spec.output_price
    return round(dollars / MILLION, 8)


def llm_call(
    rng,
    ids,
    model,
    *,
    step_id,
    messages,
    reply,
    prompt_tokens,
    completion_tokens,
    cached_tokens=0,
    tool_calls=None,
    finish_reason=None,
    error=None,
    temperature=0.2,
):
    """(body of an `llm.call` event, latency in ms).

    A failed call (`error`) answers fast and uses no tokens, as rate limits and overloads do.
    """
    spec = MODELS[model]
    ttft = rng.randint(*spec.ttft_ms)
    body = {
        "step_id": step_id,
        "call_id": spec.call_prefix + ids.hex(20),
        "model": model,
        "provider": spec.provider,
        "request": {"model": model, "messages": messages, "temperature": temperature},
    }
    if error:
        latency = ttft + rng.randint(40, 400)
        body.update(
            prompt_tokens=0,
            completion_tokens=0,
            latency_ms=latency,
            cost=0.0,
            status="error",
            error=error,
        )
        return body, latency
    latency = ttft + completion_tokens * rng.randint(*spec.ms_per_token)
    response = {"content": reply}
    if tool_calls:
        response["tool_calls"] = tool_calls
    body.update(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        latency_ms=latency,
        ttft_ms=ttft,
        cost=cost(spec, prompt_tokens, completion_tokens, cached_tokens),
        finish_reason=finish_reason or (spec.tool_use if tool_calls else spec.stop),
        status="ok",
        response=response,
    )
    return body, latency


def rate_limited(model):
    if MODELS[model].provider == "anthropic":
        return {"type": "overloaded_error", "status": 529, "message": "Overloaded"}
    return {
        "type": "rate_limit_error",
        "status": 429,
        "message": f"Rate limit reached for {model} on tokens per min (TPM). Please try again in 2s.",
    }
