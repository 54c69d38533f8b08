"""The graph of a run: inferred from its tasks for runs shaped like the demo workflows, or declared."""

from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from tests import workflows
from tests.factories import make_workspace
from traces.graphs import across_runs
from traces.graphs.inference import STEP_FIELDS, Step, aggregated, declared, expanded
from traces.models import Run, Task


def steps_of(run_id):
    rows = Task.objects.filter(run__run_id=run_id).order_by("sequence", "id").values_list(*STEP_FIELDS)
    return [Step(*row) for row in rows]


def edge_set(graph):
    return {(e.source, e.target): e.count for e in graph.edges}


class DemoWorkflowGraphTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        workflows.ingest(cls.workspace, workflows.support_concierge("support-1", refund_fails=True))
        workflows.ingest(cls.workspace, workflows.order_validation("order-1", items=3))
        workflows.ingest(cls.workspace, workflows.order_validation("order-paused", approve=None))
        workflows.ingest(cls.workspace, workflows.document_analysis("doc-1", chunks=4))

    def test_the_support_concierge_loops_between_planning_and_its_tools(self):
        graph = aggregated(steps_of("support-1"))
        self.assertEqual(
            list(graph.nodes),
            ["classify_intent", "concierge", "plan", "lookup_order", "issue_refund", "respond"],
        )
        plan = graph.nodes["plan"]
        self.assertEqual((plan.visits, plan.type, plan.status), (3, "llm", "ok"))
        self.assertEqual(graph.nodes["issue_refund"].status, "failed")
        self.assertEqual(graph.nodes["issue_refund"].type, "tool")
        self.assertEqual(
            edge_set(graph),
            {
                ("classify_intent", "concierge"): 1,
                ("concierge", "plan"): 1,
                ("plan", "lookup_order"): 1,
                ("lookup_order", "plan"): 1,
                ("plan", "issue_refund"): 1,
                ("issue_refund", "plan"): 1,
                # The agent ends with its last plan, and the run goes on from there.
                ("plan", "respond"): 1,
            },
        )

    def test_the_expanded_support_concierge_is_one_chain_of_tasks(self):
        steps = steps_of("support-1")
        graph = expanded(steps)
        self.assertEqual(len(graph.nodes), len(steps))
        names = {s.step_id: s.label for s in steps}
        self.assertEqual(
            [(names[e.source], names[e.target]) for e in graph.edges],
            [
                ("classify_intent", "concierge"),
                ("plan", "respond"),  # the agent hands over from its last plan
                ("concierge", "plan"),
                ("plan", "lookup_order"),
                ("lookup_order", "plan"),
                ("plan", "issue_refund"),
                ("issue_refund", "plan"),
            ],
        )

    def test_the_order_workflow_fans_out_and_joins_after_foreach_and_parallel(self):
        graph = aggregated(steps_of("order-1"))
        self.assertEqual(graph.nodes["reserve_item"].visits, 3)
        self.assertEqual(graph.nodes["check_stock"].type, "condition")
        self.assertEqual(graph.nodes["route_by_region"].type, "switch")
        self.assertEqual(graph.nodes["manager_approval"].type, "gate")
        self.assertEqual(graph.nodes["manager_approval"].status, "approved")
        self.assertEqual(
            edge_set(graph),
            {
                ("validate_order", "check_stock"): 1,
                ("check_stock", "route_by_region"): 1,
                ("route_by_region", "eu_fulfilment"): 1,
                ("eu_fulfilment", "reserve_items"): 1,
                ("reserve_items", "reserve_item"): 3,
                ("reserve_item", "payment_and_notify"): 3,
                ("payment_and_notify", "charge_payment"): 1,
                ("payment_and_notify", "notify_warehouse"): 1,
                ("charge_payment", "manager_approval"): 1,
                ("notify_warehouse", "manager_approval"): 1,
                ("manager_approval", "ship_order"): 1,
            },
        )

    def test_expanded_foreach_items_are_side_by_side_branches(self):
        steps = steps_of("order-1")
        graph = expanded(steps)
        items = [s.step_id for s in steps if s.name == "reserve_item"]
        loop = next(s.step_id for s in steps if s.name == "reserve_items")
        fork = next(s.step_id for s in steps if s.name == "payment_and_notify")
        edges = edge_set(graph)
        for item in items:
            self.assertIn((loop, item), edges)
            self.assertIn((item, fork), edges)
        self.assertFalse(any((a, b) in edges for a in items for b in items))

    def test_the_document_pipeline_summarises_chunks_then_chains_its_llm_calls(self):
        graph = aggregated(steps_of("doc-1"))
        self.assertEqual(graph.nodes["summarize_chunk"].visits, 4)
        llm = [n.name for n in graph.nodes.values() if n.type == "llm"]
        self.assertEqual(
            llm,
            ["summarize_chunk", "combine_summaries", "classify_document", "extract_entities", "write_report"],
        )
        self.assertEqual(edge_set(graph)[("summarize_chunk", "combine_summaries")], 4)
        self.assertEqual(graph.nodes["summarize_chunk"].tokens, 4 * 1260)

    def test_the_declared_order_workflow_shows_what_the_run_reached_and_took(self):
        run = Run.objects.get(run_id="order-1")
        graph = declared(run.graph, steps_of("order-1"), trace=run.trace, run_status=run.status)
        self.assertEqual(len(graph.nodes), 11)
        unreached = {k for k, n in graph.nodes.items() if not n.reached}
        self.assertEqual(unreached, {"backorder", "us_fulfilment", "cancel_order"})
        taken = {(e.source, e.target) for e in graph.edges if e.taken}
        self.assertEqual(
            taken,
            {
                ("validate_order", "check_stock"),
                ("check_stock", "route_by_region"),
                ("route_by_region", "eu_fulfilment"),
                ("eu_fulfilment", "reserve_items"),
                ("reserve_items", "payment_and_notify"),
                ("payment_and_notify", "manager_approval"),
                ("manager_approval", "ship_order"),
            },
        )
        labels = {(e.source, e.target): e.label for e in graph.edges}
        self.assertEqual(labels[("check_stock", "backorder")], "out of stock")
        # The tasks inside foreach and parallel are not declared nodes, and not top-level either.
        self.assertEqual(graph.outside, 0)

    def test_a_run_waiting_at_its_gate_shows_the_gate_waiting_and_the_rest_unreached(self):
        run = Run.objects.get(run_id="order-paused")
        graph = declared(run.graph, steps_of("order-paused"), trace=run.trace, run_status=run.status)
        self.assertEqual(graph.nodes["manager_approval"].status, "waiting")
        self.assertFalse(graph.nodes["ship_order"].reached)

    def test_the_workflow_graph_across_runs_counts_the_same_edges_as_each_run(self):
        """The SQL that aggregates over runs follows the same rules as the Python for one run."""
        now = timezone.now()
        for run_id in ("support-1", "doc-1"):
            Run.objects.filter(run_id=run_id).update(workflow=f"wf-{run_id}")
            scope = across_runs.runs_in_period(
                self.workspace, f"wf-{run_id}", now - timedelta(days=3650), now
            )
            flows = across_runs.edge_runs(scope)["flow"]
            self.assertEqual(set(flows), set(edge_set(aggregated(steps_of(run_id)))))
            self.assertTrue(all(runs == 1 for runs in flows.values()))


class DeclaredGraphToleranceTest(TestCase):
    def test_a_malformed_declared_graph_keeps_what_it_can(self):
        definition = {
            "nodes": [{"id": "a"}, {"id": "a"}, {"name": "no id"}, "junk", {"id": "b", "type": 7}],
            "edges": [{"source": "a", "target": "b"}, {"source": "a", "target": "zzz"}, None],
        }
        graph = declared(definition, [], trace=["a"], run_status="running")
        self.assertEqual(list(graph.nodes), ["a", "b"])
        self.assertEqual(graph.nodes["a"].status, "running")  # the last node of the trace, as the run stands
        self.assertEqual(graph.nodes["b"].type, "function")
        self.assertEqual([(e.source, e.target) for e in graph.edges], [("a", "b")])

    def test_tasks_whose_parents_go_round_in_a_circle_are_still_drawn(self):
        steps = [
            Step(1, "x", 2, "x", "function", "ok", 1),
            Step(2, "y", 1, "y", "function", "ok", 2),
            Step(3, "z", None, "z", "function", "ok", 3),
        ]
        graph = expanded(steps)
        self.assertEqual(set(graph.nodes), {"x", "y", "z"})

    def test_a_top_level_task_around_the_declared_nodes_is_not_outside_the_workflow(self):
        steps = [
            Step(1, "root", None, "support-agent", "agent", "ok", 1),
            Step(2, "graph", 1, "LangGraph", "function", "ok", 2),
            Step(3, "a", 2, "a", "function", "ok", 3),
            Step(4, "audit", None, "audit", "function", "ok", 4),
        ]
        graph = declared({"nodes": [{"id": "a"}]}, steps)
        self.assertEqual(graph.outside, 1)  # audit, not the agent that ran the graph
