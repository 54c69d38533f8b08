"""Live regions: a page showing a running run refreshes itself by morphing, says so with a Live
indicator, and stops polling once the run has gone quiet (traces/live.py)."""

from datetime import timedelta

from django.test import SimpleTestCase
from django.utils import timezone

from tests.factories import make_run, make_session, make_task
from tests.traces.drilldown import DrilldownTestCase, hx
from traces.live import QUIET_AFTER, live_context
from traces.models import Run

QUIET = "Not updating: no activity since"


class LiveContextTest(SimpleTestCase):
    def test_a_recent_change_keeps_the_region_live(self):
        now = timezone.now()
        self.assertEqual(live_context([now - QUIET_AFTER * 3, now]), {"live": True, "quiet_since": None})

    def test_only_quiet_runs_stop_it_and_say_since_when(self):
        last = timezone.now() - QUIET_AFTER - timedelta(minutes=1)
        self.assertEqual(
            live_context([last - timedelta(hours=1), last]), {"live": False, "quiet_since": last}
        )

    def test_nothing_running_is_neither_live_nor_quiet(self):
        self.assertEqual(live_context([None]), {"live": False, "quiet_since": None})


class LivePagesTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.session = make_session(cls.workspace, session_id="conv")
        cls.busy = make_run(
            cls.workspace,
            run_id="busy",
            session=cls.session,
            status="running",
            ended_at=None,
            duration_ms=None,
        )
        make_task(cls.busy, step_id="s1", status="running", ended_at=None, duration_ms=None)

    def go_quiet(self):
        """The run last heard from its agent longer ago than the live pages wait."""
        Run.objects.filter(pk=self.busy.pk).update(
            updated_at=timezone.now() - QUIET_AFTER - timedelta(minutes=5)
        )

    def pages(self):
        return {
            "runs/": "rows",
            "conversations/": "rows",
            "runs/busy/": "run-page",
            "runs/busy/tasks/s1/": "task-page",
            "conversations/conv/": "turns",
        }

    def test_a_running_run_refreshes_its_pages_by_morphing_with_a_pause_button(self):
        self.as_("viewer")
        for path, target in self.pages().items():
            for headers in ({}, hx(target)):
                with self.subTest(path, fragment=bool(headers)):
                    response = self.client.get(self.url(path), headers=headers)
                    self.assertContains(response, 'hx-swap="morph:outerHTML"')
                    self.assertContains(response, "hx-trigger=")
                    self.assertContains(response, "data-live-toggle")
                    self.assertNotContains(response, QUIET)

    def test_a_run_quiet_for_long_stops_the_polling_and_says_since_when(self):
        self.go_quiet()
        self.as_("viewer")
        for path, target in self.pages().items():
            for headers in ({}, hx(target)):
                with self.subTest(path, fragment=bool(headers)):
                    response = self.client.get(self.url(path), headers=headers)
                    self.assertNotContains(response, "every 3s")
                    self.assertNotContains(response, "every 5s")
                    self.assertNotContains(response, "data-live-toggle")
                    self.assertContains(response, QUIET)

    def test_the_conversation_list_still_marks_a_quiet_run_as_running(self):
        self.go_quiet()
        self.as_("viewer")
        self.assertContains(self.client.get(self.url("conversations/")), '<span class="badge running">')

    def test_a_finished_run_neither_polls_nor_says_it_went_quiet(self):
        Run.objects.filter(pk=self.busy.pk).update(status="completed")
        self.as_("viewer")
        for path in self.pages():
            with self.subTest(path):
                response = self.client.get(self.url(path))
                self.assertNotContains(response, "data-live-toggle")
                self.assertNotContains(response, QUIET)

    def test_the_run_panel_beside_a_conversation_stops_when_the_run_goes_quiet(self):
        self.as_("viewer")
        panel = self.client.get(self.url("conversations/conv/?run=busy"), headers=hx("run-panel"))
        self.assertContains(panel, 'hx-trigger="every 3s"')
        self.go_quiet()
        panel = self.client.get(self.url("conversations/conv/?run=busy"), headers=hx("run-panel"))
        self.assertNotContains(panel, "hx-trigger")
