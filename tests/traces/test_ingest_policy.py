from django.test import TestCase

from tests.events import event, post_batch
from tests.factories import make_agent, make_api_key, make_workspace
from traces.ingest.policy import OMITTED
from traces.models import Agent, ChatMessage, Event, ModelCall, RedactionRule, Run, Session, Task


class PolicyTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def send(self, events):
        response = post_batch(self.client, self.key, events)
        self.assertEqual(response.status_code, 200, response.content)
        return response


class RedactionTest(PolicyTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        RedactionRule.objects.create(
            workspace=cls.workspace, kind="regex", pattern=r"[\w.]+@[\w.]+", replacement="<email>"
        )
        RedactionRule.objects.create(
            workspace=cls.workspace, kind="key", pattern="Password", replacement="***"
        )
        RedactionRule.objects.create(workspace=cls.workspace, kind="regex", pattern="off", enabled=False)

    def test_rules_mask_payloads_before_anything_is_stored(self):
        self.send(
            [
                event(
                    "run.start",
                    {
                        "run_id": "r1",
                        "agent_id": "bot",
                        "input": {
                            "email": "ann@example.com",
                            "password": "hunter2",
                            "nested": [{"PASSWORD": "x"}],
                            "note": "off",
                        },
                    },
                ),
                event(
                    "message", {"session_id": "s1", "role": "user", "content": "mail me at bob@example.org"}
                ),
            ]
        )
        run = Run.objects.get()
        self.assertEqual(
            run.input, {"email": "<email>", "password": "***", "nested": [{"PASSWORD": "***"}], "note": "off"}
        )
        self.assertEqual(ChatMessage.objects.get().content, "mail me at <email>")
        log = " ".join(str(e.payload) for e in Event.objects.all())
        self.assertNotIn("ann@example.com", log)
        self.assertNotIn("hunter2", log)
        self.assertNotIn("bob@example.org", log)

    def test_ids_are_never_redacted(self):
        self.send([event("run.start", {"run_id": "ann@example.com", "agent_id": "bot"})])
        self.assertTrue(Run.objects.filter(run_id="ann@example.com").exists())

    def test_rules_of_another_workspace_do_not_apply(self):
        other = make_workspace()
        _, other_key = make_api_key(other)
        post_batch(
            self.client,
            other_key,
            [event("run.start", {"run_id": "r", "agent_id": "b", "input": "ann@example.com"})],
        )
        self.assertEqual(Run.objects.get(workspace=other).input, "ann@example.com")


class PayloadModeTest(PolicyTestCase):
    def test_standard_mode_truncates_and_marks_what_was_cut(self):
        make_agent(self.workspace, agent_id="std", mode="standard", max_input_chars=10, max_output_chars=5)
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "std", "input": "abcdefghijklmnop"}),
                event(
                    "step.start", {"run_id": "r1", "step_id": "s", "name": "x", "input": {"long": "y" * 50}}
                ),
                event("step.ok", {"run_id": "r1", "step_id": "s", "output": "1234567"}),
            ]
        )
        self.assertEqual(Run.objects.get().input, "abcdefghij… [truncated 6 chars]")
        task = Task.objects.get()
        self.assertEqual(task.output, "12345… [truncated 2 chars]")
        self.assertEqual(task.input["_truncated"], True)
        self.assertEqual(len(task.input["preview"]), 10)

    def test_standard_mode_leaves_short_payloads_alone(self):
        make_agent(self.workspace, agent_id="std", mode="standard", max_input_chars=100)
        self.send([event("run.start", {"run_id": "r1", "agent_id": "std", "input": {"a": 1}})])
        self.assertEqual(Run.objects.get().input, {"a": 1})

    def test_minimal_mode_keeps_timings_and_statuses_only(self):
        make_agent(self.workspace, agent_id="min", mode="minimal")
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "min", "input": "secret"}, at=0),
                event(
                    "llm.call",
                    {"run_id": "r1", "model": "m", "prompt_tokens": 3, "request": {"p": "secret"}},
                    at=1,
                ),
                event(
                    "message",
                    {
                        "session_id": "s",
                        "run_id": "r1",
                        "agent_id": "min",
                        "role": "user",
                        "content": "secret",
                    },
                    at=1,
                ),
                event("run.complete", {"run_id": "r1", "output": "secret"}, at=2),
            ]
        )
        run = Run.objects.get()
        self.assertEqual((run.status, run.duration_ms, run.prompt_tokens), ("completed", 2000, 3))
        self.assertNotIn("secret", str(run.input) + str(run.output))
        self.assertNotIn("secret", str(ModelCall.objects.get().request))
        self.assertNotIn("secret", str(ChatMessage.objects.get().content))
        self.assertNotIn("secret", " ".join(str(e.payload) for e in Event.objects.all()))

    def test_the_mode_of_a_run_started_in_an_earlier_batch_still_applies(self):
        make_agent(self.workspace, agent_id="min", mode="minimal")
        self.send([event("run.start", {"run_id": "r1", "agent_id": "min"}, at=0)])
        self.send([event("step.ok", {"run_id": "r1", "step_id": "s", "output": "secret"}, at=1)])
        self.assertNotIn("secret", str(Task.objects.get().output))


CARD = "4111 1111 1111 1111"


class LateModeTest(PolicyTestCase):
    """A mode that arrives after the events it governs cuts what is already stored."""

    def stored_text(self):
        rows = [
            *Run.objects.values_list("input", "output", "error", "state"),
            *Task.objects.values_list("input", "output", "error"),
            *ModelCall.objects.values_list("request", "response", "error"),
            *ChatMessage.objects.values_list("content"),
            *Event.objects.values_list("payload"),
            *Session.objects.values_list("last_user_text", "last_assistant_text"),
        ]
        return repr(rows)

    def card_run(self):
        return [
            event("run.start", {"run_id": "r1", "agent_id": "late", "session_id": "s1", "input": CARD}, at=0),
            event("step.start", {"run_id": "r1", "step_id": "a", "name": "pay", "input": CARD}, at=1),
            event("step.ok", {"run_id": "r1", "step_id": "a", "output": CARD}, at=2),
            event(
                "llm.call", {"run_id": "r1", "model": "m", "request": {"card": CARD}, "response": CARD}, at=2
            ),
            event("message", {"session_id": "s1", "run_id": "r1", "role": "user", "content": CARD}, at=2),
            event("message", {"session_id": "s2", "agent_id": "late", "role": "user", "content": CARD}, at=2),
            event("run.complete", {"run_id": "r1", "output": CARD}, at=3),
        ]

    def test_a_minimal_mode_sent_after_the_agents_events_leaves_no_payload_stored(self):
        self.send(self.card_run())
        self.assertIn(CARD, self.stored_text())
        self.send([event("agent.upsert", {"agent_id": "late", "name": "Late", "mode": "minimal"}, at=9)])
        self.assertNotIn(CARD, self.stored_text())
        self.assertEqual(Task.objects.get().input, OMITTED)
        self.assertEqual(Run.objects.get().status, "completed")

    def test_a_standard_mode_sent_later_cuts_as_it_would_have_at_ingest(self):
        self.send(self.card_run())
        self.send(
            [
                event(
                    "agent.upsert",
                    {"agent_id": "late", "name": "Late", "mode": "standard", "max_output_chars": 4},
                    at=9,
                )
            ]
        )
        self.assertEqual(Task.objects.get().output, "4111… [truncated 15 chars]")
        # Sent again, the same mode changes nothing more.
        self.send([event("agent.upsert", {"agent_id": "late", "name": "Late", "mode": "standard"}, at=10)])
        self.assertEqual(Task.objects.get().output, "4111… [truncated 15 chars]")

    def test_a_run_start_naming_a_minimal_agent_after_the_runs_events_cuts_them(self):
        make_agent(self.workspace, agent_id="min", mode="minimal")
        self.send([event("step.ok", {"run_id": "r1", "step_id": "a", "output": CARD}, at=1)])
        self.send([event("run.start", {"run_id": "r1", "agent_id": "min"}, at=0)])
        self.assertNotIn(CARD, self.stored_text())

    def test_an_older_upsert_arriving_later_changes_nothing(self):
        self.send([event("agent.upsert", {"agent_id": "late", "name": "New", "mode": "full"}, at=9)])
        self.send([event("agent.upsert", {"agent_id": "late", "name": "Old", "mode": "minimal"}, at=1)])
        agent = Agent.objects.get(agent_id="late")
        self.assertEqual((agent.name, agent.mode), ("New", "full"))
