"""What every recorded agent does and says, so the expectations can be written once per fact.

Standard library only: imported by agents running in each client's own venv.

The agent, whatever the client: one conversation of one user, in one trace —
1. the system prompt and the user's question, with a tool offered: the model asks for the tool;
2. the tool runs; the model answers with its result;
3. the user's follow-up, answered as a stream;
4. a call to a model that fails (429), caught.
"""

import os

SESSION_ID = "conv-conformance-1"
USER_ID = "user-conformance-1"
AGENT_NAME = "support-agent"
MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"
FAIL_MODEL = "fail-model"
SYSTEM = "You are a support agent for an online shop. Answer briefly."
QUESTION = "Where is my order A-1?"
FOLLOW_UP = "Can you tell me more?"
TAGS = ["conformance", "support"]
METADATA = {"plan": "pro", "region": "eu"}
TOOL_NAME = "get_order_status"
TOOL_DESCRIPTION = "Look up the shipping status of an order."
TOOL_RESULT = "shipped"

OPENAI_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": TOOL_DESCRIPTION,
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}


def get_order_status(order_id):
    return TOOL_RESULT


def provider_url():
    return os.environ["FAKE_PROVIDER_URL"]


def receiver_url():
    return os.environ["RECEIVER_URL"]
