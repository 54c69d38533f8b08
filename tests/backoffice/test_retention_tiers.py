"""Retention tiers (issue 22): payloads go after N days, rows after M, daily roll-ups after K; runs
still running or paused are never purged; the dashboard cards read the same after a payload purge and
after a row purge; the audit log says what a purge did; the settings page sets the three values."""

from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from backoffice.models import AuditEntry
from backoffice.retention import REMOVED, Purge
from metrics.engine import evaluate
from metrics.models import Aggregation, DashboardCard, Kind, SpendRollup, TimeRange, TrackedEventRollup
from tests.factories import make_cast, make_workspace
from traces.ingest import ingest_batch
from traces.models import ChatMessage, Event, ModelCall, Run, Task, TraceRollup
from traces.rollups.daily import current_rows, differences
from traces.search.query import matching

SECRET = "zanzibar"  # a word every payload of the runs says, to find in the search index


def ev(kind, body, days_ago, event_id):
    stamp = timezone.now() - timedelta(days=days_ago)
    return {"id": event_id, "type": kind, "timestamp": stamp.isoformat(), "body": body}


def run_events(run_id, days_ago, end=None):
    """A run with payloads everywhere, ended by `end` ("run.complete", "run.paused", None: running)."""
    events = [
        ev(
            "run.start",
            {"run_id": run_id, "agent_id": "bot", "session_id": f"s-{run_id}", "input": f"{SECRET} in"},
            days_ago,
            f"{run_id}-a",
        ),
        ev(
            "step.start",
            {"run_id": run_id, "step_id": "t1", "name": "plan", "input": f"{SECRET} plan"},
            days_ago,
            f"{run_id}-b",
        ),
        ev(
            "step.ok",
            {"run_id": run_id, "step_id": "t1", "output": f"{SECRET} planned"},
            days_ago,
            f"{run_id}-c",
        ),
        ev(
            "llm.call",
            {
                "run_id": run_id,
                "step_id": "t1",
                "model": "m",
                "prompt_tokens": 100,
                "completion_tokens": 10,
                "cost": 0.5,
                "request": {"q": SECRET},
                "response": f"{SECRET} answer",
            },
            days_ago,
            f"{run_id}-d",
        ),
        ev(
            "message",
            {"session_id": f"s-{run_id}", "run_id": run_id, "role": "user", "content": f"{SECRET} hi"},
            days_ago,
            f"{run_id}-e",
        ),
        ev("track", {"name": "signup", "run_id": run_id}, days_ago, f"{run_id}-f"),
    ]
    if end == "run.complete":
        events.append(
            ev(end, {"run_id": run_id, "output": f"{SECRET} done"}, days_ago - 0.001, f"{run_id}-g")
        )
    elif end == "run.paused":
        events.append(ev(end, {"run_id": run_id}, days_ago - 0.001, f"{run_id}-g"))
    return events


CARDS = [
    DashboardCard(
        title="Runs",
        kind=Kind.NUMBER,
        source="runs",
        aggregation=Aggregation.COUNT,
        time_range=TimeRange.QUARTER,
    ),
    DashboardCard(
        title="Tokens",
        kind=Kind.NUMBER,
        source="model_calls",
        aggregation=Aggregation.SUM,
        property="total_tokens",
        time_range=TimeRange.QUARTER,
    ),
    DashboardCard(
        title="Signups",
        kind=Kind.NUMBER,
        source="events",
        event_name="signup",
        aggregation=Aggregation.COUNT,
        time_range=TimeRange.QUARTER,
    ),
]


class RetentionTiersTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        # Payloads 7 days, rows 30, roll-ups 100.
        cls.workspace = make_workspace(payload_retention_days=7, retention_days=30, rollup_retention_days=100)
        ingest_batch(
            cls.workspace,
            [
                *run_events("ancient", 250, "run.complete"),
                *run_events("old", 60, "run.complete"),
                *run_events("old-running", 60),
                *run_events("old-paused", 60, "run.paused"),
                *run_events("mid", 15, "run.complete"),
                *run_events("new", 1, "run.complete"),
            ],
        )
        cls.now = timezone.now()

    def cards(self):
        return [evaluate(card, self.workspace, now=self.now) for card in CARDS]

    def run_texts(self, run_id):
        run = Run.objects.get(workspace=self.workspace, run_id=run_id)
        return repr(
            [
                run.input,
                run.output,
                run.state,
                *Task.objects.filter(run=run).values_list("input", "output"),
                *ModelCall.objects.filter(run=run).values_list("request", "response"),
                *ChatMessage.objects.filter(run=run).values_list("content"),
                *Event.objects.filter(run=run).values_list("payload"),
            ]
        )

    def test_payloads_go_first_and_the_rows_keep_their_measures(self):
        purge = Purge.for_workspace(self.workspace, now=self.now)
        purge.strip_payloads()
        mid = Run.objects.get(workspace=self.workspace, run_id="mid")
        self.assertNotIn(SECRET, self.run_texts("mid"))
        self.assertEqual((mid.input, mid.output), (None, None))
        self.assertEqual((mid.status, mid.total_tokens, mid.model_calls), ("completed", 110, 1))
        self.assertEqual(ChatMessage.objects.get(run=mid).content, REMOVED)
        self.assertEqual(ModelCall.objects.get(run=mid).prompt_tokens, 100)
        self.assertEqual(Task.objects.get(run=mid).name, "plan")
        # The recent run and the runs still going keep their payloads.
        for run_id in ("new", "old-running", "old-paused"):
            with self.subTest(run_id=run_id):
                self.assertIn(SECRET, self.run_texts(run_id))
        # The search index forgets the text that went.
        runs = set(matching(self.workspace, SECRET).values_list("run__run_id", flat=True))
        self.assertEqual(runs, {"new", "old-running", "old-paused"})

    def test_the_tiers_purge_rows_and_roll_ups_but_never_a_running_or_paused_run(self):
        rollup_cutoff = (self.now - timedelta(days=100)).date()
        old_spend = SpendRollup.objects.filter(workspace=self.workspace, day__lt=rollup_cutoff)
        self.assertTrue(old_spend.exists())
        Purge.for_workspace(self.workspace, now=self.now).run()
        runs = set(Run.objects.filter(workspace=self.workspace).values_list("run_id", flat=True))
        self.assertEqual(runs, {"old-running", "old-paused", "mid", "new"})
        for run_id in ("old-running", "old-paused"):
            with self.subTest(run_id=run_id):
                self.assertIn(SECRET, self.run_texts(run_id))
                self.assertTrue(ChatMessage.objects.filter(run__run_id=run_id).exists())
        self.assertFalse(Task.objects.filter(run__run_id__in=["old", "ancient"]).exists())
        # The roll-ups of the ancient run's day went, a whole day; the old run's are kept.
        self.assertFalse(old_spend.exists())
        self.assertFalse(TraceRollup.objects.filter(workspace=self.workspace, day__lt=rollup_cutoff).exists())
        self.assertFalse(
            TrackedEventRollup.objects.filter(workspace=self.workspace, day__lt=rollup_cutoff).exists()
        )
        old_day = (self.now - timedelta(days=60)).date()
        self.assertEqual(
            TraceRollup.objects.get(
                workspace=self.workspace, source="runs", day=old_day, status="completed"
            ).n,
            1,
        )

    def test_the_cards_read_the_same_after_a_payload_purge_and_after_a_row_purge(self):
        before = self.cards()
        self.assertEqual(before[0].value, 5)  # ancient is outside the quarter
        rollups_before = current_rows(self.workspace)
        purge = Purge.for_workspace(self.workspace, now=self.now)
        purge.strip_payloads()
        self.assertEqual(self.cards(), before)
        self.assertEqual(differences(self.workspace), [])
        purge.run()
        self.assertEqual(self.cards(), before)
        # Not decremented: only the expired days left the roll-ups; the days kept equal their rows.
        rollup_day = str(purge.rollup_cutoff.date())
        self.assertEqual(
            current_rows(self.workspace), {k: v for k, v in rollups_before.items() if k[2] >= rollup_day}
        )
        row_day = str(purge.cutoff.date())
        self.assertEqual([d for d in differences(self.workspace) if d[0][2] >= row_day], [])

    def test_the_audit_log_says_what_the_purge_did(self):
        removed = Purge.for_workspace(self.workspace, now=self.now).run()
        entry = AuditEntry.objects.get(workspace=self.workspace, action="retention.purged")
        self.assertEqual(entry.actor_name, "purge")
        self.assertEqual(entry.changes["runs"], removed["runs"])
        self.assertEqual(entry.changes["runs"], 2)
        self.assertEqual(entry.changes["run payloads"], 3)  # mid, then old and ancient before they go
        self.assertEqual(entry.changes["roll-up days"], 1)
        self.assertIn("payloads before", entry.changes)
        self.assertNotIn(SECRET, repr(entry.changes))

    def test_a_second_purge_finds_nothing_and_writes_no_entry(self):
        Purge.for_workspace(self.workspace, now=self.now).run()
        self.workspace.refresh_from_db()
        removed = Purge.for_workspace(self.workspace, now=self.now).run()
        self.assertFalse(any(removed.values()), removed)
        self.assertEqual(AuditEntry.objects.filter(action="retention.purged").count(), 1)

    def test_a_paused_run_that_ends_later_loses_its_payloads_at_the_next_purge(self):
        Purge.for_workspace(self.workspace, now=self.now).run()
        self.workspace.refresh_from_db()
        ingest_batch(self.workspace, [ev("run.complete", {"run_id": "old-paused"}, 10, "paused-end")])
        Purge.for_workspace(self.workspace, now=self.now).run()
        self.assertNotIn(SECRET, self.run_texts("old-paused"))

    def test_batches_are_bounded(self):
        batches = []
        Purge.for_workspace(self.workspace, now=self.now, batch=1).run(
            lambda name, count: batches.append(count)
        )
        self.assertEqual(max(batches), 1)


class RetentionSettingsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.url = f"/w/{cls.workspace.slug}/settings/retention/"

    def post(self, **values):
        fields = {"payload_retention_days": "", "retention_days": "", "rollup_retention_days": "365"}
        return self.client.post(self.url, {**fields, "audit_retention_days": "", **values})

    def test_an_admin_sets_the_three_tiers_and_it_is_audited(self):
        self.client.force_login(self.cast["admin"])
        page = self.client.get(self.url)
        self.assertContains(page, 'name="payload_retention_days"')
        self.assertContains(page, 'name="rollup_retention_days"')
        response = self.post(payload_retention_days="30", retention_days="90", rollup_retention_days="400")
        self.assertRedirects(response, self.url)
        self.workspace.refresh_from_db()
        self.assertEqual(
            (
                self.workspace.payload_retention_days,
                self.workspace.retention_days,
                self.workspace.rollup_retention_days,
            ),
            (30, 90, 400),
        )
        entry = AuditEntry.objects.get(action="retention.changed")
        self.assertEqual(
            entry.changes, {"payload_days": [None, 30], "days": [None, 90], "rollup_days": [365, 400]}
        )
        self.assertContains(self.client.get(self.url), "Payloads older than <strong>30 days</strong>")

    def test_tiers_out_of_order_are_refused_naming_the_field(self):
        self.client.force_login(self.cast["admin"])
        response = self.post(payload_retention_days="60", retention_days="30")
        self.assertContains(response, "Keep payloads no longer than the data (30 days)")
        response = self.post(retention_days="30", rollup_retention_days="7")
        self.assertContains(response, "Keep daily roll-ups at least as long as the data (30 days)")
        response = self.post(rollup_retention_days="0")
        self.assertContains(response, "Choose between 1 and 36,500 days")
        self.workspace.refresh_from_db()
        self.assertIsNone(self.workspace.retention_days)
        self.assertFalse(AuditEntry.objects.exists())

    def test_a_reviewer_cannot_change_the_tiers(self):
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.post(payload_retention_days="1").status_code, 403)
        self.workspace.refresh_from_db()
        self.assertIsNone(self.workspace.payload_retention_days)
