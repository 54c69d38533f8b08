import json
import threading
from datetime import timedelta
from io import StringIO
from unittest import mock

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import TestCase, TransactionTestCase

from tests.events import BASE, event
from tests.factories import make_workspace
from traces.ingest import ingest_batch
from traces.management.commands import logs
from traces.models import Run


def run_events(run_id, session_id="conv-1"):
    """A failed run, handed to ingest out of time order."""
    return [
        event("run.failed", {"run_id": run_id, "error": "gave up"}, at=9),
        event(
            "run.start", {"run_id": run_id, "agent_id": "bot", "workflow": "refund", "session_id": session_id}
        ),
        event("step.start", {"run_id": run_id, "step_id": "s1", "name": "lookup", "type": "tool"}, at=1),
        event(
            "message",
            {"session_id": session_id, "run_id": run_id, "role": "user", "content": "Refund?"},
            at=0.5,
        ),
        event("llm.call", {"run_id": run_id, "step_id": "s1", "model": "gpt-4o", "prompt_tokens": 10}, at=2),
        event(
            "llm.call",
            {
                "run_id": run_id,
                "step_id": "s1",
                "model": "gpt-4o",
                "status": "error",
                "error": "rate limited",
            },
            at=3,
        ),
        event("step.failed", {"run_id": run_id, "step_id": "s1", "error": {"message": "timeout"}}, at=4),
        event(
            "log", {"run_id": run_id, "step_id": "l1", "name": "retry budget spent", "level": "ERROR"}, at=5
        ),
        event("log", {"run_id": run_id, "step_id": "l2", "name": "cleanup", "level": "info"}, at=6),
    ]


def logs_output(*args):
    out = StringIO()
    call_command("logs", *args, stdout=out)
    return out.getvalue().splitlines()


class LogsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        ingest_batch(cls.workspace, run_events("r-1"))
        ingest_batch(
            cls.workspace,
            [
                event("run.start", {"run_id": "r-2", "agent_id": "bot", "session_id": "conv-1"}, at=20),
                event(
                    "message",
                    {"session_id": "conv-1", "run_id": "r-2", "role": "user", "content": "And now?"},
                    at=20.5,
                ),
                event("run.complete", {"run_id": "r-2", "output": "done"}, at=21),
            ],
        )
        cls.failed_run = Run.objects.get(run_id="r-1")

    def test_it_prints_a_runs_events_in_time_order_prefixed_with_the_invocation_id(self):
        lines = logs_output("--run", "r-1")
        self.assertEqual(len(lines), 9)
        self.assertTrue(all(line.startswith(self.failed_run.invocation_id + " ") for line in lines))
        self.assertEqual(len(self.failed_run.invocation_id), 8)
        types = [line.split()[3] for line in lines]
        self.assertEqual(
            types,
            [
                "run.start",
                "message",
                "step.start",
                "llm.call",
                "llm.call",
                "step.failed",
                "log",
                "log",
                "run.failed",
            ],
        )
        self.assertIn(f"{BASE:%Y-%m-%d} 09:00:01.000 step.start       lookup [tool]", lines[2])
        self.assertIn("user: Refund?", lines[1])
        self.assertIn("lookup error=timeout", lines[5])
        self.assertIn("gpt-4o 10+0 tokens", lines[3])

    def test_errors_keeps_only_failures_and_error_logs(self):
        lines = logs_output("--run", "r-1", "--errors")
        self.assertEqual(
            [line.split()[3] for line in lines], ["llm.call", "step.failed", "log", "run.failed"]
        )
        self.assertIn("error=rate limited", lines[0])

    def test_kind_keeps_the_types_with_that_prefix(self):
        lines = logs_output("--run", "r-1", "--kind", "step.")
        self.assertEqual([line.split()[3] for line in lines], ["step.start", "step.failed"])

    def test_json_prints_one_object_per_line(self):
        records = [json.loads(line) for line in logs_output("--run", "r-1", "--json", "--kind", "run.")]
        self.assertEqual([r["type"] for r in records], ["run.start", "run.failed"])
        self.assertEqual(records[0]["invocation_id"], self.failed_run.invocation_id)
        self.assertEqual(records[0]["payload"]["workflow"], "refund")
        self.assertEqual(records[1]["timestamp"], (BASE + timedelta(seconds=9)).isoformat())

    def test_session_prints_every_run_of_the_conversation(self):
        lines = logs_output("--session", "conv-1", "--kind", "run.")
        other = Run.objects.get(run_id="r-2").invocation_id
        self.assertEqual(
            [(line.split()[0], line.split()[3]) for line in lines],
            [
                (self.failed_run.invocation_id, "run.start"),
                (self.failed_run.invocation_id, "run.failed"),
                (other, "run.start"),
                (other, "run.complete"),
            ],
        )

    def test_every_filter_names_steps_rather_than_printing_their_ids(self):
        for args, wanted in (
            (("--errors",), "lookup error=timeout"),
            (("--kind", "step.failed"), "lookup error=timeout"),
            (("--tail", "5"), "lookup error=timeout"),
        ):
            with self.subTest(args=args):
                lines = logs_output("--run", "r-1", *args)
                self.assertTrue(any(wanted in line for line in lines), lines)
                self.assertFalse(any(" s1 " in line for line in lines), lines)

    def test_tail_prints_the_last_events_in_order(self):
        lines = logs_output("--run", "r-1", "--tail", "3")
        self.assertEqual([line.split()[3] for line in lines], ["log", "log", "run.failed"])
        lines = logs_output("--run", "r-1", "--errors", "--tail", "2")
        self.assertEqual([line.split()[3] for line in lines], ["log", "run.failed"])

    def test_turn_prints_one_turn_of_the_conversation(self):
        first = logs_output("--session", "conv-1", "--turn", "1")
        self.assertEqual(first[0].split()[3], "run.start")
        self.assertEqual(first[-1].split()[3], "run.failed")
        self.assertTrue(all(line.startswith(self.failed_run.invocation_id) for line in first))
        second = logs_output("--session", "conv-1", "--turn", "2")
        other = Run.objects.get(run_id="r-2").invocation_id
        self.assertEqual(
            [(line.split()[0], line.split()[3]) for line in second][:2],
            [(other, "run.start"), (other, "message")],
        )
        # From a run, the turn is the conversation's, shown for that run's events.
        self.assertEqual(logs_output("--run", "r-1", "--turn", "1"), first)

    def test_a_turn_past_the_last_or_without_a_conversation_is_an_error(self):
        with self.assertRaisesMessage(CommandError, "the conversation has 2 turn(s), not 3"):
            logs_output("--session", "conv-1", "--turn", "3")
        ingest_batch(self.workspace, [event("run.start", {"run_id": "alone", "agent_id": "bot"})])
        with self.assertRaisesMessage(CommandError, "is not part of a conversation"):
            logs_output("--run", "alone", "--turn", "1")
        with self.assertRaisesMessage(CommandError, "--tail must be 1 or more"):
            logs_output("--run", "r-1", "--tail", "0")

    def test_it_pages_through_a_long_history_in_order(self):
        with mock.patch.object(logs, "PAGE", 2):
            lines = logs_output("--run", "r-1")
        self.assertEqual(lines, logs_output("--run", "r-1"))

    def test_an_unknown_run_is_an_error(self):
        with self.assertRaisesMessage(CommandError, "No run with id 'nope'"):
            logs_output("--run", "nope")
        with self.assertRaisesMessage(CommandError, "No session with id 'nope'"):
            logs_output("--session", "nope")

    def test_a_run_id_used_by_two_workspaces_needs_the_workspace(self):
        other = make_workspace()
        ingest_batch(other, [event("run.start", {"run_id": "r-1", "agent_id": "bot"})])
        with self.assertRaisesMessage(CommandError, "pass --workspace"):
            logs_output("--run", "r-1")
        self.assertEqual(len(logs_output("--run", "r-1", "--workspace", other.slug)), 1)

    def test_following_a_finished_run_until_done_prints_it_and_stops(self):
        self.assertEqual(len(logs_output("--run", "r-1", "--until-done", "--interval", "0.01")), 9)

    def test_an_interrupt_ends_following_quietly(self):
        with mock.patch.object(logs.time, "sleep", side_effect=KeyboardInterrupt):
            self.assertEqual(len(logs_output("--run", "r-2", "--follow")), 3)


class FollowTest(TransactionTestCase):
    def test_follow_prints_events_ingested_while_it_runs_and_stops_when_the_run_ends(self):
        workspace = make_workspace()
        ingest_batch(workspace, [event("run.start", {"run_id": "live", "agent_id": "bot"})])
        batches = [
            [event("step.start", {"run_id": "live", "step_id": "s1", "name": "draft"}, at=2)],
            # A late arrival, older than what was already printed, is still picked up.
            [event("log", {"run_id": "live", "step_id": "l1", "name": "late note"}, at=1)],
            [
                event("step.ok", {"run_id": "live", "step_id": "s1", "output": "ok"}, at=3),
                event("run.complete", {"run_id": "live"}, at=4),
            ],
        ]
        # Another thread ingests while the command waits between polls. The two take turns, so the
        # in-memory SQLite test database never sees a write during a read.
        your_turn, written = threading.Event(), threading.Event()

        def ingest():
            try:
                for batch in batches:
                    if not your_turn.wait(10):
                        return
                    your_turn.clear()
                    ingest_batch(workspace, batch)
                    written.set()
            finally:
                connections.close_all()

        def between_polls(seconds):
            written.clear()
            your_turn.set()
            written.wait(10)

        producer = threading.Thread(target=ingest)
        producer.start()
        out = StringIO()
        with mock.patch.object(logs.time, "sleep", side_effect=between_polls):
            call_command("logs", "--run", "live", "--follow", "--until-done", stdout=out)
        producer.join(timeout=10)
        self.assertFalse(producer.is_alive())
        types = [line.split()[3] for line in out.getvalue().splitlines()]
        self.assertEqual(types, ["run.start", "step.start", "log", "step.ok", "run.complete"])
        self.assertIn("draft → ok", out.getvalue())
