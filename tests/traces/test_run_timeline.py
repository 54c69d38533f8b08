from datetime import timedelta
from unittest import mock

from django.test import TestCase

from tests import workflows
from tests.factories import make_cast, make_model_call, make_run, make_task, make_workspace
from traces.graphs import timeline
from traces.models import Task
from traces.task_tree import KEYSET
from traces.views import graphs


def timeline_url(workspace, run, query=""):
    return f"/w/{workspace.slug}/runs/{run.run_id}/timeline/{query}"


class RunTimelineTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        workflows.ingest(
            cls.workspace, workflows.document_analysis("doc-1", chunks=3, fail_at="extract_entities")
        )
        cls.doc = cls.workspace.runs.get(run_id="doc-1")

    def setUp(self):
        self.client.force_login(self.cast["viewer"])

    def test_it_draws_one_bar_per_task_in_tree_order(self):
        response = self.client.get(timeline_url(self.workspace, self.doc))
        self.assertContains(response, "<html")
        self.assertContains(response, 'class="tl-bar', count=Task.objects.filter(run=self.doc).count())
        names = [t.name for t in Task.objects.filter(run=self.doc).order_by("sequence")]
        body = response.content.decode()
        positions = [body.index(f'<span class="tl-name">{name}</span>') for name in dict.fromkeys(names)]
        self.assertEqual(positions, sorted(positions))
        # The chunks hang under their foreach, one level in.
        self.assertContains(response, '<span class="tl-label d1">', count=3)
        self.assertContains(response, 'id="tab-timeline"')

    def test_bars_sit_at_their_start_offset_with_their_duration(self):
        run = make_run(self.workspace, duration_ms=10_000)
        run.ended_at = run.started_at + timedelta(seconds=10)
        run.save()
        make_task(
            run,
            name="half",
            started_at=run.started_at + timedelta(seconds=5),
            duration_ms=2500,
            ended_at=run.started_at + timedelta(seconds=7.5),
        )
        response = self.client.get(timeline_url(self.workspace, run))
        self.assertContains(response, 'x="50.0%" y="7" width="25.0%"')
        self.assertContains(response, "starts at +5.00 s")
        self.assertContains(response, "took 2.50 s")

    def test_model_calls_are_marked_on_their_task(self):
        run = make_run(self.workspace)
        task = make_task(run, name="answer", type="llm")
        make_model_call(
            run, task=task, created_at=run.started_at + timedelta(milliseconds=150), model="gpt-x"
        )
        response = self.client.get(timeline_url(self.workspace, run))
        self.assertContains(response, 'class="tl-call"', count=2)  # the bar's mark, and the key above
        self.assertContains(response, "gpt-x · 150 tokens")
        self.assertContains(response, "1 model call")

    def test_failed_tasks_say_so_in_words_too(self):
        response = self.client.get(timeline_url(self.workspace, self.doc))
        self.assertContains(response, 'class="tl-link s-failed"')
        self.assertContains(response, '<span class="tl-status">Failed</span>')

    def test_long_runs_come_in_pages_with_more_on_demand(self):
        run = make_run(self.workspace)
        for i in range(7):
            make_task(run, name=f"t{i}", started_at=run.started_at + timedelta(milliseconds=10 * i))
        with mock.patch.object(graphs, "TIMELINE_PAGE", 3):
            first = self.client.get(timeline_url(self.workspace, run))
            self.assertContains(first, 'class="tl-bar', count=3)
            cursor = KEYSET.cursor(Task.objects.get(run=run, name="t2"))
            more_url = timeline_url(self.workspace, run, f"?after={cursor}")
            self.assertContains(first, f'hx-get="{more_url}"')
            more = self.client.get(more_url, headers={"HX-Request": "true", "HX-Target": "tl-more"})
        self.assertNotContains(more, "<html")
        self.assertNotContains(more, 'id="run-header"')
        self.assertContains(more, 'class="tl-bar', count=3)
        self.assertContains(more, '<span class="tl-name">t3</span>')
        self.assertContains(more, 'id="tl-more"')

    def test_a_bad_cursor_is_a_400_naming_it(self):
        response = self.client.get(timeline_url(self.workspace, self.doc, "?after=nope"))
        self.assertContains(response, "after", status_code=400)

    def test_a_task_named_in_the_url_loads_in_the_panel(self):
        task = Task.objects.filter(run=self.doc).first()
        response = self.client.get(timeline_url(self.workspace, self.doc, f"?task={task.step_id}"))
        self.assertContains(response, f'hx-get="/w/{self.workspace.slug}/runs/doc-1/tasks/{task.step_id}/"')

    def test_payload_text_is_escaped(self):
        run = make_run(self.workspace)
        make_task(run, name="<img src=x onerror=alert(1)>")
        response = self.client.get(timeline_url(self.workspace, run))
        self.assertNotContains(response, "<img src=x")
        self.assertContains(response, "&lt;img src=x onerror=alert(1)&gt;")

    def test_it_hides_runs_from_outsiders(self):
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(timeline_url(self.workspace, self.doc)).status_code, 404)

    def test_it_runs_the_same_queries_for_2_or_20_tasks(self):
        for size in (2, 20):
            run = make_run(self.workspace)
            for i in range(size):
                task = make_task(run, name=f"t{i}")
                make_model_call(run, task=task)
            # session, user, memberships (the switcher too), run, the page's tasks, the axis, their calls
            with self.assertNumQueries(7):
                response = self.client.get(timeline_url(self.workspace, run))
            self.assertContains(response, 'class="tl-bar', count=size)


class TicksTest(TestCase):
    def test_ticks_are_round_and_span_the_axis(self):
        marks = timeline.ticks(7100)
        self.assertEqual([label for _, label, _ in marks], ["0", "2 s", "4 s", "6 s"])
        self.assertEqual(marks[0][2], "start")
        self.assertEqual(timeline.ticks(900)[1][1], "200 ms")

    def test_ticks_follow_the_clock_past_a_minute(self):
        hundred_minutes = 100 * 60_000
        labels = [label for _, label, _ in timeline.ticks(hundred_minutes)]
        self.assertEqual(labels, ["0", "30 m", "1 h", "1 h 30 m"])
        self.assertEqual([label for _, label, _ in timeline.ticks(100_000)], ["0", "30 s", "1 m", "1 m 30 s"])
