"""Redaction rules apply to every event before anything is stored: rows and the event log alike."""

import json

from django.test import TestCase

from tests.events import event, post_batch
from tests.factories import make_api_key, make_workspace
from traces.ingest import ingest_batch
from traces.models import ChatMessage, Event, ModelCall, RedactionRule, Run, Session, Task

EMAIL = r"[\w.+-]+@[\w-]+\.[\w.]+"
ADDRESS = "ada@example.com"


class RedactionAtIngestTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)
        RedactionRule.objects.create(workspace=cls.workspace, pattern=EMAIL, replacement="[email]")
        RedactionRule.objects.create(
            workspace=cls.workspace, kind="key", pattern="Password", replacement="***"
        )
        RedactionRule.objects.create(workspace=cls.workspace, pattern="ada", enabled=False)

    def events(self):
        return [
            event(
                "run.start",
                {
                    "run_id": "r1",
                    "agent_id": "bot",
                    "session_id": "s1",
                    "input": {"login": ADDRESS, "password": "hunter2"},
                    "metadata": {"contact": ADDRESS},
                    "customer_email": ADDRESS,
                },
            ),
            event(
                "step.start", {"run_id": "r1", "step_id": "t1", "name": "lookup", "input": f"find {ADDRESS}"}
            ),
            event("step.ok", {"run_id": "r1", "step_id": "t1", "output": [{"to": ADDRESS}]}, at=1),
            event(
                "llm.call",
                {
                    "run_id": "r1",
                    "step_id": "t1",
                    "model": "gpt-4o-mini",
                    "prompt_tokens": 10,
                    "request": {"messages": [{"content": f"I am {ADDRESS}"}]},
                    "response": {"text": "ok"},
                },
                at=1,
            ),
            event(
                "message",
                {"session_id": "s1", "run_id": "r1", "role": "user", "content": f"mail {ADDRESS}"},
                at=2,
            ),
            event("run.failed", {"run_id": "r1", "error": {"message": f"bounce from {ADDRESS}"}}, at=3),
        ]

    def assert_nothing_stored_holds_the_address(self):
        stored = [
            *Run.objects.values_list("input", "output", "error", "metadata"),
            *Task.objects.values_list("input", "output", "error", "metadata"),
            *ModelCall.objects.values_list("request", "response", "error", "metadata"),
            *ChatMessage.objects.values_list("content", "metadata"),
            *Session.objects.values_list("last_user_text", "metadata"),
            *Event.objects.values_list("payload", flat=True),
        ]
        text = json.dumps(stored, default=str)
        self.assertNotIn(ADDRESS, text)
        self.assertNotIn("hunter2", text)
        self.assertIn("[email]", text)
        self.assertIn("***", text)

    def test_the_event_batch_api_redacts_before_storing(self):
        response = post_batch(self.client, self.key, self.events())
        self.assertEqual(response.status_code, 200, response.content)
        self.assert_nothing_stored_holds_the_address()
        run = Run.objects.get(run_id="r1")
        self.assertEqual(run.input, {"login": "[email]", "password": "***"})
        self.assertEqual(run.metadata["customer_email"], "[email]")
        self.assertEqual(ChatMessage.objects.get().content, "mail [email]")

    def test_every_ingest_path_through_ingest_batch_redacts(self):
        """OTLP and the client reach storage through ingest_batch, like the event batch API."""
        results = ingest_batch(self.workspace, self.events())
        self.assertEqual({r["status"] for r in results}, {"accepted"})
        self.assert_nothing_stored_holds_the_address()

    def test_ids_are_never_redacted(self):
        body = {"run_id": ADDRESS, "agent_id": ADDRESS, "session_id": ADDRESS, "input": "x"}
        post_batch(self.client, self.key, [event("run.start", body)])
        run = Run.objects.get()
        self.assertEqual(
            (run.run_id, run.session.session_id, run.agent.agent_id), (ADDRESS, ADDRESS, ADDRESS)
        )
