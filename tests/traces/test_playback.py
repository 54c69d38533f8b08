"""Playback: a run's or a conversation's events one at a time, filtered in the URL, keyset paged."""

import re
from unittest import mock

from django.test import TestCase
from django.urls import reverse

from tests.events import event, workflow_run
from tests.factories import make_cast, make_workspace
from traces.ingest import ingest_batch
from traces.models import Event


def second_turn(run_id, session_id, start):
    return [
        *workflow_run(run_id, session_id=session_id, start=start, steps=2),
        event(
            "message",
            {"session_id": session_id, "run_id": run_id, "role": "user", "content": "again"},
            at=start,
        ),
    ]


def kinds(response):
    """The types of the events listed, in order."""
    return re.findall(r'<span class="kind mono">([^<]+)', response.content.decode())


def selected(response):
    """The type of the event the page shows whole."""
    return re.search(r'id="playback-current"><span class="mono">([^<]+)', response.content.decode()).group(1)


class PlaybackTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        ingest_batch(cls.workspace, workflow_run("first", session_id="chat", steps=2, fail=True))
        ingest_batch(cls.workspace, workflow_run("second", session_id="chat", start=600, steps=6))
        ingest_batch(cls.workspace, workflow_run("alone", session_id="other", start=1200, steps=1))
        ingest_batch(cls.cast["other_workspace"], workflow_run("theirs"))

    def setUp(self):
        self.client.force_login(self.cast["viewer"])

    def run_url(self, run_id="first", **query):
        url = reverse("traces:run_playback", args=[self.workspace.slug, run_id])
        return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")

    def session_url(self, **query):
        url = reverse("traces:session_playback", args=[self.workspace.slug, "chat"])
        return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")

    def ordered(self, run_id):
        return list(Event.objects.filter(run__run_id=run_id).order_by("timestamp", "id"))

    def test_it_starts_at_the_first_event_and_steps_forward_and_back(self):
        events = self.ordered("first")
        response = self.client.get(self.run_url())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(selected(response), events[0].type)
        self.assertContains(response, f"at={events[1].pk}")
        response = self.client.get(self.run_url(at=events[2].pk))
        self.assertEqual(selected(response), events[2].type)
        self.assertContains(response, 'data-step="previous"')
        self.assertContains(response, f"at={events[1].pk}")
        self.assertContains(response, "Playback")

    def test_stepping_past_the_end_of_a_page_opens_the_next_one(self):
        events = self.ordered("second")
        with mock.patch("traces.views.playback.PER_PAGE", 3):
            last_of_page = self.client.get(self.run_url("second", at=events[2].pk))
            next_url = re.search(r'data-step="next" href="([^"]+)"', last_of_page.content.decode()).group(1)
            following = self.client.get(next_url.replace("&amp;", "&"))
            self.assertEqual(selected(following), events[3].type)
            back_url = re.search(r'data-step="previous" href="([^"]+)"', following.content.decode()).group(1)
            back = self.client.get(back_url.replace("&amp;", "&"))
            self.assertEqual(selected(back), events[2].type)

    def test_filters_by_kind_errors_and_turn(self):
        response = self.client.get(self.run_url(kind="llm."))
        self.assertEqual(set(kinds(response)), {"llm.call"})
        response = self.client.get(self.run_url(error="on"))
        self.assertTrue(kinds(response))
        self.assertEqual(response.content.decode().count('badge failed">error'), len(kinds(response)))
        for turn, run_id in ((1, "first"), (2, "second")):
            with self.subTest(turn=turn):
                response = self.client.get(self.session_url(turn=turn))
                self.assertEqual(len(kinds(response)), Event.objects.filter(run__run_id=run_id).count())
        self.assertContains(self.client.get(self.session_url(turn=9)), "No events match these filters")

    def test_bad_filters_answer_400_naming_them(self):
        for query, field in (({"turn": 0}, "turn"), ({"kind": "nope"}, "kind"), ({"at": "x"}, "at")):
            with self.subTest(query=query):
                response = self.client.get(self.run_url(**query))
                self.assertContains(response, field, status_code=400)
        ingest_batch(self.workspace, [event("run.start", {"run_id": "solo", "agent_id": "order-bot"})])
        self.assertContains(self.client.get(self.run_url("solo", turn=1)), "no turns", status_code=400)

    def test_another_workspaces_run_or_conversation_answers_404(self):
        self.assertEqual(self.client.get(self.run_url("theirs")).status_code, 404)
        url = reverse("traces:session_playback", args=[self.workspace.slug, "s-1"])
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_a_fixed_number_of_queries_whatever_the_events(self):
        self.client.get(self.run_url("alone"))
        for run_id in ("alone", "second"):
            with self.subTest(run_id=run_id), self.assertNumQueries(6):
                self.client.get(self.run_url(run_id))
        self.client.get(self.session_url())
        with self.assertNumQueries(6):
            self.client.get(self.session_url())
        with self.assertNumQueries(7):  # the turn's window is one more
            self.client.get(self.session_url(turn=1))

    def test_a_step_through_htmx_answers_the_region_only(self):
        response = self.client.get(
            self.session_url(), headers={"HX-Request": "true", "HX-Target": "playback"}
        )
        self.assertContains(response, 'id="playback"')
        self.assertNotContains(response, "<html")
