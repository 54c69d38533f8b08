"""openinference-instrumentation-openai: model calls by the instrumentation, the agent and tool spans
by hand with OpenInference's span kinds, session/user/tags/metadata through `using_attributes`."""

import contextlib
import json

import openai
from openinference.instrumentation import using_attributes
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry import trace

from tests.conformance.clients import otel_setup, scenario
from tests.conformance.clients.openai_conversation import converse


def main():
    shutdown = otel_setup.install(scenario.AGENT_NAME)
    OpenAIInstrumentor().instrument()
    tracer = trace.get_tracer("conformance.agent")

    @contextlib.contextmanager
    def tool_span(name, call_id, arguments):
        attributes = {
            "openinference.span.kind": "TOOL",
            "tool.name": name,
            "tool.description": scenario.TOOL_DESCRIPTION,
            "tool.parameters": json.dumps(scenario.OPENAI_TOOL["function"]["parameters"]),
            "input.value": json.dumps(arguments),
            "input.mime_type": "application/json",
        }
        with tracer.start_as_current_span(name, attributes=attributes) as span:
            yield
            span.set_attribute("output.value", scenario.TOOL_RESULT)

    with using_attributes(
        session_id=scenario.SESSION_ID,
        user_id=scenario.USER_ID,
        metadata=scenario.METADATA,
        tags=scenario.TAGS,
    ):
        attributes = {"openinference.span.kind": "AGENT", "input.value": scenario.QUESTION}
        with tracer.start_as_current_span(scenario.AGENT_NAME, attributes=attributes) as root:
            client = openai.OpenAI(base_url=scenario.provider_url() + "/v1")
            messages = converse(client, tool_span)
            root.set_attribute("output.value", messages[-1]["content"])
    shutdown()


main()
