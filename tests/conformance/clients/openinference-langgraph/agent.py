"""openinference-instrumentation-langchain around a small LangGraph graph with langchain-openai.

The graph has three nodes and one tool: `classify` (an internal model call), `agent` (the model,
streamed, with the tool bound) and `tools` (a ToolNode running `get_order_status`); `agent`
loops through `tools` until the model answers. Around it, a hand-made AGENT span keeps the graph
run and a failed model call (caught) in one trace; the session and user come from
OpenInference's `using_attributes` (with the tags: the instrumentation does not export the run
config's tags), the metadata from the LangChain run config.
"""

import contextlib
import operator
from typing import Annotated, TypedDict

import openai
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from openinference.instrumentation import using_attributes
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry import trace

from tests.conformance.clients import otel_setup, scenario


class State(TypedDict):
    messages: Annotated[list[AnyMessage], operator.add]
    intent: str


@tool(scenario.TOOL_NAME, description=scenario.TOOL_DESCRIPTION)
def get_order_status(order_id: str) -> str:
    return scenario.get_order_status(order_id)


def build_graph(base_url):
    classifier = ChatOpenAI(model=scenario.MODEL, base_url=base_url, max_retries=0)
    model = ChatOpenAI(
        model=scenario.MODEL, base_url=base_url, streaming=True, stream_usage=True, max_retries=0
    ).bind_tools([get_order_status])

    def classify(state):
        question = state["messages"][-1].content
        answer = classifier.invoke(
            [SystemMessage("Classify the customer's intent in one word."), HumanMessage(question)]
        )
        return {"intent": answer.content}

    def agent(state):
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(State)
    graph.add_node("classify", classify)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([get_order_status]))
    graph.add_edge(START, "classify")
    graph.add_edge("classify", "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile()


def main():
    shutdown = otel_setup.install(scenario.AGENT_NAME)
    LangChainInstrumentor().instrument()
    tracer = trace.get_tracer("conformance.agent")
    base_url = scenario.provider_url() + "/v1"
    graph = build_graph(base_url)
    with using_attributes(session_id=scenario.SESSION_ID, user_id=scenario.USER_ID, tags=scenario.TAGS):
        attributes = {"openinference.span.kind": "AGENT", "input.value": scenario.QUESTION}
        with tracer.start_as_current_span(scenario.AGENT_NAME, attributes=attributes) as root:
            state = graph.invoke(
                {"messages": [SystemMessage(scenario.SYSTEM), HumanMessage(scenario.QUESTION)], "intent": ""},
                config={"tags": scenario.TAGS, "metadata": scenario.METADATA},
            )
            root.set_attribute("output.value", state["messages"][-1].content)
            with contextlib.suppress(openai.RateLimitError):  # the failed call is part of the scenario
                failing = ChatOpenAI(model=scenario.FAIL_MODEL, base_url=base_url, max_retries=0)
                failing.invoke(scenario.FOLLOW_UP)
    shutdown()


main()
