import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, TestCase

from backoffice.models import ApiKey, Workspace
from metrics.models import TrackedEvent
from tests.factories import make_run, make_workspace
from traces import demo
from traces.ingest.schemas import EVENT_TYPES
from traces.live import live_context
from traces.models import (
    Agent,
    ChatMessage,
    Event,
    ModelCall,
    Review,
    ReviewActivity,
    Run,
    Session,
    Task,
    TaskType,
)

ANCHOR = "2026-11-20T09:00:00+00:00"
# What seed 42 at scale 1 and ANCHOR stores. The same on SQLite and PostgreSQL: CI runs this file on both.
EXPECTED_COUNTS = {
    "agents": 3,
    "events": 7028,
    "messages": 751,
    "model_calls": 867,
    "reviews": 10,
    "runs": 353,
    "sessions": 100,
    "tasks": 2137,
    "tracked_events": 174,
}
EXPECTED_DIGEST = "e33fc9c0e1cca8b2"


def seed(*args):
    out = StringIO()
    call_command("seed_demo", "--anchor", ANCHOR, *args, stdout=out)
    return out.getvalue()


def canonical(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.8f}"
    raise TypeError(type(value))


def fingerprint(workspace):
    """Counts per table and a digest of the rows' content: no database ids, no times of receipt."""
    scoped = {"workspace": workspace}
    tables = {
        "agents": Agent.objects.filter(**scoped)
        .order_by("agent_id")
        .values_list("agent_id", "name", "description", "mode", "max_input_chars", "max_output_chars"),
        "sessions": Session.objects.filter(**scoped)
        .order_by("session_id")
        .values_list(
            "session_id",
            "agent__agent_id",
            "user_id",
            "started_at",
            "last_activity_at",
            "run_count",
            "message_count",
            "total_tokens",
            "cost",
            "has_error",
            "last_user_text",
            "last_assistant_text",
        ),
        "runs": Run.objects.filter(**scoped)
        .order_by("run_id")
        .values_list(
            "run_id",
            "invocation_id",
            "session__session_id",
            "agent__agent_id",
            "user_id",
            "workflow",
            "status",
            "started_at",
            "ended_at",
            "duration_ms",
            "input",
            "output",
            "error",
            "trace",
            "model_calls",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "total_tokens",
            "cost",
            "state",
            "graph",
            "metadata",
            "tags",
        ),
        "tasks": Task.objects.filter(**scoped)
        .order_by("run__run_id", "step_id")
        .values_list(
            "run__run_id",
            "step_id",
            "parent__step_id",
            "sequence",
            "name",
            "type",
            "status",
            "started_at",
            "ended_at",
            "duration_ms",
            "input",
            "output",
            "error",
            "metadata",
            "attempt",
            "total_tokens",
            "cost",
        ),
        "model_calls": ModelCall.objects.filter(**scoped)
        .order_by("run__run_id", "call_id")
        .values_list(
            "run__run_id",
            "call_id",
            "task__step_id",
            "provider",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "total_tokens",
            "latency_ms",
            "ttft_ms",
            "cost",
            "finish_reason",
            "status",
            "error",
            "request",
            "response",
            "created_at",
        ),
        "messages": ChatMessage.objects.filter(**scoped)
        .order_by("session__session_id", "sequence")
        .values_list(
            "session__session_id", "sequence", "run__run_id", "step_id", "role", "content", "created_at"
        ),
        "events": Event.objects.filter(**scoped)
        .order_by("event_id")
        .values_list("event_id", "type", "run__run_id", "step_id", "timestamp", "payload"),
        "tracked_events": TrackedEvent.objects.filter(**scoped)
        .order_by("event_id")
        .values_list("event_id", "name", "properties", "timestamp", "run__run_id", "session__session_id"),
        "reviews": Review.objects.filter(**scoped)
        .order_by("run__run_id")
        .values_list(
            "run__run_id",
            "rating",
            "comment",
            "priority",
            "tags",
            "status",
            "assignee__username",
            "corrected_output",
            "target_message__event_id",
            "action_taken",
            "resolved_at",
            "created_at",
        ),
    }
    rows = {name: [list(row) for row in query] for name, query in tables.items()}
    text = json.dumps(rows, sort_keys=True, default=canonical)
    return {name: len(value) for name, value in rows.items()}, hashlib.sha256(text.encode()).hexdigest()[:16]


class SeedDemoTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.output = seed()
        cls.workspace = Workspace.objects.get(slug="demo")
        cls.runs = Run.objects.filter(workspace=cls.workspace)
        cls.tasks = Task.objects.filter(workspace=cls.workspace)

    def test_it_loads_a_few_hundred_runs_in_about_a_hundred_conversations(self):
        self.assertTrue(300 <= self.runs.count() <= 500)
        self.assertEqual(Session.objects.filter(workspace=self.workspace).count(), 100)
        self.assertIn(f"{EXPECTED_COUNTS['runs']} runs in 100 conversations", self.output)

    def test_it_creates_the_demo_workspace_and_prints_a_working_api_key_last(self):
        self.assertEqual(self.workspace.name, "Demo workspace")
        raw_key = self.output.strip().splitlines()[-1]
        self.assertEqual(ApiKey.find(raw_key).workspace, self.workspace)

    def test_it_shows_a_progress_bar_on_stdout(self):
        self.assertIn("Sending events", self.output)
        events = EXPECTED_COUNTS["events"]
        self.assertIn(f"{events}/{events}", self.output)

    def test_it_stores_every_generated_event_through_the_ingest(self):
        generated = demo.generate(42, 1, datetime.fromisoformat(ANCHOR)).events
        stored = set(Event.objects.filter(workspace=self.workspace).values_list("event_id", flat=True))
        self.assertEqual(stored, {e["id"] for e in generated})

    def test_it_declares_three_agents_with_their_payload_modes(self):
        agents = dict(Agent.objects.filter(workspace=self.workspace).values_list("agent_id", "mode"))
        self.assertEqual(
            agents, {"support-concierge": "full", "order-validation": "full", "doc-analyst": "standard"}
        )

    def test_it_uses_every_step_type(self):
        used = set(self.tasks.values_list("type", flat=True))
        self.assertEqual(used, set(TaskType.values))

    def test_it_leaves_gates_waiting_approved_and_rejected(self):
        gates = self.tasks.filter(type="gate")
        self.assertEqual(set(gates.values_list("status", flat=True)), {"waiting", "approved", "rejected"})
        waiting = gates.filter(status="waiting").values_list("run__status", flat=True)
        self.assertEqual(set(waiting), {"paused"})
        decided = self.tasks.filter(type="gate", status__in=["approved", "rejected"]).first()
        self.assertIn("approver", decided.metadata)

    def test_it_declares_the_order_workflow_graph_and_checkpoints_its_trace(self):
        run = self.runs.filter(agent__agent_id="order-validation", status="completed").first()
        node_ids = {node["id"] for node in run.graph["nodes"]}
        self.assertTrue(set(run.trace) <= node_ids)
        self.assertEqual(run.trace[:2], ["receive_order", "validate_order"])
        self.assertIn(run.state["status"], {"approved", "rejected", "auto_approved"})

    def test_it_runs_foreach_iterations_and_parallel_branches_as_children(self):
        foreach = self.tasks.filter(type="foreach", status="ok").first()
        self.assertGreaterEqual(foreach.children.count(), 1)
        parallel = self.tasks.filter(type="parallel", status="ok").first()
        branches = list(parallel.children.order_by("started_at"))
        self.assertEqual({b.name for b in branches}, {"fraud_score", "credit_check", "inventory_check"})
        # Branches run side by side: each starts before the others end.
        self.assertLess(max(b.started_at for b in branches), min(b.ended_at for b in branches))

    def test_it_retries_failed_steps_with_a_second_attempt(self):
        retried = self.tasks.filter(attempt=2, status="ok")
        self.assertTrue(retried.exists())
        for task in retried:
            first = self.tasks.get(run=task.run, name=task.name, attempt=1, parent=task.parent)
            self.assertEqual(first.status, "failed")

    def test_it_keeps_a_few_runs_running_and_some_failed(self):
        running = self.runs.filter(status="running")
        self.assertEqual(running.count(), 4)
        self.assertEqual(
            set(running.values_list("agent__agent_id", flat=True)),
            {"support-concierge", "order-validation", "doc-analyst"},
        )
        last_day = datetime.fromisoformat(ANCHOR) - timedelta(hours=24)
        self.assertTrue(self.runs.filter(status="failed", started_at__gte=last_day).exists())
        self.assertTrue(Session.objects.filter(workspace=self.workspace, has_error=True).exists())

    def test_its_hanging_runs_date_from_their_last_event_so_their_pages_stop_polling(self):
        for run in self.runs.filter(status="running"):
            last = Event.objects.filter(run=run).latest("timestamp").timestamp
            self.assertEqual(run.updated_at, last)
            self.assertLessEqual(run.updated_at, datetime.fromisoformat(ANCHOR))
        changed = self.runs.filter(status="running").values_list("updated_at", flat=True)
        self.assertFalse(live_context(changed)["live"])

    def test_it_holds_multi_turn_conversations_with_tool_turns_and_structured_content(self):
        session = Session.objects.filter(workspace=self.workspace, run_count__gte=3).first()
        roles = set(session.messages.values_list("role", flat=True))
        self.assertTrue({"user", "assistant", "tool"} <= roles)
        contents = ChatMessage.objects.filter(workspace=self.workspace, role="assistant").values_list(
            "content", flat=True
        )
        buttons = [c for c in contents if isinstance(c, dict)]
        self.assertTrue(buttons)
        self.assertEqual(buttons[0]["type"], "buttons")
        self.assertTrue(buttons[0]["text"] and buttons[0]["buttons"])
        tools = set(self.tasks.filter(type="tool").values_list("name", flat=True))
        self.assertTrue({"lookup_order", "refund", "search_kb"} <= tools)
        self.assertTrue(self.tasks.filter(type="tool", status="failed").exists())

    def test_it_records_model_calls_of_real_models_with_timings(self):
        calls = ModelCall.objects.filter(workspace=self.workspace)
        models = set(calls.values_list("model", flat=True))
        self.assertEqual(models, {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-20250514"})
        call = calls.filter(status="ok", model="gpt-4o").first()
        self.assertGreater(call.latency_ms, call.ttft_ms)
        self.assertGreater(call.cost, 0)
        self.assertIn(call.finish_reason, {"stop", "tool_calls"})
        self.assertTrue(calls.filter(status="error").exists())
        self.assertTrue(calls.filter(cached_tokens__gt=0).exists())
        documents = self.runs.filter(agent__agent_id="doc-analyst", status="completed").first()
        self.assertGreaterEqual(documents.model_calls, 3)
        self.assertTrue(documents.tasks.filter(type="llm", parent__type="agent").exists())

    def test_it_tracks_business_events(self):
        events = TrackedEvent.objects.filter(workspace=self.workspace)
        names = set(events.values_list("name", flat=True))
        self.assertTrue({"ticket_resolved", "alert_received", "order_validated"} <= names)
        resolved = events.filter(name="ticket_resolved").first().properties
        self.assertTrue({"resolution_minutes", "channel", "topic"} <= set(resolved))
        self.assertIn(events.filter(name="alert_received").first().properties["severity"], demo_severities())
        validated = events.filter(name="order_validated").first().properties
        self.assertIn(validated["currency"], {"EUR", "USD", "GBP"})
        self.assertIsInstance(validated["amount"], float)

    def test_it_files_reviews_with_corrections_and_activity(self):
        reviews = Review.objects.filter(workspace=self.workspace)
        self.assertEqual(reviews.count(), 10)
        self.assertTrue(set(reviews.values_list("status", flat=True)) >= {"open", "resolved"})
        bad = reviews.filter(rating="bad")
        self.assertTrue(bad.exists())
        self.assertTrue(all(review.corrected_output for review in bad))
        self.assertTrue(bad.filter(target_message__role="assistant").exists())
        resolved = reviews.filter(status="resolved").first()
        self.assertTrue(resolved.resolved_at and resolved.action_taken)
        self.assertGreaterEqual(ReviewActivity.objects.filter(review__workspace=self.workspace).count(), 2)

    def test_it_spreads_runs_over_two_weeks_before_the_anchor(self):
        anchor = datetime.fromisoformat(ANCHOR)
        times = list(Event.objects.filter(workspace=self.workspace).values_list("timestamp", flat=True))
        self.assertLessEqual(max(times), anchor)
        days = {t.date() for t in self.runs.values_list("started_at", flat=True)}
        self.assertGreaterEqual(len(days), 14)
        self.assertGreater(min(self.runs.values_list("started_at", flat=True)), anchor - timedelta(days=15))

    def test_the_rows_match_the_recorded_fingerprint_on_any_database(self):
        counts, digest = fingerprint(self.workspace)
        self.assertEqual(
            (counts, digest),
            (EXPECTED_COUNTS, EXPECTED_DIGEST),
            f"the demo rows changed: if that is intended, record {counts} and {digest!r}",
        )

    def test_seeding_the_same_hour_again_stores_every_event_once(self):
        before = fingerprint(self.workspace)
        seed()
        self.assertEqual(fingerprint(self.workspace), before)

    def test_it_does_nothing_the_second_time_with_if_empty(self):
        keys = ApiKey.objects.filter(workspace=self.workspace).count()
        output = seed("--if-empty")
        self.assertIn("already has runs", output)
        self.assertEqual(self.runs.count(), EXPECTED_COUNTS["runs"])
        self.assertEqual(ApiKey.objects.filter(workspace=self.workspace).count(), keys)


def demo_severities():
    from traces.demo.documents import INCIDENTS

    return {severity for _, severity in INCIDENTS}


class SeedDemoOptionsTest(TestCase):
    def test_it_leaves_a_workspace_with_runs_alone_with_if_empty(self):
        workspace = make_workspace(slug="acme")
        make_run(workspace)
        output = seed("--workspace", "acme", "--if-empty")
        self.assertIn("Workspace acme already has runs", output)
        self.assertEqual(Run.objects.filter(workspace=workspace).count(), 1)
        self.assertFalse(Event.objects.filter(workspace=workspace).exists())

    def test_it_rejects_bad_options_by_name(self):
        for args, message in [
            (("--scale", "0"), "--scale"),
            (("--workspace", "Not A Slug"), "--workspace"),
        ]:
            with self.subTest(args=args), self.assertRaisesMessage(CommandError, message):
                seed(*args)
        with self.assertRaisesMessage(CommandError, "--anchor"):
            call_command("seed_demo", "--anchor", "2026-11-20T09:00:00", stdout=StringIO())
        self.assertFalse(Workspace.objects.filter(slug="demo").exists())


class DemoGenerationTest(SimpleTestCase):
    anchor = datetime.fromisoformat(ANCHOR)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.events = demo.generate(42, 1, cls.anchor).events

    def test_the_same_seed_and_anchor_give_the_same_events(self):
        self.assertEqual(demo.generate(42, 1, self.anchor).events, self.events)

    def test_another_seed_tells_another_story(self):
        other = demo.generate(7, 1, self.anchor).events
        self.assertNotEqual([e["body"] for e in other[:50]], [e["body"] for e in self.events[:50]])

    def test_a_later_anchor_gives_new_ids_and_later_times(self):
        later = demo.generate(42, 1, self.anchor + timedelta(hours=1)).events
        self.assertFalse({e["id"] for e in later} & {e["id"] for e in self.events})
        self.assertGreater(max(e["timestamp"] for e in later), max(e["timestamp"] for e in self.events))

    def test_scale_multiplies_the_volume(self):
        doubled = demo.generate(42, 2, self.anchor).events
        starts = [e for e in doubled if e["type"] == "run.start"]
        self.assertAlmostEqual(
            len(starts) / sum(e["type"] == "run.start" for e in self.events), 2, delta=0.25
        )

    def test_every_event_is_plain_json_of_the_vocabulary_and_not_in_the_future(self):
        self.assertEqual(json.loads(json.dumps(self.events)), self.events)
        self.assertTrue({e["type"] for e in self.events} <= set(EVENT_TYPES))
        self.assertTrue(all(datetime.fromisoformat(e["timestamp"]) <= self.anchor for e in self.events))
        self.assertEqual(len({e["id"] for e in self.events}), len(self.events))

    def test_batches_hold_at_most_a_thousand_events_in_time_order(self):
        batches = list(demo.Demo(self.events, []).batches())
        self.assertTrue(all(len(batch) <= 1000 for batch in batches))
        flat = [e["timestamp"] for batch in batches for e in batch]
        self.assertEqual(flat, sorted(flat))
        self.assertEqual(len(flat), len(self.events))
