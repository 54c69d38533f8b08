"""OpenLLMetry (traceloop-sdk): @workflow around the agent, @tool on the tool, the OpenAI and
Anthropic instrumentations it installs, session and user as association properties, and
metadata/tags the way the SDK offers them (association properties too)."""

import contextlib

import anthropic
import openai
from traceloop.sdk import Traceloop
from traceloop.sdk.decorators import tool, workflow

from tests.conformance.clients import scenario
from tests.conformance.clients.openai_conversation import converse


@tool(name=scenario.TOOL_NAME)
def run_tool(order_id):
    return scenario.get_order_status(order_id)


@contextlib.contextmanager
def tool_span(name, call_id, arguments):
    run_tool(**arguments)
    yield


@workflow(name=scenario.AGENT_NAME)
def support_agent(question):
    Traceloop.set_association_properties(
        {"session_id": scenario.SESSION_ID, "user_id": scenario.USER_ID, **scenario.METADATA}
    )
    intent = anthropic.Anthropic(base_url=scenario.provider_url()).messages.create(
        model=scenario.ANTHROPIC_MODEL,
        max_tokens=64,
        system="Classify the customer's intent in one word.",
        messages=[{"role": "user", "content": question}],
    )
    client = openai.OpenAI(base_url=scenario.provider_url() + "/v1")
    messages = converse(client, tool_span)
    return intent.content[0].text, messages[-1]["content"]


def main():
    Traceloop.init(
        app_name=scenario.AGENT_NAME,
        api_endpoint=scenario.receiver_url(),
        disable_batch=True,
        telemetry_enabled=False,
    )
    support_agent(scenario.QUESTION)
    Traceloop.flush() if hasattr(Traceloop, "flush") else None


main()
