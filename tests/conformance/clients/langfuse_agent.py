"""The agent for both Langfuse SDK lines (3.x and the latest), using what each offers.

- `@observe` on the agent (its input arrives as {"args": [...], "kwargs": {...}}) and on the tool;
- a hand-made generation (a classifier calling the Anthropic endpoint directly) with usage and
  cost details, the way a user reports a call that no integration sees;
- `langfuse.openai` as the drop-in OpenAI client for the conversation itself;
- session, user, tags and metadata: `propagate_attributes` where the SDK has it, and on 3.x also
  `update_current_trace(input=...)`, the call 3.x users make to name the trace's input.
"""

import contextlib
import json
import urllib.request

from langfuse import get_client, observe

from tests.conformance.clients import scenario
from tests.conformance.clients.openai_conversation import converse

try:
    from langfuse import propagate_attributes
except ImportError:  # older 3.x
    propagate_attributes = None

# Per-token prices the classifier reports with its usage (USD), as a user with a contract would.
CLASSIFIER_PRICES = {"input": 0.8e-6, "output": 4e-6}


@observe(name="classify-intent", as_type="generation")
def classify(question):
    langfuse = get_client()
    body = {
        "model": scenario.ANTHROPIC_MODEL,
        "max_tokens": 64,
        "system": "Classify the customer's intent in one word.",
        "messages": [{"role": "user", "content": question}],
    }
    request = urllib.request.Request(  # noqa: S310 - the local fake provider
        scenario.provider_url() + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "x-api-key": "sk-ant-conformance",
            "anthropic-version": "2023-06-01",
        },
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 - the local fake provider
        answer = json.load(response)
    usage = answer["usage"]
    cost = {
        "input": usage["input_tokens"] * CLASSIFIER_PRICES["input"],
        "output": usage["output_tokens"] * CLASSIFIER_PRICES["output"],
    }
    langfuse.update_current_generation(
        model=answer["model"],
        input=[{"role": "system", "content": body["system"]}, *body["messages"]],
        output=answer["content"][0]["text"],
        usage_details={"input": usage["input_tokens"], "output": usage["output_tokens"]},
        cost_details={**cost, "total": cost["input"] + cost["output"]},
    )
    return answer["content"][0]["text"]


@observe(name=scenario.TOOL_NAME, as_type="tool")
def run_tool(**arguments):
    return scenario.get_order_status(**arguments)


@contextlib.contextmanager
def tool_span(name, call_id, arguments):
    # the conversation runs the tool itself; here it is traced through the @observe'd function
    run_tool(**arguments)
    yield


@observe(name=scenario.AGENT_NAME)
def support_agent(question):
    langfuse = get_client()
    if hasattr(langfuse, "update_current_trace"):
        langfuse.update_current_trace(
            name=scenario.AGENT_NAME,
            input=question,
            session_id=scenario.SESSION_ID,
            user_id=scenario.USER_ID,
            tags=scenario.TAGS,
            metadata=scenario.METADATA,
        )
    classify(question)
    from langfuse.openai import openai

    client = openai.OpenAI(base_url=scenario.provider_url() + "/v1")
    messages = converse(client, tool_span)
    return messages[-1]["content"]


def main():
    attributes = (
        propagate_attributes(
            session_id=scenario.SESSION_ID,
            user_id=scenario.USER_ID,
            tags=scenario.TAGS,
            metadata=scenario.METADATA,
        )
        if propagate_attributes
        else contextlib.nullcontext()
    )
    with attributes:
        support_agent(scenario.QUESTION)
    get_client().flush()
    get_client().shutdown()
