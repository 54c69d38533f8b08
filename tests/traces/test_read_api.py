from django.test import TestCase

from tests.events import post_batch, workflow_run
from tests.factories import make_api_key, make_run, make_task, make_workspace


class ReadApiTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)
        cls.other = make_workspace()
        _, cls.other_key = make_api_key(cls.other)

    def get(self, url, key=None):
        return self.client.get(url, headers={"Authorization": f"Bearer {key or self.key}"})

    def test_a_run_comes_with_its_roll_ups_and_microsecond_times(self):
        post_batch(self.client, self.key, workflow_run("r1", steps=2))
        body = self.get("/api/v1/runs/r1").json()
        self.assertEqual((body["status"], body["model_calls"], body["total_tokens"]), ("completed", 2, 241))
        self.assertEqual((body["session_id"], body["agent_id"], body["task_count"]), ("s-1", "order-bot", 6))
        self.assertRegex(body["started_at"], r"\.\d{6}Z$")

    def test_tasks_are_paged_in_sequence_with_total_and_has_more(self):
        run = make_run(self.workspace, run_id="big")
        for n in range(1, 8):
            make_task(run, step_id=f"s{n}", sequence=n)
        first = self.get("/api/v1/runs/big/tasks?limit=3").json()
        self.assertEqual((first["total"], first["has_more"]), (7, True))
        self.assertEqual([t["step_id"] for t in first["tasks"]], ["s1", "s2", "s3"])
        last = self.get("/api/v1/runs/big/tasks?offset=6&limit=3").json()
        self.assertEqual(([t["step_id"] for t in last["tasks"]], last["has_more"]), (["s7"], False))

    def test_the_task_page_size_is_500_by_default_and_1000_at_most(self):
        make_run(self.workspace, run_id="r")
        self.assertEqual(self.get("/api/v1/runs/r/tasks").json()["limit"], 500)
        for bad in ["limit=1001", "limit=0", "offset=-1", "limit=abc"]:
            response = self.get(f"/api/v1/runs/r/tasks?{bad}")
            self.assertEqual(response.status_code, 422, bad)
            self.assertIn(bad.split("=")[0], response.content.decode())

    def test_the_task_list_is_a_fixed_number_of_queries(self):
        run = make_run(self.workspace, run_id="r")
        for n in range(1, 4):
            make_task(run, sequence=n)
        self.get("/api/v1/runs/r/tasks")  # notes the key's first use
        with self.assertNumQueries(5):  # key, rate counter, run, count, page
            self.get("/api/v1/runs/r/tasks")
        for n in range(4, 40):
            make_task(run, sequence=n)
        with self.assertNumQueries(5):
            self.get("/api/v1/runs/r/tasks")

    def test_a_session_comes_with_its_messages_in_order(self):
        post_batch(self.client, self.key, workflow_run("r1", session_id="chat"))
        body = self.get("/api/v1/sessions/chat").json()
        self.assertEqual([m["role"] for m in body["messages"]], ["user", "assistant"])
        self.assertEqual(body["messages"][1]["content"], {"type": "text", "text": "Order 42 is valid."})
        self.assertEqual((body["message_count"], body["run_count"]), (2, 1))

    def test_ids_of_another_workspace_answer_404(self):
        post_batch(self.client, self.key, workflow_run("mine", session_id="mine"))
        for url in [
            "/api/v1/runs/mine",
            "/api/v1/runs/mine/tasks",
            "/api/v1/sessions/mine",
            "/api/v1/runs/none",
        ]:
            self.assertEqual(self.get(url, key=self.other_key).status_code, 404, url)

    def test_reads_need_a_key(self):
        self.assertEqual(self.client.get("/api/v1/runs/r1").status_code, 401)

    def test_the_openapi_schema_describes_ingest_and_reads(self):
        schema = self.client.get("/api/v1/openapi.json").json()
        for path in [
            "/api/v1/ingest",
            "/api/v1/runs/{run_id}",
            "/api/v1/runs/{run_id}/tasks",
            "/api/v1/sessions/{session_id}",
        ]:
            self.assertIn(path, schema["paths"])
