"""The agent for the three opentelemetry-instrumentation-openai-v2 modes (chosen by environment).

The instrumentation makes the model-call spans; the agent span and the tool span are made by hand
per the GenAI semantic conventions, as its docs suggest, with the session and user on the root.
"""

import contextlib

import openai
from opentelemetry import trace
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

from tests.conformance.clients import otel_setup, scenario
from tests.conformance.clients.openai_conversation import converse


def main(logs):
    shutdown = otel_setup.install(scenario.AGENT_NAME, logs=logs)
    OpenAIInstrumentor().instrument()
    tracer = trace.get_tracer("conformance.agent")

    @contextlib.contextmanager
    def tool_span(name, call_id, arguments):
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
        }
        with tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes):
            yield

    root = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": scenario.AGENT_NAME,
        "gen_ai.conversation.id": scenario.SESSION_ID,
        "user.id": scenario.USER_ID,
    }
    with tracer.start_as_current_span(f"invoke_agent {scenario.AGENT_NAME}", attributes=root):
        client = openai.OpenAI(base_url=scenario.provider_url() + "/v1")
        converse(client, tool_span)
    shutdown()
