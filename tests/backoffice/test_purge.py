from datetime import timedelta
from io import StringIO
from unittest import mock

from django.core.management import CommandError, call_command
from django.test import TestCase
from django.utils import timezone

from backoffice.retention import Purge
from metrics.models import TrackedEvent
from tests.factories import make_workspace
from traces.ingest import ingest_batch
from traces.models import (
    ChatMessage,
    Event,
    ModelCall,
    Review,
    ReviewRule,
    ReviewRuleMatch,
    Run,
    Session,
    Task,
    TraceRollup,
)
from traces.rollups.daily import current_rows, differences

OLD, RECENT = 60, 1  # days ago; the workspace keeps 30


def ev(kind, body, days_ago, event_id):
    stamp = timezone.now() - timedelta(days=days_ago)
    return {"id": event_id, "type": kind, "timestamp": stamp.isoformat(), "body": body}


def run_events(run_id, session_id, days_ago):
    return [
        ev(
            "run.start",
            {"run_id": run_id, "agent_id": "bot", "session_id": session_id},
            days_ago,
            f"{run_id}-a",
        ),
        ev("step.start", {"run_id": run_id, "step_id": "t1", "name": "plan"}, days_ago, f"{run_id}-b"),
        ev(
            "step.start",
            {"run_id": run_id, "step_id": "t2", "name": "act", "parent_id": "t1"},
            days_ago,
            f"{run_id}-c",
        ),
        ev(
            "llm.call",
            {"run_id": run_id, "step_id": "t2", "model": "m", "prompt_tokens": 100, "cost": 0.5},
            days_ago,
            f"{run_id}-d",
        ),
        ev(
            "message",
            {"session_id": session_id, "run_id": run_id, "role": "user", "content": f"hi {run_id}"},
            days_ago,
            f"{run_id}-e",
        ),
        ev("track", {"name": "signup", "run_id": run_id}, days_ago, f"{run_id}-f"),
        ev("run.complete", {"run_id": run_id, "output": "done"}, days_ago - 0.001, f"{run_id}-g"),
    ]


class PurgeTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(retention_days=30)
        cls.forever = make_workspace()
        ingest_batch(
            cls.workspace,
            [
                *run_events("old-1", "mixed", OLD),
                *run_events("old-2", "mixed", OLD),
                *run_events("new-1", "mixed", RECENT),
                *run_events("old-3", "gone", OLD),
                ev("agent.upsert", {"agent_id": "bot", "name": "Bot"}, OLD, "agent"),
            ],
        )
        Review.objects.create(
            workspace=cls.workspace, run=Run.objects.get(run_id="old-1"), rating="bad", comment="x" * 12
        )
        rule = ReviewRule.objects.create(workspace=cls.workspace, name="Everything")
        ReviewRuleMatch.objects.create(rule=rule, run=Run.objects.get(run_id="old-1"), sampled=True)
        ingest_batch(cls.forever, run_events("ancient", "kept", OLD))
        cls.rollups = current_rows(cls.workspace)

    def purge(self, *args):
        out, err = StringIO(), StringIO()
        call_command("purge", *args, stdout=out, stderr=err)
        return out.getvalue()

    def assert_only_recent_data_is_left(self):
        self.assertEqual(
            list(Run.objects.filter(workspace=self.workspace).values_list("run_id", flat=True)), ["new-1"]
        )
        self.assertFalse(Task.objects.filter(workspace=self.workspace).exclude(run__run_id="new-1").exists())
        self.assertEqual(ModelCall.objects.filter(workspace=self.workspace).count(), 1)
        self.assertFalse(
            Event.objects.filter(
                workspace=self.workspace, timestamp__lt=timezone.now() - timedelta(days=30)
            ).exists()
        )
        self.assertEqual(ChatMessage.objects.filter(workspace=self.workspace).count(), 1)
        self.assertEqual(TrackedEvent.objects.filter(workspace=self.workspace).count(), 1)
        self.assertFalse(Review.objects.exists())
        self.assertFalse(ReviewRuleMatch.objects.exists())
        self.assertEqual(
            list(Session.objects.filter(workspace=self.workspace).values_list("session_id", flat=True)),
            ["mixed"],
        )
        mixed = Session.objects.get(session_id="mixed")
        self.assertEqual((mixed.run_count, mixed.message_count, mixed.total_tokens), (1, 1, 100))
        self.assertEqual(mixed.last_user_text, "hi new-1")
        self.assertEqual(ChatMessage.objects.get(workspace=self.workspace).sequence, 1)
        # The daily trace roll-ups keep what went (the dashboards' history); the days left equal
        # their rows.
        self.assertEqual(current_rows(self.workspace), self.rollups)
        cutoff_day = str(Purge.for_workspace(self.workspace).cutoff.date())
        self.assertEqual([d for d in differences(self.workspace) if d[0][2] >= cutoff_day], [])
        runs = TraceRollup.objects.filter(workspace=self.workspace, source="runs")
        self.assertEqual(sum(runs.values_list("n", flat=True)), 4)
        self.assertEqual(differences(self.forever), [])
        # A workspace without retention keeps everything.
        self.assertEqual(Run.objects.filter(workspace=self.forever).count(), 1)
        self.assertEqual(Session.objects.get(session_id="kept").run_count, 1)

    def test_it_deletes_what_is_older_than_the_retention_and_keeps_roll_ups_right(self):
        output = self.purge()
        self.assert_only_recent_data_is_left()
        self.assertIn(f"{self.workspace.slug}: data before", output)
        self.assertRegex(output, r"runs\s+3\n")
        self.assertRegex(output, r"tasks\s+6\n")
        self.assertRegex(output, r"conversations\s+1\n")
        self.assertNotIn(self.forever.slug, output)

    def test_a_dry_run_counts_and_deletes_nothing(self):
        before = Event.objects.count()
        output = self.purge("--dry-run", "--workspace", self.workspace.slug)
        self.assertIn("dry run, would remove", output)
        self.assertRegex(output, r"runs\s+3\n")
        self.assertRegex(output, r"model calls\s+3\n")
        self.assertEqual(Event.objects.count(), before)
        self.assertEqual(Run.objects.filter(workspace=self.workspace).count(), 4)

    def test_it_deletes_in_bounded_batches(self):
        purge = Purge.for_workspace(self.workspace, batch=2)
        batches = []
        purge.run(progress=lambda name, count: batches.append(count))
        self.assertLessEqual(max(batches), 2)
        self.assertGreater(len(batches), 10)
        self.assert_only_recent_data_is_left()

    def test_an_interrupted_purge_leaves_consistent_data_and_a_rerun_finishes(self):
        real = Purge.delete_batch
        calls = []

        def interrupted(purge, step):
            calls.append(step.name)
            if step.name == "runs":
                raise KeyboardInterrupt
            return real(purge, step)

        with mock.patch.object(Purge, "delete_batch", interrupted), self.assertRaises(CommandError) as caught:
            self.purge("--batch-size", "1")
        self.assertIn("run purge again", str(caught.exception))
        self.assertEqual(Run.objects.filter(workspace=self.workspace).count(), 4)
        self.assertFalse(ModelCall.objects.filter(run__run_id__startswith="old").exists())
        self.assertEqual(current_rows(self.workspace), self.rollups)
        self.purge()
        self.assert_only_recent_data_is_left()

    def test_a_second_run_finds_nothing_to_do(self):
        self.purge()
        self.assertIn("nothing", self.purge("--workspace", self.workspace.slug))

    def test_an_unknown_workspace_is_a_clear_error(self):
        with self.assertRaisesMessage(CommandError, "--workspace: no workspace has the slug 'nope'"):
            self.purge("--workspace", "nope")

    def test_a_workspace_without_retention_says_so(self):
        self.assertIn("keeps data forever", self.purge("--workspace", self.forever.slug))
