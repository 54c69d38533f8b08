import html
import re
from datetime import timedelta
from unittest import mock

from django.test import TestCase
from django.utils import timezone

from tests import events, workflows
from tests.factories import make_cast, make_run, make_task, make_workspace
from traces.graphs import across_runs


def workflow_url(workspace, workflow, query=""):
    return f"/w/{workspace.slug}/workflows/{workflow}/dag/{query}"


def make_pipeline_run(workspace, *, durations, fail=None, started_at=None, workflow="pipeline"):
    """A run of extract → summarize → report; `durations` per step, `fail` names a failed step."""
    run = make_run(workspace, workflow=workflow, started_at=started_at or timezone.now() - timedelta(hours=1))
    for name, ms in zip(("extract", "summarize", "report"), durations, strict=False):
        make_task(run, name=name, duration_ms=ms, status="failed" if name == fail else "ok")
    return run


class WorkflowStatsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        for i in range(1, 21):
            # extract takes 10, 20, … 200 ms; every fourth run fails at summarize and never reports.
            fail = "summarize" if i % 4 == 0 else None
            durations = [10 * i, 100, 50] if not fail else [10 * i, 100]
            make_pipeline_run(cls.workspace, durations=durations, fail=fail)
        make_pipeline_run(cls.workspace, durations=[1, 1, 1], started_at=timezone.now() - timedelta(days=40))
        make_pipeline_run(cls.workspace, durations=[1, 1, 1], workflow="other")

    def graph(self, days=7):
        now = timezone.now()
        return across_runs.workflow_graph(self.workspace, "pipeline", now - timedelta(days=days), now)

    def test_nodes_count_the_runs_that_reached_them_in_the_period(self):
        graph, counted, capped = self.graph()
        self.assertEqual((counted, capped), (20, False))
        self.assertEqual(list(graph.nodes), ["extract", "summarize", "report"])
        self.assertEqual([n.stats["reached"] for n in graph.nodes.values()], [20, 20, 15])

    def test_nodes_tell_their_failure_rate_and_duration_percentiles(self):
        graph, _, _ = self.graph()
        extract, summarize = graph.nodes["extract"], graph.nodes["summarize"]
        self.assertEqual(summarize.stats["failure_rate"], 0.25)
        self.assertEqual(summarize.status, "failed")
        self.assertEqual(extract.status, "ok")
        # Nearest rank over 10, 20, … 200 ms.
        self.assertEqual((extract.stats["p50_ms"], extract.stats["p95_ms"]), (100, 190))

    def test_edges_count_the_runs_that_took_them(self):
        graph, _, _ = self.graph()
        self.assertEqual(
            {(e.source, e.target): e.count for e in graph.edges},
            {("extract", "summarize"): 20, ("summarize", "report"): 15},
        )

    def test_a_longer_period_takes_in_older_runs(self):
        _, counted, _ = self.graph(days=60)
        self.assertEqual(counted, 21)


class WorkflowDagViewTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        # These runs happened in the last hour.
        with mock.patch.object(events, "BASE", timezone.now() - timedelta(minutes=50)):
            for i, approve in enumerate([True, True, False]):
                workflows.ingest(
                    cls.workspace, workflows.order_validation(f"order-{i}", approve=approve, start=i)
                )

    def setUp(self):
        self.client.force_login(self.cast["viewer"])

    def test_it_draws_the_declared_workflow_with_counts_for_a_viewer(self):
        response = self.client.get(workflow_url(self.workspace, "order_validation"))
        self.assertContains(response, "<html")
        self.assertContains(response, "3 runs from")
        self.assertContains(response, 'data-node="backorder"')
        self.assertContains(response, "not reached")
        self.assertContains(response, "approved ×2")
        self.assertContains(response, "rejected")
        self.assertContains(response, "p50")

    def test_the_period_switch_answers_the_graph_fragment(self):
        response = self.client.get(
            workflow_url(self.workspace, "order_validation", "?period=24h"),
            headers={"HX-Request": "true", "HX-Target": "dag-graph"},
        )
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'id="dag-graph"')
        self.assertContains(response, 'aria-current="page">Last 24 hours</a>')

    def test_a_workflow_without_runs_in_the_period_says_so(self):
        make_run(self.workspace, workflow="quiet", started_at=timezone.now() - timedelta(days=20))
        response = self.client.get(workflow_url(self.workspace, "quiet", "?period=7d"))
        self.assertContains(response, "No run of quiet started in this period")

    def test_it_links_to_the_runs_of_the_workflow_and_is_linked_from_the_runs_list(self):
        response = self.client.get(workflow_url(self.workspace, "order_validation"))
        self.assertContains(response, f'href="/w/{self.workspace.slug}/runs/?workflow=order_validation"')
        runs = self.client.get(f"/w/{self.workspace.slug}/runs/?workflow=order_validation")
        self.assertContains(runs, f'href="{workflow_url(self.workspace, "order_validation")}"')

    def test_an_unknown_workflow_is_a_404(self):
        self.assertEqual(self.client.get(workflow_url(self.workspace, "nope")).status_code, 404)

    def test_a_bad_period_is_a_400_naming_the_field(self):
        response = self.client.get(workflow_url(self.workspace, "order_validation", "?period=forever"))
        self.assertContains(response, "period", status_code=400)

    def test_it_hides_workflows_from_outsiders(self):
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(workflow_url(self.workspace, "order_validation")).status_code, 404)

    def test_it_runs_the_same_queries_for_2_or_20_runs(self):
        for size in (2, 20):
            workflow = f"wf-{size}"
            for _ in range(size):
                make_pipeline_run(self.workspace, durations=[5, 6, 7], workflow=workflow)
            # session, user, memberships (the switcher too), run count, nodes, percentiles, edges, graph
            with self.assertNumQueries(8):
                response = self.client.get(workflow_url(self.workspace, workflow))
            self.assertContains(response, f"{size} runs from")


LIST_COUNT = re.compile(r'<p class="list-count"[^>]*>([\d,]+) runs?')


class WorkflowDrillThroughTest(TestCase):
    """Every node and edge of a workflow across runs links to a Runs list of exactly the runs it counts."""

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        with mock.patch.object(events, "BASE", timezone.now() - timedelta(minutes=50)):
            for i, approve in enumerate([True, True, False]):
                workflows.ingest(
                    cls.workspace, workflows.order_validation(f"order-{i}", approve=approve, start=i)
                )
        for i in range(1, 9):
            fail = "summarize" if i % 4 == 0 else None
            make_pipeline_run(cls.workspace, durations=[10, 20] if fail else [10, 20, 30], fail=fail)

    def setUp(self):
        self.client.force_login(self.cast["viewer"])

    def listed(self, url):
        response = self.client.get(html.unescape(url))
        self.assertEqual(response.status_code, 200, url)
        return int(LIST_COUNT.search(response.text)[1].replace(",", ""))

    def links(self, workflow, kind):
        text = self.client.get(workflow_url(self.workspace, workflow)).text
        found = re.findall(rf'<a href="([^"]+)" data-{kind}>([\d,]+)</a>', text)
        self.assertTrue(found, (workflow, kind))
        return text, found

    def test_each_node_links_to_the_runs_that_reached_it_and_that_failed_there(self):
        for workflow in ("pipeline", "order_validation"):
            text, reached = self.links(workflow, "reached")
            for url, shown in reached:
                self.assertEqual(self.listed(url), int(shown), url)
            self.assertIn("runs/?workflow=", text.split('class="nodes"')[1])  # the drawing's nodes too
        _, failed = self.links("pipeline", "failed")
        self.assertEqual([(self.listed(url), int(shown)) for url, shown in failed], [(2, 2)])

    def test_each_edge_links_to_the_runs_that_took_it(self):
        for workflow, expected in (("pipeline", {8, 6}), ("order_validation", None)):
            _, moves = self.links(workflow, "edge")
            for url, shown in moves:
                self.assertEqual(self.listed(url), int(shown), url)
            if expected:
                self.assertEqual({int(shown) for _, shown in moves}, expected)

    def test_a_node_labelled_by_its_step_id_links_to_exactly_its_runs(self):
        # An engine that names no task: each node is its step id. A named task with that same text
        # is the same node, and a step id shared by a named task is not.
        for i in range(3):
            run = make_run(self.workspace, workflow="unnamed", started_at=timezone.now() - timedelta(hours=1))
            make_task(run, step_id="fetch", name="")
            make_task(run, step_id="parse", name="", status="failed" if i == 0 else "ok")
        named = make_run(self.workspace, workflow="unnamed", started_at=timezone.now() - timedelta(hours=1))
        make_task(named, step_id="s-1", name="fetch")
        make_task(named, step_id="parse", name="tidy")
        text, reached = self.links("unnamed", "reached")
        counts = {url.split("step=")[1]: (self.listed(url), int(shown)) for url, shown in reached}
        self.assertEqual(counts, {"fetch": (4, 4), "parse": (3, 3), "tidy": (1, 1)})
        _, failed = self.links("unnamed", "failed")
        self.assertEqual([(self.listed(url), int(shown)) for url, shown in failed], [(1, 1)])

    def test_an_edge_filter_needs_both_ends(self):
        response = self.client.get(f"/w/{self.workspace.slug}/runs/?edge_from=extract")
        self.assertContains(response, "Name both ends of the edge", status_code=400)
