"""The tasks API copies payloads from the database as JSON text: they must come back exactly as sent."""

from django.test import TestCase

from tests.events import event, post_batch
from tests.factories import make_api_key, make_workspace

PAYLOAD = {
    "html": "<b>é & ü</b>",
    "quote": 'say "hi"\n',
    "nested": {"list": [1, 2.5, None, True]},
    "n": 10**15,
}


class TaskPayloadsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def tasks(self):
        response = self.client.get("/api/v1/runs/r1/tasks", headers={"Authorization": f"Bearer {self.key}"})
        self.assertEqual(response["Content-Type"], "application/json; charset=utf-8")
        return response.json()["tasks"]

    def test_payloads_come_back_as_they_were_sent(self):
        post_batch(
            self.client,
            self.key,
            [
                event("run.start", {"run_id": "r1", "agent_id": "a"}, at=0),
                event("step.start", {"run_id": "r1", "step_id": "s1", "name": "n", "input": PAYLOAD}, at=1),
                event("step.failed", {"run_id": "r1", "step_id": "s1", "error": "plain text"}, at=2),
                event("step.start", {"run_id": "r1", "step_id": "s2", "name": "m", "parent_id": "s1"}, at=3),
            ],
        )
        first, second = self.tasks()
        self.assertEqual((first["input"], first["output"], first["error"]), (PAYLOAD, None, "plain text"))
        self.assertEqual((first["metadata"], first["parent_id"], second["parent_id"]), ({}, None, "s1"))
        # A task without model calls has no known cost.
        self.assertEqual((first["cost"], first["status"], second["input"]), (None, "failed", None))

    def test_a_parent_that_never_arrived_is_still_named(self):
        post_batch(
            self.client,
            self.key,
            [event("step.start", {"run_id": "r1", "step_id": "s2", "name": "m", "parent_id": "gone"}, at=3)],
        )
        self.assertEqual(self.tasks()[0]["parent_id"], "gone")
