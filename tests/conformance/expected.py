"""What a user expects to find after each client's recording is ingested, written from what the
agent did (clients/scenario.py, the fake provider's fixed usage) and the ingest rules of issue 17 —
not from what Backoffice stores today.

Per client:
- `run`: status, session, user, tags, metadata (a subset) as the run must carry them;
- `turns`: the conversation, in order, as (role, a piece of its text or of its JSON);
- `tasks`: (name, type, parent name or None, status, a piece of the error) in any order; type None
  where the client states none (a plain span);
- `model_calls`: model, prompt/completion/cached tokens, status, a piece of the error, whether a
  TTFT is recorded, and cost ("priced": above zero from the price table, "unknown", or exact USD,
  with `cost_split` [input, output] where the client reports both);
- `graph` (LangGraph only): the run's DAG as the Graph tab first shows it, by node name;
- `arrives`: the README table's cells — what the client sends for each column.
A client that does not send something (no TTFT, no tags) says so here: it is expected absent.
"""

from tests.conformance.clients import scenario as s

FACTS = (
    "conversation",
    "tool calls",
    "streaming / TTFT",
    "failed call",
    "session / user",
    "tags / metadata",
    "cost",
    "graph",
)

# Every agent catches its failed call, so every run completes.
SESSION = {"status": "completed", "session": s.SESSION_ID, "user": s.USER_ID}
TAGGED = {**SESSION, "tags": s.TAGS, "metadata": s.METADATA}

# The OpenAI conversation of clients/openai_conversation.py, turn by turn.
TURNS = [
    ("system", s.SYSTEM),
    ("user", s.QUESTION),
    ("assistant", s.TOOL_NAME),  # the model's tool call
    ("tool", s.TOOL_RESULT),
    ("assistant", "Order A-1 has shipped"),
    ("user", s.FOLLOW_UP),
    ("assistant", "Here is a streamed answer"),
]


# Every client's failed call carries the provider's message somewhere: status, exception or body.
FAILURE = "Rate limit reached"


def call(model=s.MODEL, prompt=0, completion=0, cached=0, finish="", status="ok", ttft=False, cost="priced"):
    """One model call. Every client sends the call's duration, so each has a latency."""
    return {
        "model": model,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
        "finish_reason": finish,
        "status": status,
        "error": FAILURE if status == "error" else None,
        "latency": True,
        "ttft": ttft,
        "cost": cost,
    }


def openai_calls(cached=True, ttft=False, finishes=("tool_calls", "stop", "stop")):
    """The four calls of the OpenAI conversation (fake provider usage: 60/15/10, 90/20/20, 30/8/0)."""
    return [
        call(prompt=60, completion=15, cached=10 if cached else 0, finish=finishes[0]),
        call(prompt=90, completion=20, cached=20 if cached else 0, finish=finishes[1]),
        call(prompt=30, completion=8, ttft=ttft, finish=finishes[2]),
        call(model=s.FAIL_MODEL, status="error", cost="unknown"),
    ]


def task(name, type, parent, status="ok"):
    return [name, type, parent, status, FAILURE if status == "failed" else None]


def genai_tasks():
    root = f"invoke_agent {s.AGENT_NAME}"
    return [
        task(root, "agent", None),
        task("chat gpt-4o-mini", "llm", root),
        task("chat gpt-4o-mini", "llm", root),
        task("chat gpt-4o-mini", "llm", root),
        task(f"execute_tool {s.TOOL_NAME}", "tool", root),
        task("chat fail-model", "llm", root, "failed"),
    ]


OTEL_OPENAI_V2 = {
    "run": SESSION,
    "turns": TURNS,
    "tasks": genai_tasks(),
    # openai-v2 records neither cached tokens nor the first chunk's time
    "model_calls": openai_calls(cached=False),
    "arrives": {
        "conversation": "yes",
        "tool calls": "yes",
        "streaming / TTFT": "stream, no TTFT",
        "failed call": "yes",
        "session / user": "by hand (root span)",
        "tags / metadata": "no",
        "cost": "tokens only",
        "graph": "no",
    },
}

EXPECTED = {
    "otel-openai-v2-spans": OTEL_OPENAI_V2,
    # the same rows, the messages coming as one log record per message (v1.30 events)
    "otel-openai-v2-events": {
        **OTEL_OPENAI_V2,
        "arrives": {**OTEL_OPENAI_V2["arrives"], "conversation": "yes (logs)"},
    },
    # the same rows, the messages coming in gen_ai.client.inference.operation.details log records
    "otel-openai-v2-logs": {
        **OTEL_OPENAI_V2,
        "arrives": {**OTEL_OPENAI_V2["arrives"], "conversation": "yes (logs)"},
    },
    "openinference-openai": {
        "run": TAGGED,
        "turns": TURNS,
        "tasks": [
            task(s.AGENT_NAME, "agent", None),
            task("ChatCompletion", "llm", s.AGENT_NAME),
            task("ChatCompletion", "llm", s.AGENT_NAME),
            task("ChatCompletion", "llm", s.AGENT_NAME),
            task(s.TOOL_NAME, "tool", s.AGENT_NAME),
            task("ChatCompletion", "llm", s.AGENT_NAME, "failed"),
        ],
        "model_calls": openai_calls(ttft=True),
        "arrives": {
            "conversation": "yes",
            "tool calls": "yes",
            "streaming / TTFT": "yes (first-token event)",
            "failed call": "yes",
            "session / user": "yes",
            "tags / metadata": "yes",
            "cost": "tokens only",
            "graph": "no",
        },
    },
    "openinference-langgraph": {
        "run": TAGGED,
        # the classifier's messages stay in its task: the conversation is the agent node's exchange
        "turns": [
            ("system", s.SYSTEM),
            ("user", s.QUESTION),
            ("assistant", s.TOOL_NAME),
            ("tool", s.TOOL_RESULT),
            ("assistant", "Order A-1 has shipped"),
            ("user", s.FOLLOW_UP),  # asked of the failing model: the question stays, no answer
        ],
        "tasks": [
            task(s.AGENT_NAME, "agent", None),
            task("LangGraph", "function", s.AGENT_NAME),
            task("classify", "function", "LangGraph"),
            task("ChatOpenAI", "llm", "classify"),
            task("agent", "agent", "LangGraph"),  # OpenInference marks the node AGENT
            task("ChatOpenAI", "llm", "agent"),
            task("tools_condition", "function", "agent"),
            task("tools", "function", "LangGraph"),
            task(s.TOOL_NAME, "tool", "tools"),
            task("agent", "agent", "LangGraph"),
            task("ChatOpenAI", "llm", "agent"),
            task("tools_condition", "function", "agent"),
            task("ChatOpenAI", "llm", s.AGENT_NAME, "failed"),
        ],
        # classifier (40/12, plain), then the agent node's two streamed calls (no first-token event)
        "model_calls": [
            call(prompt=40, completion=12, finish="stop"),
            call(prompt=60, completion=15, cached=10, finish="tool_calls"),
            call(prompt=90, completion=20, cached=20, finish="stop"),
            call(model=s.FAIL_MODEL, status="error", cost="unknown"),
        ],
        "graph": {
            "nodes": ["agent", "classify", "tools"],
            "edges": [["agent", "tools"], ["classify", "agent"], ["tools", "agent"]],
        },
        "arrives": {
            "conversation": "yes",
            "tool calls": "yes",
            "streaming / TTFT": "stream, no TTFT",
            "failed call": "yes",
            "session / user": "yes",
            "tags / metadata": "yes",
            "cost": "tokens only",
            "graph": "yes (langgraph_node metadata)",
        },
    },
    "traceloop": {
        "run": SESSION | {"metadata": s.METADATA},
        "turns": TURNS,
        "tasks": [
            task(f"{s.AGENT_NAME}.workflow", "function", None),
            task("anthropic.chat", "llm", f"{s.AGENT_NAME}.workflow"),
            task("anthropic.messages.create", "llm", f"{s.AGENT_NAME}.workflow"),
            task("openai.chat", "llm", f"{s.AGENT_NAME}.workflow"),
            task(f"{s.TOOL_NAME}.tool", "tool", f"{s.AGENT_NAME}.workflow"),
            task("openai.chat", "llm", f"{s.AGENT_NAME}.workflow"),
            task("openai.chat", "llm", f"{s.AGENT_NAME}.workflow"),
            task("openai.chat", "llm", f"{s.AGENT_NAME}.workflow", "failed"),
        ],
        # the Anthropic classifier arrives as two spans (anthropic.chat and anthropic.messages.create)
        # with the same usage: it is one call. The streamed call's chunks are span events, not tasks.
        # A workflow span is a chain of steps (function); the tool span is a tool.
        # OpenLLMetry sends its own finish reasons: end_turn as "stop", tool_calls as "tool_call".
        # The streamed call's chunk events are timed: the first one is when the first token came (the
        # recording's openai.chat span with gen_ai.is_streaming has seven, the first after its start)
        "model_calls": [
            call(model=s.ANTHROPIC_MODEL, prompt=40, completion=12, finish="stop"),
            *openai_calls(ttft=True, finishes=("tool_call", "stop", "stop")),
        ],
        "arrives": {
            "conversation": "yes",
            "tool calls": "yes",
            "streaming / TTFT": "yes (first chunk event)",
            "failed call": "yes",
            "session / user": "yes (association properties)",
            "tags / metadata": "metadata only",
            "cost": "tokens only",
            "graph": "no",
        },
    },
    "otel-js": {
        "run": SESSION,
        "turns": TURNS,
        "tasks": genai_tasks(),
        "model_calls": openai_calls(ttft=True),
        "arrives": {
            "conversation": "yes",
            "tool calls": "yes",
            "streaming / TTFT": "yes (time_to_first_chunk)",
            "failed call": "yes",
            "session / user": "by hand (root span)",
            "tags / metadata": "no",
            "cost": "tokens only",
            "graph": "no",
        },
    },
    "backoffice-client": {
        "run": TAGGED,
        "turns": [
            ("system", s.SYSTEM),
            ("user", s.QUESTION),
            ("assistant", "Order A-1 has shipped"),
            ("user", s.FOLLOW_UP),
            ("assistant", "Here is a streamed answer"),
        ],
        "tasks": [
            task(s.AGENT_NAME, "agent", None),
            task("chat gpt-4o-mini", "llm", s.AGENT_NAME),
            task(s.TOOL_NAME, "tool", s.AGENT_NAME),
            task("chat gpt-4o-mini", "llm", s.AGENT_NAME),
            task("chat gpt-4o-mini", "llm", s.AGENT_NAME),
            task("chat fail-model", "llm", s.AGENT_NAME, "failed"),
        ],
        "model_calls": openai_calls(ttft=True),
        "arrives": {
            "conversation": "yes (as the agent reports it)",
            "tool calls": "yes",
            "streaming / TTFT": "yes (ttft_ms)",
            "failed call": "yes",
            "session / user": "yes",
            "tags / metadata": "yes",
            "cost": "tokens only",
            "graph": "no (run(graph=) can)",
        },
    },
}

LANGFUSE = {
    "run": TAGGED,
    # @observe wraps the agent's input as {"args": [question]}: the user's turn is the question
    "turns": TURNS,
    "tasks": [
        task(s.AGENT_NAME, None, None),  # an @observe span: Langfuse says "span", no more
        task("classify-intent", "llm", s.AGENT_NAME),
        task("OpenAI-generation", "llm", s.AGENT_NAME),
        task(s.TOOL_NAME, "tool", s.AGENT_NAME),
        task("OpenAI-generation", "llm", s.AGENT_NAME),
        task("OpenAI-generation", "llm", s.AGENT_NAME),
        task("OpenAI-generation", "llm", s.AGENT_NAME, "failed"),
    ],
    "model_calls": [
        # the classifier reports its own cost: input 40 x 0.8e-6, output 12 x 4e-6, both kept
        call(model=s.ANTHROPIC_MODEL, prompt=40, completion=12, cost="0.00008")
        | {"cost_split": ["0.000032", "0.000048"]},
        # langfuse.openai sends the finish reason of a streamed call only (in its metadata)
        *openai_calls(ttft=True, finishes=("", "", "stop")),
    ],
    "arrives": {
        "conversation": "yes",
        "tool calls": "yes",
        "streaming / TTFT": "yes (completion start time)",
        "failed call": "yes",
        "session / user": "yes",
        "tags / metadata": "yes",
        "cost": "yes (cost details)",
        "graph": "no",
    },
}
EXPECTED["langfuse-latest"] = LANGFUSE
EXPECTED["langfuse-3"] = LANGFUSE

# What Backoffice does not yet store as expected, per client: a row section ("turns", "run", "graph",
# "model_calls", "refused") or one field of it ("model_calls.cost"), with what a user misses. The suite
# compares everything else, and fails when a gap closes so that it is taken off this list; the README
# table shows the gaps beside what each client sends.
GAPS = {}
