from django.test import TestCase

from tests import workflows
from tests.factories import make_cast, make_run, make_task, make_workspace
from traces.models import Task


def dag_url(workspace, run, **query):
    url = f"/w/{workspace.slug}/runs/{run.run_id}/dag/"
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


class RunDagTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        workflows.ingest(cls.workspace, workflows.order_validation("order-1"))
        workflows.ingest(cls.workspace, workflows.support_concierge("support-1"))
        cls.order = cls.workspace.runs.get(run_id="order-1")
        cls.support = cls.workspace.runs.get(run_id="support-1")

    def setUp(self):
        self.client.force_login(self.cast["viewer"])

    def test_it_draws_the_declared_workflow_for_a_viewer(self):
        response = self.client.get(dag_url(self.workspace, self.order))
        self.assertContains(response, "<html")
        self.assertContains(response, '<svg class="dag"')
        self.assertContains(response, "8 of 11 steps reached")
        self.assertContains(response, 'data-node="backorder"')
        self.assertContains(response, "s-unreached")
        self.assertContains(response, "out of stock")
        self.assertContains(response, 'aria-current="page">Workflow</a>')

    def test_it_infers_an_aggregated_graph_when_nothing_is_declared(self):
        response = self.client.get(dag_url(self.workspace, self.support))
        self.assertContains(response, 'aria-current="page">Aggregated</a>')
        self.assertNotContains(response, ">Workflow</a>")
        self.assertContains(response, 'data-node="plan"')
        self.assertContains(response, "×3")  # plan ran three times
        self.assertContains(response, 'class="edge back"')  # the loop back to plan

    def test_the_expanded_mode_has_one_node_per_task(self):
        response = self.client.get(dag_url(self.workspace, self.support, mode="expanded"))
        for task in Task.objects.filter(run=self.support):
            self.assertContains(response, f'data-node="{task.step_id}"')
        self.assertContains(response, "8 tasks")

    def test_a_mode_switch_answers_the_graph_fragment(self):
        response = self.client.get(
            dag_url(self.workspace, self.support, mode="expanded"),
            headers={"HX-Request": "true", "HX-Target": "dag-graph"},
        )
        self.assertNotContains(response, "<html")
        self.assertNotContains(response, 'id="run-header"')
        self.assertContains(response, 'id="dag-graph"')
        self.assertEqual(response["Vary"], "HX-Request, Cookie")

    def test_nodes_link_to_the_task_page_and_open_it_in_the_panel(self):
        task = Task.objects.get(run=self.order, name="check_stock")
        response = self.client.get(dag_url(self.workspace, self.order))
        task_url = f"/w/{self.workspace.slug}/runs/order-1/tasks/{task.step_id}/"
        self.assertContains(response, f'href="{task_url}" hx-get="{task_url}" hx-target="#task-page"')
        self.assertContains(response, f"mode=workflow&amp;task={task.step_id}")

    def test_a_task_named_in_the_url_is_selected_and_loads_in_the_panel(self):
        task = Task.objects.get(run=self.order, name="check_stock")
        response = self.client.get(dag_url(self.workspace, self.order, task=task.step_id))
        self.assertContains(response, "node s-ok t-diamond selected")
        task_url = f"/w/{self.workspace.slug}/runs/order-1/tasks/{task.step_id}/"
        self.assertContains(response, f'<div id="task-page" hx-get="{task_url}" hx-trigger="load"')
        self.assertContains(response, f'<a href="{task_url}">Open the task</a>')  # without JavaScript

    def test_the_tab_bar_lists_the_dag_and_the_timeline_after_the_tasks(self):
        response = self.client.get(dag_url(self.workspace, self.order))
        body = response.content.decode()
        tabs = [body.index(f'id="tab-{slug}"') for slug in ("tasks", "dag", "timeline", "events")]
        self.assertEqual(tabs, sorted(tabs))
        self.assertContains(response, f'id="tab-dag" href="/w/{self.workspace.slug}/runs/order-1/dag/"')

    def test_a_tab_switch_answers_the_run_region(self):
        response = self.client.get(
            dag_url(self.workspace, self.order), headers={"HX-Request": "true", "HX-Target": "run-page"}
        )
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'id="run-page"')
        self.assertContains(response, 'id="dag-graph"')

    def test_payload_text_is_escaped(self):
        run = make_run(self.workspace)
        make_task(run, name="<script>alert(1)</script>", type="tool")
        response = self.client.get(dag_url(self.workspace, run))
        self.assertNotContains(response, "<script>alert(1)")
        self.assertContains(response, "&lt;script&gt;alert(1)")

    def test_a_run_without_tasks_says_so(self):
        run = make_run(self.workspace)
        response = self.client.get(dag_url(self.workspace, run))
        self.assertContains(response, "No tasks recorded for this run")

    def test_a_bad_mode_is_a_400_naming_the_field(self):
        response = self.client.get(dag_url(self.workspace, self.support, mode="sideways"))
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "mode", status_code=400)

    def test_asking_for_the_declared_workflow_of_a_run_without_one_shows_the_inferred_graph(self):
        response = self.client.get(dag_url(self.workspace, self.support, mode="workflow"))
        self.assertContains(response, 'aria-current="page">Aggregated</a>')

    def test_it_hides_runs_from_outsiders(self):
        self.client.force_login(self.cast["outsider"])
        response = self.client.get(dag_url(self.workspace, self.order))
        self.assertEqual(response.status_code, 404)

    def test_it_answers_404_for_a_run_of_another_workspace(self):
        other = make_run(self.cast["other_workspace"])
        response = self.client.get(dag_url(self.workspace, other))
        self.assertEqual(response.status_code, 404)

    def test_it_asks_strangers_to_log_in(self):
        self.client.logout()
        response = self.client.get(dag_url(self.workspace, self.order))
        self.assertEqual(response.status_code, 302)

    def test_it_runs_the_same_queries_for_2_or_20_tasks(self):
        for mode in ("aggregated", "expanded"):
            counts = []
            for size in (2, 20):
                run = make_run(self.workspace)
                for i in range(size):
                    make_task(run, name=f"step-{i % 7}", type="tool" if i % 3 else "llm")
                # session, user, memberships (the switcher too), run, tasks
                with self.assertNumQueries(5):
                    response = self.client.get(dag_url(self.workspace, run, mode=mode))
                counts.append(response.content.count(b'class="node '))
            self.assertLess(counts[0], counts[1])

    def test_the_task_in_the_panel_costs_no_query_here_it_loads_on_its_own(self):
        task = Task.objects.filter(run=self.order).first()
        with self.assertNumQueries(5):
            self.client.get(dag_url(self.workspace, self.order, task=task.step_id))
