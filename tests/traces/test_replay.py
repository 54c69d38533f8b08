"""Replay and compare: the webhook gets the run signed (a real HTTP receiver started here), failures are
shown, the replay links back both ways, and two runs compare side by side."""

import hashlib
import hmac
import json

from django.test import Client, TestCase, override_settings
from django.urls import reverse

from backoffice.models import AuditEntry
from tests.events import event, workflow_run
from tests.factories import make_api_key, make_cast, make_workspace
from tests.receiver import Receiver
from traces.ingest import ingest_batch
from traces.models import Agent, Run
from traces.replay import SIGNATURE_HEADER, TIMESTAMP_HEADER

SECRET = "s3cret-for-the-replay-hook"


def original_and_replay(workspace):
    ingest_batch(workspace, workflow_run("orig", steps=3))
    replay = workflow_run("again", steps=2, start=100)
    for sent in replay:
        if sent["type"] == "run.start":
            sent["body"]["replay_of"] = "orig"
    replay.append(event("run.complete", {"run_id": "again", "output": {"answer": "<b>new</b>"}}, at=200))
    ingest_batch(workspace, replay)


class ReplayTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        original_and_replay(cls.workspace)
        cls.admin_key = make_api_key(cls.workspace, scopes=("admin",))[1]
        cls.read_key = make_api_key(cls.workspace, scopes=("read",))[1]

    def set_hook(self, url):
        Agent.objects.filter(workspace=self.workspace).update(replay_url=url, replay_secret=SECRET)

    def replay_url(self, run_id="orig"):
        return reverse("traces:run_replay", args=[self.workspace.slug, run_id])

    def api(self, run_id, key):
        return self.client.post(f"/api/v1/runs/{run_id}/replay", headers={"Authorization": f"Bearer {key}"})

    def test_the_webhook_gets_the_recorded_run_signed_with_hmac(self):
        self.client.force_login(self.cast["admin"])
        with Receiver(path="/replay") as receiver:
            self.set_hook(receiver.url)
            response = self.client.post(self.replay_url(), follow=True)
        self.assertContains(response, "Replay sent (the webhook answered 200)")
        [got] = receiver.received
        headers, body = got.headers, got.raw
        expected = hmac.new(SECRET.encode(), f"{headers[TIMESTAMP_HEADER]}.".encode() + body, hashlib.sha256)
        self.assertEqual(headers[SIGNATURE_HEADER], f"sha256={expected.hexdigest()}")
        sent = json.loads(body)
        run = Run.objects.get(run_id="orig")
        self.assertEqual(
            {key: sent[key] for key in ("replay_of", "agent_id", "session_id", "user_id", "input", "tags")},
            {
                "replay_of": "orig",
                "agent_id": "order-bot",
                "session_id": "s-1",
                "user_id": "u-7",
                "input": run.input,
                "tags": run.tags,
            },
        )
        self.assertEqual(sent["requested_by"], self.cast["admin"].username)
        entry = AuditEntry.objects.get(action="run.replayed")
        self.assertEqual((entry.target, entry.changes["status"]), ("orig", 200))

    def test_a_failing_webhook_is_shown_and_nothing_is_recorded(self):
        self.client.force_login(self.cast["admin"])
        with Receiver([500], path="/replay") as receiver:
            self.set_hook(receiver.url)
            response = self.client.post(self.replay_url(), follow=True)
        self.assertContains(response, "Replay not sent. The replay webhook answered 500")
        slow = Receiver([(200, 1.5)], path="/replay")
        with slow as receiver, override_settings(REPLAY_TIMEOUT_SECONDS=0.5):
            self.set_hook(receiver.url)
            response = self.client.post(self.replay_url(), follow=True)
        self.assertContains(response, "did not answer within 0.5 seconds")
        self.set_hook("http://127.0.0.1:9/nothing-listens-here")
        response = self.client.post(self.replay_url(), follow=True)
        self.assertContains(response, "could not be reached")
        self.assertFalse(AuditEntry.objects.filter(action="run.replayed").exists())

    def test_only_admins_replay_and_the_form_needs_csrf(self):
        self.set_hook("http://127.0.0.1:9/")
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.post(self.replay_url()).status_code, 403)
        page = self.client.get(reverse("traces:run_detail", args=[self.workspace.slug, "orig"]))
        self.assertNotContains(page, self.replay_url())
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.cast["admin"])
        self.assertEqual(client.post(self.replay_url()).status_code, 403)
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.post(self.replay_url()).status_code, 404)

    def test_the_api_replays_with_an_admin_key(self):
        with Receiver(path="/replay") as receiver:
            self.set_hook(receiver.url)
            response = self.api("orig", self.admin_key)
            self.assertEqual(response.status_code, 202, response.content)
            self.assertEqual(response.json(), {"replay_of": "orig", "webhook_status": 200})
            self.assertEqual(self.api("orig", self.read_key).status_code, 403)
            self.assertEqual(self.api("nope", self.admin_key).status_code, 404)
        self.assertEqual(len(receiver.received), 1)
        self.set_hook("http://127.0.0.1:9/")
        response = self.api("orig", self.admin_key)
        self.assertEqual(response.status_code, 502)
        self.assertIn("could not be reached", response.json()["detail"])
        self.set_hook("")
        response = self.api("orig", self.admin_key)
        self.assertEqual((response.status_code, response.json()["field"]), (409, "run_id"))

    def test_the_replay_and_its_original_link_both_ways(self):
        self.client.force_login(self.cast["viewer"])
        replay = self.client.get(reverse("traces:run_detail", args=[self.workspace.slug, "again"]))
        self.assertContains(replay, "Replay of")
        self.assertContains(replay, reverse("traces:run_detail", args=[self.workspace.slug, "orig"]))
        original = self.client.get(reverse("traces:run_detail", args=[self.workspace.slug, "orig"]))
        self.assertContains(original, "Replayed by")
        self.assertContains(original, reverse("traces:run_detail", args=[self.workspace.slug, "again"]))
        self.assertContains(original, "?a=orig&amp;b=again")
        self.assertEqual(Run.objects.get(run_id="again").replay_of, "orig")


class AgentSettingsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        ingest_batch(cls.workspace, workflow_run("r1"))
        cls.agent = Agent.objects.get(workspace=cls.workspace)

    def url(self):
        return reverse("governance:agent_replay", args=[self.workspace.slug, self.agent.pk])

    def test_an_admin_sets_the_webhook_and_the_secret_never_shows_again(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(
            self.url(), {"replay_url": "https://agent.example/replay", "replay_secret": SECRET}
        )
        self.assertRedirects(response, reverse("governance:agents", args=[self.workspace.slug]))
        self.agent.refresh_from_db()
        self.assertEqual(
            (self.agent.replay_url, self.agent.replay_secret), ("https://agent.example/replay", SECRET)
        )
        listing = self.client.get(reverse("governance:agents", args=[self.workspace.slug]))
        self.assertContains(listing, "https://agent.example/replay")
        self.assertNotContains(self.client.get(self.url()), SECRET)
        entry = AuditEntry.objects.get(action="agent.replay_webhook_changed")
        self.assertNotIn(SECRET, json.dumps(entry.changes))
        # Saved again without a secret: the one saved stays.
        self.client.post(self.url(), {"replay_url": "https://agent.example/v2", "replay_secret": ""})
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.replay_secret, SECRET)

    def test_bad_input_is_named(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(
            self.url(), {"replay_url": "ftp://agent.example/", "replay_secret": SECRET}
        )
        self.assertContains(response, "http:// or https://", status_code=400)
        response = self.client.post(self.url(), {"replay_url": "https://agent.example/", "replay_secret": ""})
        self.assertContains(response, "needs a signing secret", status_code=400)

    def test_viewers_and_outsiders_cannot_open_it(self):
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.client.get(self.url()).status_code, 403)
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(self.url()).status_code, 404)


class CompareTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        original_and_replay(cls.workspace)
        ingest_batch(cls.workspace, workflow_run("big", steps=40, start=300))
        ingest_batch(cls.cast["other_workspace"], workflow_run("theirs"))

    def url(self, a="orig", b="again"):
        return reverse("traces:run_compare", args=[self.workspace.slug]) + f"?a={a}&b={b}"

    def test_it_shows_where_the_paths_part_the_steps_and_the_output_diff_escaped(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(self.url())
        self.assertContains(response, "The paths part at step")
        self.assertContains(response, "only in A")
        self.assertContains(response, "&lt;b&gt;new&lt;/b&gt;")
        self.assertNotContains(response, "<b>new</b>")

    def test_the_same_run_twice_has_no_difference(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(self.url("orig", "orig"))
        self.assertContains(response, "Both runs took the same path")
        self.assertContains(response, "The outputs are the same")

    def test_a_fixed_number_of_queries_whatever_the_steps(self):
        self.client.force_login(self.cast["viewer"])
        self.client.get(self.url())
        with self.assertNumQueries(6):  # session, user, memberships, the runs, the tasks of each
            self.client.get(self.url())
        with self.assertNumQueries(6):
            self.client.get(self.url("orig", "big"))

    def test_runs_of_another_workspace_answer_404_and_bad_input_400(self):
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.client.get(self.url("orig", "theirs")).status_code, 404)
        self.assertEqual(self.client.get(self.url("orig", "x" * 201)).status_code, 400)
        self.assertContains(
            self.client.get(reverse("traces:run_compare", args=[self.workspace.slug])), "Run B"
        )
