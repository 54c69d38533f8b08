"""Forgetting an end user: every row about them goes, every roll-up and card stays exact, the audit log
keeps the request without the data, through the command, the API and Settings → End users."""

import json
from dataclasses import asdict
from datetime import timedelta
from io import StringIO

from django.core.management import CommandError, call_command
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from backoffice import audit
from backoffice.forget import ACTION, Forget, user_hash
from backoffice.models import AuditEntry
from metrics.dashboards import DEFAULT_CARDS
from metrics.engine import evaluate
from metrics.models import DashboardCard, Kind, Source, TimeRange, TrackedEvent
from metrics.rollups import tracked_events as event_rollups
from tests.events import event, workflow_run
from tests.factories import make_api_key, make_cast, make_review, make_score, make_workspace
from traces.ingest import ingest_batch
from traces.models import ChatMessage, Event, ModelCall, Review, Run, Score, SearchDocument, Session, Task
from traces.rollups import daily as trace_rollups

DAY = 86400


def person_run(run_id, user, session_id, start=0.0):
    """A realistic run (tests.events.workflow_run) whose run.start names `user`."""
    events = workflow_run(run_id, session_id=session_id, start=start)
    for sent in events:
        if sent["type"] == "run.start":
            sent["body"]["user_id"] = user
    return events


def alice_and_bob(workspace):
    """Alice: two runs in her conversation, one in Bob's, a turn and business events without a run.
    Bob: one run in his own conversation."""
    ingest_batch(
        workspace,
        [
            *person_run("a1", "alice", "s-alice"),
            *person_run("a2", "alice", "s-alice", start=-2 * DAY),
            *person_run("a3", "alice", "s-bob", start=-DAY),
            *person_run("b1", "bob", "s-bob", start=-DAY - 60),
            event("message", {"session_id": "s-alice", "role": "user", "content": "delete me please"}, at=5),
            event("track", {"name": "signup", "session_id": "s-alice", "properties": {"plan": "pro"}}, at=6),
            event("track", {"name": "signup", "properties": {"user_id": "alice", "plan": "free"}}, at=7),
            event("track", {"name": "signup", "properties": {"user_id": "bob", "plan": "pro"}}, at=8),
        ],
    )
    a1 = Run.objects.get(workspace=workspace, run_id="a1")
    make_review(a1)
    make_score(a1, name="helpfulness")


def cards():
    """Every default card over a month, and business-event cards (the roll-up and a breakdown)."""
    made = [DashboardCard(**{**fields, "time_range": TimeRange.MONTH}) for fields in DEFAULT_CARDS]
    made += [
        DashboardCard(title="Signups", kind=Kind.NUMBER, source=Source.EVENTS, event_name="signup"),
        DashboardCard(
            title="By plan", kind=Kind.BAR, source=Source.EVENTS, event_name="signup", breakdown="plan"
        ),
    ]
    return made


def read(workspace, now):
    """Every card's result, its sums of money to float precision (a sum in another order may differ
    in the last bit)."""
    return [rounded(asdict(evaluate(card, workspace, now=now))) for card in cards()]


def rounded(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item) for item in value]
    return value


def alices_rows(workspace):
    runs = Run.objects.filter(workspace=workspace, run_id__in=["a1", "a2", "a3"])
    return {
        "runs": runs.count(),
        "conversations": Session.objects.filter(workspace=workspace, user_id="alice").count(),
        "tasks": Task.objects.filter(run__in=runs).count(),
        "model calls": ModelCall.objects.filter(run__in=runs).count(),
        "messages": ChatMessage.objects.filter(workspace=workspace, content__icontains="delete me").count(),
        "events": Event.objects.filter(workspace=workspace, payload__icontains="alice").count()
        + Event.objects.filter(workspace=workspace, payload__session_id="s-alice").count(),
        "business events": TrackedEvent.objects.filter(
            workspace=workspace, properties__user_id="alice"
        ).count(),
        "documents": SearchDocument.objects.filter(workspace=workspace, run__in=runs).count()
        + SearchDocument.objects.filter(workspace=workspace, text__icontains="delete me").count(),
    }


class ForgetTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.other = make_workspace()
        alice_and_bob(cls.workspace)
        ingest_batch(cls.other, person_run("elsewhere", "alice", "s-alice"))

    def forget(self, *args):
        out = StringIO()
        call_command("forget_user", self.workspace.slug, "alice", *args, stdout=out)
        return out.getvalue()

    def assert_alice_is_forgotten(self):
        self.assertEqual(set(alices_rows(self.workspace).values()), {0}, alices_rows(self.workspace))
        self.assertFalse(Review.objects.filter(workspace=self.workspace).exists())
        self.assertFalse(Score.objects.filter(workspace=self.workspace).exists())
        # Bob keeps his run, conversation and business event; his conversation lost Alice's run.
        bob = Session.objects.get(workspace=self.workspace, session_id="s-bob")
        self.assertEqual(list(bob.runs.values_list("run_id", flat=True)), ["b1"])
        self.assertEqual((bob.run_count, bob.message_count), (1, bob.messages.count()))
        self.assertEqual(
            list(bob.messages.order_by("sequence").values_list("sequence", flat=True)),
            list(range(1, bob.message_count + 1)),
        )
        self.assertTrue(
            TrackedEvent.objects.filter(workspace=self.workspace, properties__user_id="bob").exists()
        )
        # Another workspace's Alice is another person.
        self.assertTrue(Run.objects.filter(workspace=self.other, run_id="elsewhere").exists())
        self.assertEqual(trace_rollups.differences(self.workspace), [])
        self.assertEqual(trace_rollups.differences(self.other), [])

    def test_the_command_forgets_everything_about_the_person_and_every_card_equals_a_rebuild(self):
        output = self.forget()
        self.assertRegex(output, r"runs\s+3\n")
        self.assertRegex(output, r"conversations\s+1\n")
        self.assertRegex(output, r"reviews\s+1\n")
        self.assert_alice_is_forgotten()
        now = timezone.now()
        after = read(self.workspace, now)
        trace_rollups.rebuild(self.workspace)
        event_rollups.rebuild(self.workspace)
        self.assertEqual(read(self.workspace, now), after)
        self.assertTrue(any(result["value"] for result in after))  # Bob is still counted

    def test_the_audit_log_keeps_who_when_and_the_counts_but_not_the_id(self):
        self.forget()
        entry = AuditEntry.objects.get(workspace=self.workspace, action=ACTION)
        self.assertEqual(entry.actor_name, "manage.py forget_user")
        self.assertEqual(entry.changes["user_hash"], user_hash(self.workspace, "alice"))
        self.assertNotEqual(user_hash(self.workspace, "alice"), user_hash(self.other, "alice"))
        self.assertEqual(entry.changes["removed"]["runs"], 3)
        self.assertNotIn("alice", json.dumps(entry.changes) + entry.target)

    def test_a_dry_run_counts_and_deletes_nothing(self):
        before = alices_rows(self.workspace)
        output = self.forget("--dry-run")
        self.assertRegex(output, r"runs\s+3\n")
        self.assertEqual(alices_rows(self.workspace), before)
        self.assertFalse(AuditEntry.objects.filter(action=ACTION).exists())

    def test_it_deletes_in_bounded_batches(self):
        job = Forget(workspace=self.workspace, user_id="alice", batch=2)
        batches = []
        job.run(progress=lambda name, count: batches.append(count))
        self.assertLessEqual(max(batches), 2)
        self.assertGreater(len(batches), 10)
        self.assert_alice_is_forgotten()

    def test_the_preview_counts_what_goes(self):
        preview = Forget(workspace=self.workspace, user_id="alice").estimate()
        removed = Forget(workspace=self.workspace, user_id="alice").run()
        self.assertEqual(preview, removed)

    def test_bad_arguments_are_named(self):
        with self.assertRaisesMessage(CommandError, "workspace: no workspace"):
            call_command("forget_user", "nope", "alice", stdout=StringIO())
        with self.assertRaisesMessage(CommandError, "user_id"):
            call_command("forget_user", self.workspace.slug, " ", stdout=StringIO())


class ForgetApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        alice_and_bob(cls.workspace)
        cls.admin_key = make_api_key(cls.workspace, scopes=("admin",))[1]
        cls.read_key = make_api_key(cls.workspace, scopes=("read",))[1]

    def post(self, user, key, query=""):
        return self.client.post(
            f"/api/v1/end-users/{user}/forget{query}", headers={"Authorization": f"Bearer {key}"}
        )

    def test_an_admin_key_forgets_and_the_answer_counts(self):
        response = self.post("alice", self.admin_key, "?dry_run=true")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["removed"]["runs"], 3)
        self.assertEqual(alices_rows(self.workspace)["runs"], 3)
        response = self.post("alice", self.admin_key)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json(), {"dry_run": False, "removed": response.json()["removed"]})
        self.assertEqual(response.json()["removed"]["conversations"], 1)
        self.assertEqual(set(alices_rows(self.workspace).values()), {0})
        entry = AuditEntry.objects.get(workspace=self.workspace, action=ACTION)
        self.assertTrue(entry.actor_name.startswith("key "))

    def test_a_key_without_the_admin_scope_gets_403_and_bad_ids_422(self):
        self.assertEqual(self.post("alice", self.read_key).status_code, 403)
        response = self.post("x" * 201, self.admin_key)
        self.assertEqual((response.status_code, response.json()["field"]), (422, "user_id"))
        self.assertEqual(alices_rows(self.workspace)["runs"], 3)

    def test_an_id_nothing_is_known_about_answers_404(self):
        response = self.post("nobody", self.admin_key)
        self.assertEqual((response.status_code, response.json()["field"]), (404, "user_id"))
        self.assertEqual(self.post("alice", self.admin_key).status_code, 200)
        self.assertEqual(self.post("alice", self.admin_key).status_code, 404)

    def test_the_operation_is_in_the_openapi_schema(self):
        schema = self.client.get("/api/v1/openapi.json").json()
        self.assertIn("post", schema["paths"]["/api/v1/end-users/{user_id}/forget"])


class ForgetPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        alice_and_bob(cls.workspace)

    def url(self):
        return reverse("governance:forget_user", args=[self.workspace.slug])

    def test_only_admins_open_it(self):
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.get(self.url()).status_code, 403)
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(self.url()).status_code, 404)

    def test_the_preview_costs_a_fixed_number_of_queries(self):
        self.client.force_login(self.cast["admin"])
        self.client.get(self.url(), {"user": "bob"})
        with self.assertNumQueries(13):  # the session, the workspace and role, one COUNT per step
            small = self.client.get(self.url(), {"user": "bob"})
        with self.assertNumQueries(13):
            large = self.client.get(self.url(), {"user": "alice"})
        self.assertContains(small, "What would go")
        self.assertContains(large, "Forget this end user")

    def test_a_confirmed_post_forgets_and_a_wrong_confirmation_is_named(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(self.url(), {"user": "alice", "confirm": "alic"})
        self.assertContains(response, "Type the same id", status_code=400)
        self.assertContains(response, "What would go", status_code=400)
        self.assertEqual(alices_rows(self.workspace)["runs"], 3)
        response = self.client.post(self.url(), {"user": "alice", "confirm": "alice"})
        self.assertRedirects(response, self.url())
        self.assertEqual(set(alices_rows(self.workspace).values()), {0})
        self.assertEqual(AuditEntry.objects.get(action=ACTION).actor_name, self.cast["admin"].username)

    def test_the_form_needs_csrf(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.cast["admin"])
        response = client.post(self.url(), {"user": "alice", "confirm": "alice"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(alices_rows(self.workspace)["runs"], 3)

    def test_the_conversation_page_links_admins_to_it(self):
        page = reverse("traces:session_detail", args=[self.workspace.slug, "s-alice"])
        self.client.force_login(self.cast["admin"])
        self.assertContains(self.client.get(page), f"{self.url()}?user=alice")
        self.client.force_login(self.cast["viewer"])
        self.assertNotContains(self.client.get(page), self.url())


class ForgetAuditRetentionTests(TestCase):
    def test_the_audit_retention_keeps_the_forget_entries(self):
        workspace = make_workspace(audit_retention_days=30)
        alice_and_bob(workspace)
        call_command("forget_user", workspace.slug, "alice", stdout=StringIO())
        AuditEntry.objects.create(workspace=workspace, actor_name="x", action="member.added")
        later = timezone.now() + timedelta(days=400)
        self.assertEqual(audit.purge(workspace, now=later), 1)
        self.assertTrue(AuditEntry.objects.filter(workspace=workspace, action=ACTION).exists())
