"""The run workspace: the Run page's Tasks tab, with the task tree beside the selected task."""

import re
from datetime import timedelta

from tests.factories import make_event, make_model_call, make_run, make_task, make_workspace
from tests.traces.drilldown import HX, DrilldownTestCase, hx
from traces.models import Task
from traces.task_tree import TASKS_PER_PAGE, fold, tree_page


def chain(run, depth, **fields):
    """Tasks nested `depth` deep (root first)."""
    tasks, parent = [], None
    for level in range(depth):
        parent = make_task(run, step_id=f"level-{level}", parent=parent, **fields)
        tasks.append(parent)
    return tasks


class RunWorkspaceTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.ws_run = make_run(
            cls.workspace, run_id="ws-run", input={"question": "refund?"}, output={"answer": "yes"}
        )
        cls.tasks = chain(cls.ws_run, 4, input={"q": "deep"})
        cls.llm = cls.tasks[3]
        make_model_call(cls.ws_run, task=cls.llm, ttft_ms=120, latency_ms=900)
        make_event(cls.ws_run, type="step.failed", step_id=cls.llm.step_id, payload={"error": "boom"})

    def test_it_shows_the_runs_input_and_output_above_the_tree(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/ws-run/"))
        self.assert_full_page(response)
        self.assertContains(response, "Run input")
        self.assertContains(response, '<span class="j-str">"refund?"</span>')
        self.assertContains(response, '<span class="j-str">"yes"</span>')
        self.assertContains(response, "Select a task in the tree")

    def test_rows_show_type_status_duration_and_a_bar_on_the_runs_time_scale(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/ws-run/"))
        self.assertContains(response, 'class="duration-bar s-ok"', count=4)
        self.assertContains(response, '<span class="type">function</span>')

    def test_levels_below_the_first_two_start_folded(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/ws-run/"))
        self.assertContains(response, f'data-step="level-1" data-ancestors="{self.tasks[0].pk}" data-folded')
        self.assertContains(response, 'data-step="level-2"', count=1)
        self.assertContains(
            response, " ".join(str(t.pk) for t in self.tasks[:3]).join(['data-ancestors="', '" hidden'])
        )

    def test_a_deep_link_selects_the_task_opens_its_path_and_shows_its_detail(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/ws-run/?task=level-3"))
        self.assert_full_page(response)
        self.assertContains(response, f'<tr class="task-row selected" data-task="{self.llm.pk}"')
        self.assertNotRegex(response.content.decode(), r"<tr [^>]* hidden>")
        self.assertNotContains(response, "data-folded")
        pane = response.content.decode().split('id="workspace-pane"')[1]
        self.assertIn('data-step-id="level-3"', pane)
        self.assertIn("first token 120 ms", pane)
        self.assertIn("step.failed", pane)
        self.assertIn('<span class="j-str">"deep"</span>', pane)

    def test_a_row_links_to_its_selection_and_its_detail_comes_as_a_fragment(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/ws-run/"))
        self.assertContains(response, 'data-detail-base="/w/acme/runs/ws-run/tasks/"')
        self.assertContains(
            response, '<a href="/w/acme/runs/ws-run/tasks/?task=level-0" title="level-0" data-select>'
        )
        pane = self.client.get(self.url("runs/ws-run/tasks/level-0/"), headers=hx("task-page"))
        self.assert_fragment(pane)
        self.assertContains(pane, 'data-step-id="level-0"')

    def test_payloads_of_the_run_and_the_selected_task_can_be_shown_in_full(self):
        run = make_run(self.workspace, run_id="big-ws", input={"text": "a" * 3000})
        make_task(run, step_id="s1", output={"text": "b" * 3000})
        self.as_("viewer")
        full = self.client.get(self.url("runs/big-ws/?full=run-input"), headers=hx("json-run-input"))
        self.assert_fragment(full)
        self.assertContains(full, "a" * 3000)
        full = self.client.get(self.url("runs/big-ws/?task=s1&full=output"), headers=hx("json-output"))
        self.assertContains(full, "b" * 3000)

    def test_an_unknown_task_is_404_and_a_bad_one_400_naming_the_field(self):
        self.as_("viewer")
        other_run = make_run(self.workspace, run_id="other-run")
        make_task(other_run, step_id="elsewhere")
        self.assertEqual(self.client.get(self.url("runs/ws-run/?task=elsewhere")).status_code, 404)
        bad = self.client.get(self.url("runs/ws-run/?task=" + "x" * 201))
        self.assertContains(bad, "task", status_code=400)

    def test_another_workspaces_run_and_task_are_404(self):
        other = make_workspace()
        run = make_run(other, run_id="theirs")
        make_task(run, step_id="secret")
        self.as_("viewer")
        self.assertEqual(self.client.get(self.url("runs/theirs/?task=secret")).status_code, 404)
        self.assertEqual(self.client.get(self.url("runs/theirs/tasks/secret/"), headers=HX).status_code, 404)
        self.assert_hidden_from_outsiders("runs/ws-run/?task=level-3")


class LongRunDeepLinkTest(DrilldownTestCase):
    """A run of more than a page of tasks: plan > loop > 600 documents, the last with a child."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.long = make_run(cls.workspace, run_id="long")
        plan = make_task(cls.long, step_id="plan", sequence=1)
        cls.loop = make_task(cls.long, step_id="loop", parent=plan, sequence=2)
        Task.objects.bulk_create(
            Task(
                workspace=cls.workspace,
                run=cls.long,
                step_id=f"doc-{i:03d}",
                name=f"doc {i}",
                parent=cls.loop,
                parent_step_id="loop",
                sequence=i + 3,
                status="ok",
                started_at=cls.long.started_at + timedelta(milliseconds=i),
                duration_ms=3,
            )
            for i in range(600)
        )
        cls.last = Task.objects.get(run=cls.long, step_id="doc-599")
        make_task(cls.long, step_id="check", name="check", parent=cls.last, sequence=700)

    def shown(self, response):
        """Step ids of the rows shown, and of the rows hidden under a fold."""
        rows = re.findall(r'<tr class="task-row[^"]*" data-task="\d+" data-step="([^"]+)"([^>]*)>', response)
        return [s for s, rest in rows if " hidden" not in rest], [s for s, rest in rows if " hidden" in rest]

    def test_the_first_page_folds_the_documents(self):
        self.as_("viewer")
        shown, hidden = self.shown(self.client.get(self.url("runs/long/")).content.decode())
        self.assertEqual(shown, ["plan", "loop"])
        self.assertEqual(len(hidden), TASKS_PER_PAGE - 2)

    def test_a_deep_link_beyond_the_first_page_opens_the_tree_at_the_task_and_shows_it(self):
        self.as_("viewer")
        with self.assertNumQueries(13):
            response = self.client.get(self.url("runs/long/?task=check"))
        page = response.content.decode()
        self.assertEqual(self.shown(page), (["check"], []))
        self.assertContains(response, '<tr class="task-row selected" data-task=')
        self.assertContains(response, '<td class="task-name d3">')
        self.assertContains(response, '<span class="muted small">in doc 599</span>')
        self.assertContains(response, "Later tasks of this run.")
        self.assertIn('data-step-id="check"', page.split('id="workspace-pane"')[1])

    def test_later_pages_keep_the_selected_tasks_path_open(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/long/?task=doc-550"))
        shown, hidden = self.shown(response.content.decode())
        self.assertEqual([shown[0], shown[-1], len(shown), hidden], ["doc-550", "doc-599", 50, ["check"]])
        self.assertIsNone(response.context["more_url"])
        response = self.client.get(self.url("runs/long/?task=doc-010"))
        shown, hidden = self.shown(response.content.decode())
        self.assertEqual([shown[0], shown[-1], len(shown), hidden], ["plan", "doc-497", 500, []])
        self.assertNotContains(response, "Later tasks of this run.")
        self.assertIn("task=doc-010", response.context["more_url"])
        with self.assertNumQueries(9):  # the 7 of any page, and the task with its path
            more = self.client.get(response.context["more_url"], headers=hx("task-more"))
        self.assert_fragment(more)
        shown, hidden = self.shown(more.content.decode())
        self.assertEqual([shown[0], shown[-1], len(shown), hidden], ["doc-498", "doc-599", 102, ["check"]])
        self.assertNotContains(more, 'id="workspace-pane"')


class RunWorkspaceQueriesTest(DrilldownTestCase):
    def test_it_issues_the_same_queries_for_2_and_300_tasks_with_a_task_selected(self):
        self.as_("viewer")
        for size in (2, 300):
            run = make_run(self.workspace)
            deep = chain(run, 3)[-1]
            for i in range(size):
                task = make_task(run, parent=deep if i % 2 else None)
                make_model_call(run, task=deep)
                make_event(run, step_id=deep.step_id, payload={"i": i})
                make_task(run, parent=task)
            with self.assertNumQueries(7):
                self.client.get(self.url(f"runs/{run.run_id}/"))
            with self.assertNumQueries(12):
                self.client.get(self.url(f"runs/{run.run_id}/?task={deep.step_id}"))
            with self.assertNumQueries(12):
                self.client.get(
                    self.url(f"runs/{run.run_id}/?task={deep.step_id}"), headers=HX | hx("run-page")
                )


class FoldTest(DrilldownTestCase):
    def test_folds_start_at_the_open_levels_and_spare_the_selected_path(self):
        run = make_run(self.workspace)
        tasks = chain(run, 4, started_at=run.started_at + timedelta(seconds=1))
        rows = tree_page(run).rows
        fold(rows, open_levels=2)
        self.assertEqual(
            [(r.folded, r.hidden) for r in rows], [(False, False), (True, False), (True, True), (False, True)]
        )
        fold(rows, open_levels=2, keep_open=[tasks[1].pk, tasks[2].pk])
        self.assertEqual([(r.folded, r.hidden) for r in rows], [(False, False)] * 4)
