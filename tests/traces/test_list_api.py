"""The read API's lists and exports: GET /api/v1/runs, /sessions, /tasks, /model-calls, /events and
/api/v1/export/…, with the filters of the pages, keyset cursors and streamed JSON Lines and CSV."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from unittest import mock

from django.test import TestCase
from django.utils import timezone

from metrics.models import TrackedEvent
from tests.events import event, post_batch, workflow_run
from tests.factories import (
    make_agent,
    make_api_key,
    make_model_call,
    make_run,
    make_session,
    make_task,
    make_workspace,
)


class ListApiTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)
        cls.other = make_workspace()

    def get(self, url, key=None):
        return self.client.get(url, headers={"Authorization": f"Bearer {key or self.key}"})

    def ids(self, url, name="run_id", key=None):
        response = self.get(url, key)
        self.assertEqual(response.status_code, 200, response.content)
        return [item[name] for item in response.json()["items"]]

    def every_page(self, url, name="run_id"):
        seen, cursor = [], None
        while True:
            body = self.get(f"{url}&cursor={cursor}" if cursor else url).json()
            seen += [item[name] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return seen


class RunListApiTest(ListApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        now = timezone.now()
        bot = make_agent(cls.workspace, agent_id="bot")
        cls.a = make_run(
            cls.workspace, run_id="a", agent=bot, tags=["vip"], metadata={"plan": "pro"}, cost=Decimal("3")
        )
        cls.b = make_run(cls.workspace, run_id="b", status="failed", error="boom", total_tokens=9000)
        cls.c = make_run(cls.workspace, run_id="c", started_at=now - timedelta(days=40), cost=None)
        make_model_call(cls.b, model="claude")
        make_task(cls.c, name="charge", status="failed")
        make_run(cls.other, run_id="elsewhere", tags=["vip"])

    def test_it_lists_runs_in_ingest_order_with_their_fields(self):
        body = self.get("/api/v1/runs").json()
        self.assertEqual([item["run_id"] for item in body["items"]], ["a", "b", "c"])
        self.assertIsNone(body["next_cursor"])
        first = body["items"][0]
        self.assertEqual(
            (first["agent_id"], first["tags"], first["metadata"]), ("bot", ["vip"], {"plan": "pro"})
        )
        self.assertEqual((first["cost"], first["status"]), ("3", "completed"))
        self.assertRegex(first["started_at"], r"\.\d{6}Z$|:\d\dZ$")
        self.assertNotIn("id", first)

    def test_it_takes_the_filters_of_the_runs_page(self):
        cases = {
            "agent=bot": ["a"],
            "tag=vip": ["a"],
            "meta=plan%3Dpro": ["a"],
            "status=failed": ["b"],
            "error=true": ["b"],
            "model=claude": ["b"],
            "failed_step=charge": ["c"],
            "min_tokens=1000": ["b"],
            "min_cost=1": ["a"],
            "period=30d": ["a", "b"],
            "sort=-cost": ["c", "a", "b"],
            "sort=cost": ["b", "a", "c"],
            "sort=-time": ["b", "a", "c"],
        }
        for query, expected in cases.items():
            with self.subTest(query):
                self.assertEqual(self.ids(f"/api/v1/runs?{query}"), expected)

    def test_cursors_follow_each_sort_without_gaps(self):
        for sort in ("id", "-time", "cost", "-duration", "tokens"):
            with self.subTest(sort):
                seen = self.every_page(f"/api/v1/runs?sort={sort}&limit=1")
                self.assertEqual(sorted(seen), ["a", "b", "c"])

    def test_bad_parameters_get_a_400_naming_them(self):
        for query, field in (
            ("limit=1001", "limit"),
            ("limit=0", "limit"),
            ("meta=nokey", "meta"),
            ("status=exploded", "status"),
            ("sort=name", "sort"),
            ("cursor=abc", "cursor"),
            ("sort=time&cursor=n.1", "cursor"),
            ("min_cost=x", "min_cost"),
            ("until=2020-01-01&since=2021-01-01", "until"),
        ):
            with self.subTest(query):
                response = self.get(f"/api/v1/runs?{query}")
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["field"], field)

    def test_the_page_size_is_100_by_default_and_1000_at_most(self):
        for n in range(102):
            make_run(self.workspace, run_id=f"bulk-{n:03d}")
        body = self.get("/api/v1/runs").json()
        self.assertEqual(len(body["items"]), 100)
        self.assertIsNotNone(body["next_cursor"])
        self.assertEqual(len(self.get("/api/v1/runs?limit=1000").json()["items"]), 105)

    def test_another_workspace_is_never_listed(self):
        self.assertNotIn("elsewhere", self.ids("/api/v1/runs?tag=vip"))
        _, other_key = make_api_key(self.other)
        self.assertEqual(self.ids("/api/v1/runs", key=other_key), ["elsewhere"])

    def test_it_needs_the_read_scope(self):
        _, ingest_only = make_api_key(self.workspace, scopes=("ingest",))
        for path in ("runs", "sessions", "tasks", "model-calls", "events", "export/runs?format=csv"):
            with self.subTest(path):
                response = self.get(f"/api/v1/{path}", key=ingest_only)
                self.assertEqual(response.status_code, 403)
                self.assertEqual(response.json()["scope"], "read")
                self.assertEqual(self.client.get(f"/api/v1/{path}").status_code, 401)

    def test_a_page_is_a_fixed_number_of_queries(self):
        self.get("/api/v1/runs")  # notes the key's first use
        # key, rate counter, agents, page
        with self.assertNumQueries(4):
            self.get("/api/v1/runs?tag=vip&model=claude&sort=-cost")
        for _ in range(30):
            make_run(self.workspace, agent=self.a.agent, tags=["vip"])
        with self.assertNumQueries(4):
            self.get("/api/v1/runs?tag=vip&model=claude&sort=-cost")

    def test_it_is_in_the_openapi_schema_with_its_filters(self):
        schema = self.client.get("/api/v1/openapi.json").json()
        operation = schema["paths"]["/api/v1/runs"]["get"]
        names = {parameter["name"] for parameter in operation["parameters"]}
        self.assertLessEqual({"agent", "tag", "meta", "model", "step", "sort", "cursor", "limit"}, names)
        self.assertNotIn("after", names)
        self.assertIn("400", json.dumps(list(operation["responses"])))
        for path in ("sessions", "tasks", "model-calls", "events", "export/runs", "export/events"):
            self.assertIn(f"/api/v1/{path}", schema["paths"])


class PagingWhileIngestingTest(ListApiTestCase):
    def test_no_run_is_skipped_or_repeated_while_runs_arrive_and_change(self):
        for n in range(12):
            post_batch(
                self.client, self.key, [event("run.start", {"run_id": f"r{n:02d}", "agent_id": "bot"})]
            )
        before = {f"r{n:02d}" for n in range(12)}
        seen, cursor, n = [], None, 100
        while True:
            url = "/api/v1/runs?limit=5" + (f"&cursor={cursor}" if cursor else "")
            body = self.get(url).json()
            seen += [item["run_id"] for item in body["items"]]
            # Between pages: new runs, and runs already read or not yet read finish and get tokens.
            post_batch(self.client, self.key, workflow_run(f"new-{n}", steps=1))
            for run_id in (seen[-1], f"r{min(len(seen) + 2, 11):02d}"):
                post_batch(self.client, self.key, [event("run.complete", {"run_id": run_id}, at=5)])
            n += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(len(seen), len(set(seen)))
        self.assertLessEqual(before, set(seen))


class OtherListsTest(ListApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        bot = make_agent(cls.workspace, agent_id="bot")
        cls.session = make_session(cls.workspace, session_id="s1", agent=bot, user_id="ann")
        make_session(cls.workspace, session_id="s2", has_error=True)
        run = make_run(cls.workspace, run_id="r1", session=cls.session)
        other_run = make_run(cls.workspace, run_id="r2")
        make_task(run, step_id="t1", name="plan")
        make_task(run, step_id="t2", name="act", status="failed")
        make_task(other_run, step_id="t3", name="plan")
        make_model_call(run, call_id="c1", model="gpt-4o")
        make_model_call(other_run, call_id="c2", model="claude", status="error")
        now = timezone.now()
        for n, name in enumerate(["signup", "purchase", "signup"]):
            TrackedEvent.objects.create(
                workspace=cls.workspace,
                event_id=f"e{n}",
                name=name,
                run=run,
                timestamp=now,
                properties={"n": n},
            )
        elsewhere = make_run(cls.other, run_id="r1")
        make_task(elsewhere, step_id="tx", name="plan")
        make_model_call(elsewhere, call_id="cx", model="gpt-4o")
        TrackedEvent.objects.create(workspace=cls.other, event_id="ex", name="signup", timestamp=now)

    def test_sessions_take_the_conversations_filters(self):
        self.assertEqual(self.ids("/api/v1/sessions", "session_id"), ["s1", "s2"])
        self.assertEqual(self.ids("/api/v1/sessions?agent=bot", "session_id"), ["s1"])
        self.assertEqual(self.ids("/api/v1/sessions?user=ann", "session_id"), ["s1"])
        self.assertEqual(self.ids("/api/v1/sessions?error=true", "session_id"), ["s2"])

    def test_tasks_filter_on_run_name_and_status(self):
        self.assertEqual(self.ids("/api/v1/tasks", "step_id"), ["t1", "t2", "t3"])
        self.assertEqual(self.ids("/api/v1/tasks?run=r1", "step_id"), ["t1", "t2"])
        self.assertEqual(self.ids("/api/v1/tasks?name=plan", "step_id"), ["t1", "t3"])
        self.assertEqual(self.ids("/api/v1/tasks?status=failed", "step_id"), ["t2"])
        self.assertEqual(self.every_page("/api/v1/tasks?limit=2", "step_id"), ["t1", "t2", "t3"])

    def test_model_calls_take_the_model_calls_filters(self):
        self.assertEqual(self.ids("/api/v1/model-calls", "call_id"), ["c1", "c2"])
        self.assertEqual(self.ids("/api/v1/model-calls?model=claude", "call_id"), ["c2"])
        self.assertEqual(self.ids("/api/v1/model-calls?status=error", "call_id"), ["c2"])
        self.assertEqual(self.ids("/api/v1/model-calls?run=r1", "call_id"), ["c1"])

    def test_business_events_filter_on_name_and_run(self):
        self.assertEqual(self.ids("/api/v1/events", "event_id"), ["e0", "e1", "e2"])
        self.assertEqual(self.ids("/api/v1/events?name=signup", "event_id"), ["e0", "e2"])
        self.assertEqual(self.ids("/api/v1/events?run=r1&limit=1", "event_id"), ["e0"])
        self.assertEqual(self.every_page("/api/v1/events?limit=2", "event_id"), ["e0", "e1", "e2"])
        item = self.get("/api/v1/events?limit=1").json()["items"][0]
        self.assertEqual((item["run_id"], item["properties"]), ("r1", {"n": 0}))

    def test_bad_cursors_and_filters_are_named(self):
        for path, field in (
            ("tasks?cursor=x", "cursor"),
            ("tasks?status=exploded", "status"),
            ("events?since=nope", "since"),
            ("model-calls?limit=5000", "limit"),
        ):
            with self.subTest(path):
                response = self.get(f"/api/v1/{path}")
                self.assertEqual((response.status_code, response.json()["field"]), (400, field))


class ExportTest(ListApiTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        for n in range(5):
            make_run(
                cls.workspace,
                run_id=f"r{n}",
                metadata={"note": "=HYPERLINK(1)"},
                workflow="-sum",
                tags=[f"t{n}"],
            )
        make_run(cls.other, run_id="elsewhere")

    def read(self, response):
        return b"".join(response.streaming_content).decode()

    def test_jsonl_streams_every_page_of_the_filtered_runs(self):
        with mock.patch("backoffice.api_lists.EXPORT_PAGE", 2):
            response = self.get("/api/v1/export/runs?format=jsonl&sort=-id")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.streaming)
        self.assertIn("attachment", response["Content-Disposition"])
        lines = [json.loads(line) for line in self.read(response).splitlines()]
        self.assertEqual([line["run_id"] for line in lines], ["r4", "r3", "r2", "r1", "r0"])

    def test_csv_has_a_header_and_cannot_start_a_formula(self):
        with mock.patch("backoffice.api_lists.EXPORT_PAGE", 2):
            response = self.get("/api/v1/export/runs?format=csv&tag=t3")
        rows = list(csv.DictReader(io.StringIO(self.read(response))))
        self.assertEqual([row["run_id"] for row in rows], ["r3"])
        self.assertEqual(rows[0]["workflow"], "'-sum")
        self.assertEqual(json.loads(rows[0]["metadata"]), {"note": "=HYPERLINK(1)"})
        self.assertEqual((rows[0]["tags"], rows[0]["total_tokens"]), ('["t3"]', "150"))

    def test_a_bad_format_or_filter_is_named(self):
        for query, field in (("format=xml", "format"), ("format=csv&sort=x", "sort")):
            with self.subTest(query):
                response = self.get(f"/api/v1/export/runs?{query}")
                self.assertEqual((response.status_code, response.json()["field"]), (400, field))

    def test_every_list_exports(self):
        for path in ("sessions", "tasks", "model-calls", "events"):
            with self.subTest(path):
                self.assertEqual(self.get(f"/api/v1/export/{path}?format=csv").status_code, 200)
