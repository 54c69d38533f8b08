from tests.factories import make_model_call, make_run, make_task
from tests.traces.drilldown import HX, DrilldownTestCase, hx
from tests.traces.scenario import make_conversation


class TaskDetailTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.run_id = make_conversation(cls.workspace, "conv-refund", turns=1, fail_last=True)[0]

    def test_it_shows_payloads_timings_parent_children_and_model_calls(self):
        self.as_("viewer")
        response = self.client.get(self.url(f"runs/{self.run_id}/tasks/{self.run_id}-llm/"))
        self.assert_full_page(response)
        self.assertContains(response, "draft_answer")
        self.assertContains(response, '<span class="j-key">"messages"</span>')
        self.assertContains(response, "gpt-4o-mini")
        self.assertContains(response, "first token 210 ms")
        self.assertContains(response, f'href="/w/acme/runs/{self.run_id}/tasks/?task={self.run_id}-plan"')
        parent = self.client.get(self.url(f"runs/{self.run_id}/tasks/{self.run_id}-plan/"))
        self.assertContains(parent, "search_docs")
        self.assertContains(parent, "crm.lookup")
        self.assertContains(parent, "top level")

    def test_it_shows_the_error_of_a_failed_task(self):
        self.as_("viewer")
        response = self.client.get(self.url(f"runs/{self.run_id}/tasks/{self.run_id}-crm/"))
        self.assertContains(response, '<section class="card payload failed"><h2>Error</h2>')
        self.assertContains(response, "CRM timed out after 30 s")

    def test_large_values_are_cut_with_a_show_all_that_returns_the_whole_value(self):
        run = make_run(self.workspace, run_id="big-io")
        make_task(run, step_id="s1", output={"text": "<i>" + "w" * 6000 + "</i>"})
        self.as_("viewer")
        response = self.client.get(self.url("runs/big-io/tasks/s1/"))
        # The tree and the raw JSON are both cut.
        self.assertNotContains(response, "w" * 5000)
        self.assertContains(response, 'hx-target="#json-output"')
        full = self.client.get(self.url("runs/big-io/tasks/s1/?full=output"), headers=hx("json-output"))
        self.assert_fragment(full)
        self.assertContains(full, "&lt;i&gt;" + "w" * 6000 + "&lt;/i&gt;")
        self.assertNotContains(full, "<i>")

    def test_a_running_task_refreshes_itself(self):
        run = make_run(self.workspace, run_id="live", status="running")
        make_task(run, step_id="s1", status="running", ended_at=None, duration_ms=None)
        self.as_("viewer")
        self.assertContains(self.client.get(self.url("runs/live/tasks/s1/")), 'hx-trigger="every 3s"')
        poll = self.client.get(self.url("runs/live/tasks/s1/"), headers=hx("task-page"))
        self.assert_fragment(poll)
        self.assertContains(poll, 'id="task-page"')

    def test_step_ids_with_slashes_have_their_own_page(self):
        run = make_run(self.workspace, run_id="nested")
        make_task(run, step_id="graph/node:1", name="node one")
        self.as_("viewer")
        self.assertContains(self.client.get(self.url("runs/nested/tasks/graph/node:1/")), "node one")

    def test_it_is_404_for_outsiders_and_unknown_tasks(self):
        self.assert_hidden_from_outsiders(f"runs/{self.run_id}/tasks/{self.run_id}-llm/")
        self.as_("viewer")
        self.assertEqual(self.client.get(self.url(f"runs/{self.run_id}/tasks/nope/")).status_code, 404)


class TaskDetailQueriesTest(DrilldownTestCase):
    def test_it_issues_the_same_queries_for_2_and_200_children_and_calls(self):
        self.as_("viewer")
        for size in (2, 200):
            run = make_run(self.workspace)
            task = make_task(run, input={"q": 1})
            for _ in range(size):
                make_task(run, parent=task)
                make_model_call(run, task=task, request={"m": "x"}, response={"r": "y"})
            with self.assertNumQueries(8):
                self.client.get(self.url(f"runs/{run.run_id}/tasks/{task.step_id}/"))
            with self.assertNumQueries(8):
                self.client.get(
                    self.url(f"runs/{run.run_id}/tasks/{task.step_id}/"), headers=HX | hx("task-page")
                )
