"""What the MCP tools read costs a fixed number of queries, however many rows the answer holds."""

from types import SimpleNamespace

from django.test import TestCase

from tests.factories import make_message, make_run, make_session, make_task, make_workspace
from traces.mcp import reads
from traces.models import SearchDocument


class ToolQueriesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.request = SimpleNamespace(workspace=cls.workspace)
        cls.session = make_session(cls.workspace, session_id="chat")
        cls.recorded = make_run(cls.workspace, run_id="r", session=cls.session)

    def grow(self, tasks, turns):
        for n in range(tasks):
            make_task(self.recorded, status="failed", error={"message": f"failed {n}"})
        for _ in range(turns):
            make_message(self.session, run=self.recorded)
        another = make_run(self.workspace)
        SearchDocument.objects.create(
            workspace=self.workspace,
            run=another,
            kind="run.input",
            ref=another.run_id,
            at=another.started_at,
            text="Hello there",
            words="hello there",
        )

    def test_a_run_with_its_tasks_turns_and_errors(self):
        # run, scores, tasks, turns, task errors
        for tasks, turns in ((1, 1), (12, 9)):
            self.grow(tasks, turns)
            with self.assertNumQueries(5):
                answer = reads.get_run(self.request, "r")
            self.assertEqual(len(answer["errors"]), len(answer["tasks"]))

    def test_a_conversation(self):
        for turns in (1, 10):
            self.grow(0, turns)
            with self.assertNumQueries(2):  # session, turns
                reads.get_conversation(self.request, "chat")

    def test_a_page_of_runs_found_by_text(self):
        for more in (1, 10):
            self.grow(0, more)
            with self.assertNumQueries(2):  # agents, runs
                reads.search_runs(self.request, {"status": "completed"})
            with self.assertNumQueries(3):  # agents, runs, their snippets
                reads.search_runs(self.request, {"q": "hello"})
