"""The DAG of a LangGraph run: its graph's nodes and edges from the langgraph_* metadata of its spans,
and a graph any client may declare on its root span (`backoffice.graph`), drawn first by the DAG tab."""

import json

from django.test import SimpleTestCase

from tests.factories import make_cast
from tests.otel import recording_tracer
from tests.traces.test_otlp_api import OtlpTestCase
from tests.traces.test_run_dag import dag_url
from traces.graphs.langgraph import graph_from_metadata
from traces.graphs.trace_graph import attribute_graph
from traces.models import Run


def visit(node, step, triggers=(), namespace=None):
    metadata = {"langgraph_node": node, "langgraph_step": step, "langgraph_triggers": list(triggers)}
    if namespace:
        metadata["langgraph_checkpoint_ns"] = namespace
    return metadata


def pairs(graph):
    return sorted((edge["source"], edge["target"]) for edge in graph["edges"])


class GraphFromMetadataTest(SimpleTestCase):
    def test_nodes_are_the_node_names_and_edges_go_from_one_step_to_the_next(self):
        graph = graph_from_metadata(
            [
                visit("classify", 1, ["branch:to:classify"]),
                visit("agent", 2, ["branch:to:agent"]),
                visit("agent", 2),  # the model call inside the node says the node's name too
                visit("tools", 3, ["branch:to:tools"]),
                visit("agent", 4, ["branch:to:agent"]),
            ]
        )
        self.assertEqual([node["id"] for node in graph["nodes"]], ["classify", "agent", "tools"])
        self.assertEqual(pairs(graph), [("agent", "tools"), ("classify", "agent"), ("tools", "agent")])

    def test_triggers_that_name_the_writing_node_keep_only_its_edge(self):
        graph = graph_from_metadata(
            [
                visit("fetch", 1),
                visit("check", 1),
                visit("report", 2, ["branch:check:route:report"]),
            ]
        )
        self.assertEqual(pairs(graph), [("check", "report")])

    def test_subgraph_nodes_and_langgraphs_own_nodes_are_not_drawn(self):
        graph = graph_from_metadata(
            [
                visit("__start__", 0),
                visit("plan", 1),
                visit("inner", 1, namespace="plan:1|inner:2"),
                visit("act", "2"),  # association properties send the step as text
            ]
        )
        self.assertEqual([node["id"] for node in graph["nodes"]], ["plan", "act"])
        self.assertEqual(pairs(graph), [("plan", "act")])

    def test_spans_without_graph_metadata_declare_nothing(self):
        self.assertIsNone(graph_from_metadata([{"plan": "pro"}, visit("x", None), visit("", 1)]))

    def test_the_root_attribute_takes_node_names_and_pairs(self):
        graph = attribute_graph(
            json.dumps({"nodes": ["a", {"id": "b", "type": "tool"}], "edges": [["a", "b"]]})
        )
        self.assertEqual(
            graph,
            {"nodes": [{"id": "a"}, {"id": "b", "type": "tool"}], "edges": [{"source": "a", "target": "b"}]},
        )


def langgraph_run(tracer):
    """A LangGraph agent as OpenInference reports it: nodes under the graph's chain span, each span
    with its node's metadata. Returns the root span."""

    def metadata(node, step):
        return json.dumps(
            {"plan": "pro", "ls_integration": "langgraph", **visit(node, step, [f"branch:to:{node}"])}
        )

    with (
        tracer.start_as_current_span(
            "support-agent", attributes={"openinference.span.kind": "AGENT"}
        ) as root,
        tracer.start_as_current_span("LangGraph", attributes={"openinference.span.kind": "CHAIN"}),
    ):
        for node, step in (("classify", 1), ("agent", 2), ("tools", 3), ("agent", 4)):
            attributes = {"openinference.span.kind": "CHAIN", "metadata": metadata(node, step)}
            with tracer.start_as_current_span(node, attributes=attributes):
                llm = {"openinference.span.kind": "LLM", "metadata": metadata(node, step)}
                with tracer.start_as_current_span("ChatOpenAI", attributes=llm):
                    pass
    return root


class LangGraphRunTest(OtlpTestCase):
    def run_of(self, spans):
        self.send(spans)
        return Run.objects.get(workspace=self.workspace)

    def test_a_langgraph_trace_declares_its_graph_and_the_dag_tab_draws_it_first(self):
        tracer, exporter = recording_tracer()
        langgraph_run(tracer)
        run = self.run_of(exporter.get_finished_spans())
        self.assertEqual([node["id"] for node in run.graph["nodes"]], ["classify", "agent", "tools"])
        self.client.force_login(make_cast(self.workspace)["viewer"])
        response = self.client.get(dag_url(self.workspace, run))
        self.assertContains(response, 'aria-current="page">Workflow</a>')
        self.assertContains(response, "3 of 3 steps reached")
        self.assertContains(response, 'data-node="tools"')
        self.assertNotContains(response, 'data-node="ChatOpenAI"')
        self.assertNotContains(response, "not in the declared workflow")  # the root span ran the graph

    def test_a_root_span_declares_a_graph_with_backoffice_graph(self):
        tracer, exporter = recording_tracer()
        declared = {
            "nodes": ["extract", "report", "retry"],
            "edges": [["extract", "report"], ["extract", "retry"]],
        }
        root = {"backoffice.graph": json.dumps(declared)}
        with (
            tracer.start_as_current_span("pipeline", attributes=root),
            tracer.start_as_current_span("extract"),
        ):
            pass
        run = self.run_of(exporter.get_finished_spans())
        self.assertEqual([node["id"] for node in run.graph["nodes"]], ["extract", "report", "retry"])
        self.assertEqual(pairs(run.graph), [("extract", "report"), ("extract", "retry")])

    def test_the_root_attribute_wins_over_langgraph_metadata(self):
        tracer, exporter = recording_tracer()
        root = {"backoffice.graph": '{"nodes": ["only"]}'}
        node = {"metadata": json.dumps(visit("x", 1))}
        with (
            tracer.start_as_current_span("agent", attributes=root),
            tracer.start_as_current_span("n", attributes=node),
        ):
            pass
        run = self.run_of(exporter.get_finished_spans())
        self.assertEqual([node["id"] for node in run.graph["nodes"]], ["only"])

    def test_what_is_not_a_node_or_an_edge_is_left_out_and_the_run_is_stored(self):
        tracer, exporter = recording_tracer()
        declared = {"nodes": [42, "a", {"id": ""}, "b"], "edges": [["a"], ["a", "b"], {"source": "a"}]}
        with tracer.start_as_current_span("agent", attributes={"backoffice.graph": json.dumps(declared)}):
            pass
        run = self.run_of(exporter.get_finished_spans())
        self.assertEqual([node["id"] for node in run.graph["nodes"]], ["a", "b"])
        self.assertEqual(pairs(run.graph), [("a", "b")])

    def test_a_graph_that_is_not_json_is_no_graph(self):
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("agent", attributes={"backoffice.graph": "a -> b"}):
            pass
        self.assertIsNone(self.run_of(exporter.get_finished_spans()).graph)
