import re
from datetime import timedelta

from tests.factories import make_event, make_message, make_run, make_session, make_task
from tests.traces.drilldown import HX, DrilldownTestCase, hx
from tests.traces.scenario import make_conversation
from traces.models import Run, Task

TABS = ("", "tasks/", "chat/", "events/", "state/")


class RunPageTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.run_id = make_conversation(cls.workspace, "conv-refund", turns=1, fail_last=True)[0]
        cls.quiet = make_run(
            cls.workspace, run_id="quiet", state={"cart": ["<b>x</b>"] * 3, "note": "y" * 2000}
        )

    def test_the_header_shows_ids_status_timings_tokens_cost_and_the_trace(self):
        self.as_("viewer")
        response = self.client.get(self.url(f"runs/{self.run_id}/"))
        self.assert_full_page(response)
        run = Run.objects.get(run_id=self.run_id)
        self.assertContains(response, f'data-copy="{self.run_id}"')
        self.assertContains(response, f'data-copy="{run.invocation_id}"')
        self.assertContains(response, 'data-copy="conv-refund"')
        self.assertContains(response, '<span class="badge failed">Failed</span>', html=True)
        self.assertContains(response, "CRM timed out after 30 s")
        self.assertContains(response, "<strong>508</strong>")
        self.assertContains(response, '<ol class="trace-path"')

    def test_the_default_tab_is_the_task_tree_in_sequence_order(self):
        self.as_("viewer")
        response = self.client.get(self.url(f"runs/{self.run_id}/"))
        self.assertContains(response, 'id="tab-tasks" href="/w/acme/runs/conv-refund-run-1/tasks/"')
        self.assertContains(response, 'aria-current="page">Tasks</a>')
        names = [row.task.name for row in response.context["tree"].rows]
        self.assertEqual(names, ["plan", "search_docs", "draft_answer", "crm.lookup"])
        depths = [row.depth for row in response.context["tree"].rows]
        self.assertEqual(depths, [0, 1, 1, 1])
        self.assertContains(response, "data-fold", count=1)

    def test_every_tab_is_its_own_url_and_fragment(self):
        self.as_("viewer")
        for tab in TABS:
            with self.subTest(tab):
                self.assert_full_page(self.client.get(self.url(f"runs/{self.run_id}/{tab}")))
                fragment = self.client.get(self.url(f"runs/{self.run_id}/{tab}"), headers=hx("run-page"))
                self.assert_fragment(fragment)
                self.assertContains(fragment, 'id="run-page"')
                self.assertContains(fragment, "<title>")

    def test_the_chat_tab_shows_the_runs_turns_and_is_hidden_without_any(self):
        self.as_("viewer")
        response = self.client.get(self.url(f"runs/{self.run_id}/chat/"))
        self.assertContains(response, "Question 1: can I get a refund")
        self.assertContains(response, 'id="tab-chat"')
        self.assertNotContains(self.client.get(self.url("runs/quiet/")), 'id="tab-chat"')

    def test_the_events_tab_replays_the_log_with_microseconds(self):
        self.as_("viewer")
        response = self.client.get(self.url(f"runs/{self.run_id}/events/"))
        events = response.context["events"]
        self.assertEqual(events[0].type, "message")
        self.assertEqual([e.timestamp for e in events], sorted(e.timestamp for e in events))
        self.assertContains(response, events[1].timestamp.strftime("%H:%M:%S.%f"))
        self.assertContains(response, '<details data-key="event-')

    def test_the_events_tab_filters_by_kind_prefix_and_errors(self):
        self.as_("viewer")
        steps = self.client.get(self.url(f"runs/{self.run_id}/events/?kind=step."), headers=hx("events"))
        self.assert_fragment(steps)
        self.assertContains(steps, "step.start")
        self.assertContains(steps, "step.failed")
        self.assertNotContains(steps, "tool.call")
        self.assertNotContains(steps, 'id="run-header"')
        errors = self.client.get(self.url(f"runs/{self.run_id}/events/?error=on"))
        self.assertEqual(
            [e.type for e in errors.context["events"]], ["tool.failed", "step.failed", "run.failed"]
        )
        self.assertContains(
            self.client.get(self.url(f"runs/{self.run_id}/events/?kind=nope")), "kind", status_code=400
        )

    def test_the_state_tab_shows_collapsible_escaped_json_cut_with_show_all(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/quiet/state/"))
        self.assertContains(response, '<details class="j-node" data-key="json:state"')
        tree = response.content.decode().split('id="json-state"')[1].split('data-view="raw"')[0]
        self.assertNotIn("&quot;&lt;b&gt;x&lt;/b&gt;&quot;", tree)
        self.assertIn("&lt;b&gt;x&lt;/b&gt;", tree)
        self.assertNotContains(response, "<b>x</b>")
        self.assertContains(response, "+1,500 chars")
        self.assertContains(response, 'hx-get="/w/acme/runs/quiet/state/?full=state"')
        full = self.client.get(self.url("runs/quiet/state/?full=state"), headers=hx("json-state"))
        self.assert_fragment(full)
        self.assertContains(full, "y" * 2000)
        self.assertNotContains(full, "Show all")
        plain = self.client.get(self.url("runs/quiet/state/?full=state"))
        self.assert_full_page(plain)
        self.assertContains(plain, "y" * 2000)

    def test_an_event_payload_can_be_shown_in_full(self):
        run = make_run(self.workspace, run_id="chatty")
        event = make_event(run, type="llm.call", payload={"response": "z" * 900})
        self.as_("viewer")
        response = self.client.get(self.url("runs/chatty/events/"))
        self.assertContains(response, f"?full=event-{event.pk}")
        full = self.client.get(
            self.url(f"runs/chatty/events/?full=event-{event.pk}"), headers=hx(f"json-event-{event.pk}")
        )
        self.assertContains(full, "z" * 900)
        other_run = self.client.get(
            self.url(f"runs/quiet/events/?full=event-{event.pk}"), headers=hx(f"json-event-{event.pk}")
        )
        self.assertEqual(other_run.status_code, 404)

    def test_a_running_run_refreshes_while_it_runs_and_stops_after(self):
        run_id = make_conversation(self.workspace, "conv-live", turns=1, running_last=True)[0]
        self.as_("viewer")
        response = self.client.get(self.url(f"runs/{run_id}/events/?kind=step."))
        self.assertContains(response, 'id="run-live"')
        self.assertContains(response, f'hx-get="/w/acme/runs/{run_id}/events/?kind=step."')
        header = self.client.get(self.url(f"runs/{run_id}/events/"), headers=hx("run-header"))
        self.assert_fragment(header)
        self.assertContains(header, 'hx-target="#run-header"')
        self.assertNotContains(header, 'id="tab-panel"')
        Run.objects.filter(run_id=run_id).update(status="completed")
        self.assertNotContains(
            self.client.get(self.url(f"runs/{run_id}/"), headers=hx("run-page")), 'id="run-live"'
        )

    def test_a_run_of_another_workspace_is_404_on_every_tab(self):
        for tab in TABS:
            with self.subTest(tab):
                self.assert_hidden_from_outsiders(f"runs/{self.run_id}/{tab}")
        self.as_("viewer")
        make_run(self.cast["other_workspace"], run_id="theirs")
        self.assertEqual(self.client.get(self.url("runs/theirs/")).status_code, 404)


class BigRunTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.big = make_run(cls.workspace, run_id="big")
        loop = make_task(cls.big, step_id="loop", name="for each", type="foreach", sequence=1)
        Task.objects.bulk_create(
            Task(
                workspace=cls.workspace,
                run=cls.big,
                step_id=f"doc-{i:05d}",
                name=f"doc {i}",
                parent=loop,
                parent_step_id="loop",
                sequence=i + 2,
                status="ok",
                started_at=cls.big.started_at + timedelta(milliseconds=i),
                duration_ms=3,
            )
            for i in range(9999)
        )

    def test_a_10000_task_run_opens_on_its_first_500_and_loads_more(self):
        self.as_("viewer")
        with self.assertNumQueries(7):
            response = self.client.get(self.url("runs/big/"))
        rows = response.context["tree"].rows
        self.assertEqual(len(rows), 500)
        self.assertEqual(rows[0].task.step_id, "loop")
        self.assertEqual(rows[-1].task.step_id, "doc-00498")
        self.assertContains(response, "Load 500 more tasks")
        with self.assertNumQueries(7):
            more = self.client.get(response.context["more_url"], headers=hx("task-more"))
        self.assert_fragment(more)
        steps = re.findall(r'data-step="([^"]+)"', more.content.decode())
        self.assertEqual([len(steps), steps[0], steps[-1]], [500, "doc-00499", "doc-00998"])
        self.assertContains(more, '<td class="task-name d1">', count=500)
        self.assertContains(more, '<span class="muted small">in for each</span>', count=500)
        self.assertNotContains(more, 'id="run-header"')


class RunTabQueriesTest(DrilldownTestCase):
    def make_run_of(self, size):
        session = make_session(self.workspace)
        run = make_run(self.workspace, session=session, state={"k": list(range(size))})
        parent = None
        for i in range(size):
            task = make_task(run, parent=parent if i % 3 else None)
            parent = parent or task
            make_event(
                run, type="step.ok" if i % 2 else "step.failed", step_id=task.step_id, payload={"i": i}
            )
            make_message(session, run=run, role="assistant" if i % 2 else "user", content=f"turn {i}")
        return run

    def test_each_tab_issues_the_same_queries_for_2_and_200_rows(self):
        self.as_("viewer")
        expected = {"": 7, "tasks/": 7, "chat/": 5, "events/": 5, "state/": 4}
        for size in (2, 200):
            run = self.make_run_of(size)
            for tab, count in expected.items():
                with self.subTest(tab=tab, size=size), self.assertNumQueries(count):
                    self.client.get(self.url(f"runs/{run.run_id}/{tab}"))
                # The fragment costs as much: the switcher's list comes with the membership.
                with self.subTest(tab=tab, size=size, fragment=True), self.assertNumQueries(count):
                    self.client.get(self.url(f"runs/{run.run_id}/{tab}"), headers=HX | hx("run-page"))
