// The OpenTelemetry JS SDK with GenAI spans made by hand per the semantic conventions (no
// maintained OpenAI instrumentation for Node follows them yet): the same small agent as the
// Python clients, calling the fake provider with fetch, exported with the OTLP/HTTP protobuf exporter.
import { SpanStatusCode, context, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import * as A from "@opentelemetry/semantic-conventions/incubating";

const S = {
  session: "conv-conformance-1",
  user: "user-conformance-1",
  agent: "support-agent",
  model: "gpt-4o-mini",
  failModel: "fail-model",
  system: "You are a support agent for an online shop. Answer briefly.",
  question: "Where is my order A-1?",
  followUp: "Can you tell me more?",
  toolName: "get_order_status",
};
const TOOL = {
  type: "function",
  function: {
    name: S.toolName,
    description: "Look up the shipping status of an order.",
    parameters: { type: "object", properties: { order_id: { type: "string" } }, required: ["order_id"] },
  },
};
const PROVIDER = process.env.FAKE_PROVIDER_URL;

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": S.agent }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
provider.register();
const tracer = trace.getTracer("conformance.agent");

// GenAI message parts: what gen_ai.input.messages / gen_ai.output.messages carry.
function parts(message) {
  if (message.role === "tool") {
    return [{ type: "tool_call_response", id: message.tool_call_id, response: message.content }];
  }
  const out = message.content ? [{ type: "text", content: message.content }] : [];
  for (const call of message.tool_calls ?? []) {
    out.push({ type: "tool_call", id: call.id, name: call.function.name, arguments: JSON.parse(call.function.arguments) });
  }
  return out;
}
const asGenAI = (messages) => JSON.stringify(messages.filter((m) => m.role !== "system").map((m) => ({ role: m.role, parts: parts(m) })));

async function chat(messages, { model = S.model, tools, stream = false } = {}) {
  return tracer.startActiveSpan(`chat ${model}`, { kind: 2 }, async (span) => {
    span.setAttributes({
      [A.ATTR_GEN_AI_OPERATION_NAME]: "chat",
      [A.ATTR_GEN_AI_PROVIDER_NAME]: "openai",
      [A.ATTR_GEN_AI_REQUEST_MODEL]: model,
      [A.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS]: JSON.stringify([{ type: "text", content: S.system }]),
      [A.ATTR_GEN_AI_INPUT_MESSAGES]: asGenAI(messages),
    });
    const started = performance.now();
    try {
      const body = { model, messages, ...(tools ? { tools } : {}), ...(stream ? { stream, stream_options: { include_usage: true } } : {}) };
      const response = await fetch(`${PROVIDER}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-conformance" },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        const error = (await response.json()).error;
        span.setAttribute(A.ATTR_ERROR_TYPE ?? "error.type", error.type);
        span.recordException({ name: "RateLimitError", message: error.message });
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
        throw new Error(error.message);
      }
      let message, usage, id, finish;
      if (stream) {
        let text = "";
        let first;
        const lines = (await response.text()).split("\n").filter((l) => l.startsWith("data: ") && l !== "data: [DONE]");
        for (const line of lines) {
          const chunk = JSON.parse(line.slice(6));
          id = chunk.id;
          usage = chunk.usage ?? usage;
          for (const choice of chunk.choices) {
            if (choice.delta.content && first === undefined) first = performance.now();
            text += choice.delta.content ?? "";
            finish = choice.finish_reason ?? finish;
          }
        }
        message = { role: "assistant", content: text };
        span.setAttribute(A.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, (first - started) / 1000);
      } else {
        const answer = await response.json();
        ({ id, usage } = answer);
        message = answer.choices[0].message;
        finish = answer.choices[0].finish_reason;
      }
      span.setAttributes({
        [A.ATTR_GEN_AI_RESPONSE_ID]: id,
        [A.ATTR_GEN_AI_RESPONSE_MODEL]: model,
        [A.ATTR_GEN_AI_RESPONSE_FINISH_REASONS]: [finish],
        [A.ATTR_GEN_AI_USAGE_INPUT_TOKENS]: usage.prompt_tokens,
        [A.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: usage.completion_tokens,
        [A.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS]: usage.prompt_tokens_details.cached_tokens,
        [A.ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS]: usage.completion_tokens_details.reasoning_tokens,
        [A.ATTR_GEN_AI_OUTPUT_MESSAGES]: JSON.stringify([{ role: "assistant", parts: parts(message), finish_reason: finish }]),
      });
      return message;
    } finally {
      span.end();
    }
  });
}

function runTool(call) {
  return tracer.startActiveSpan(`execute_tool ${call.function.name}`, (span) => {
    span.setAttributes({
      [A.ATTR_GEN_AI_OPERATION_NAME]: "execute_tool",
      [A.ATTR_GEN_AI_TOOL_NAME]: call.function.name,
      [A.ATTR_GEN_AI_TOOL_CALL_ID]: call.id,
      [A.ATTR_GEN_AI_TOOL_TYPE]: "function",
      [A.ATTR_GEN_AI_TOOL_CALL_ARGUMENTS]: call.function.arguments,
      [A.ATTR_GEN_AI_TOOL_CALL_RESULT]: "shipped",
    });
    span.end();
    return "shipped";
  });
}

await tracer.startActiveSpan(`invoke_agent ${S.agent}`, async (root) => {
  root.setAttributes({
    [A.ATTR_GEN_AI_OPERATION_NAME]: "invoke_agent",
    [A.ATTR_GEN_AI_AGENT_NAME]: S.agent,
    [A.ATTR_GEN_AI_CONVERSATION_ID]: S.session,
    "user.id": S.user,
  });
  const messages = [{ role: "system", content: S.system }, { role: "user", content: S.question }];
  const asked = await chat(messages, { tools: [TOOL] });
  messages.push(asked);
  const call = asked.tool_calls[0];
  messages.push({ role: "tool", tool_call_id: call.id, content: runTool(call) });
  messages.push(await chat(messages, { tools: [TOOL] }));
  messages.push({ role: "user", content: S.followUp });
  messages.push(await chat(messages, { stream: true }));
  try {
    await chat(messages, { model: S.failModel });
  } catch {
    // the failed call is part of the scenario
  }
  root.end();
});
await provider.shutdown();
