"""How the fold ties a run to its conversation when the run.start does not name it (OTLP traces name
their session on whichever span the agent code set it; the root span usually arrives last)."""

from django.test import TestCase

from tests.events import event
from tests.factories import make_workspace
from traces.ingest import ingest_batch
from traces.models import Run, Session


class RunConversationTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()

    def ingest(self, *batches):
        for batch in batches:
            ingest_batch(self.workspace, batch)
        return Run.objects.select_related("session").get(workspace=self.workspace, run_id="r1")

    def test_an_event_naming_run_and_session_links_a_run_whose_start_names_none(self):
        start = event("run.start", {"run_id": "r1", "agent_id": "bot"})
        turn = event(
            "message", {"run_id": "r1", "session_id": "s1", "role": "user", "content": "Hi", "user_id": "u1"}
        )
        for order in ([start, turn], [turn, start]):
            with self.subTest(order=[e["type"] for e in order]):
                Run.objects.all().delete()
                run = self.ingest(*[[e] for e in order])
                self.assertEqual((run.session.session_id, run.user_id), ("s1", "u1"))
                self.assertEqual(Session.objects.get(session_id="s1").run_count, 1)

    def test_the_run_start_names_the_session_whatever_the_order(self):
        start = event("run.start", {"run_id": "r1", "agent_id": "bot", "session_id": "chosen"}, at=0)
        step = event("step.start", {"run_id": "r1", "step_id": "a", "name": "a", "session_id": "other"}, at=1)
        self.assertEqual(self.ingest([step], [start]).session.session_id, "chosen")
        Run.objects.all().delete()
        self.assertEqual(self.ingest([start], [step]).session.session_id, "chosen")
