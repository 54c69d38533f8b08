import json
from datetime import date, timedelta
from unittest.mock import patch

from django.test import TestCase
from django.utils import timezone

from backoffice.models import Role
from tests.factories import (
    make_agent,
    make_api_key,
    make_member,
    make_message,
    make_review,
    make_run,
    make_session,
    make_workspace,
)
from traces.models import Review


class ReviewsApiTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        _, cls.key = make_api_key(cls.workspace, label="qa-pipeline")
        cls.other = make_workspace()
        cls.reviewer = make_member(cls.workspace, Role.REVIEWER, username="rita")
        cls.viewer = make_member(cls.workspace, Role.VIEWER, username="vic")
        agent = make_agent(cls.workspace, agent_id="support-bot")
        session = make_session(cls.workspace)
        cls.target_run = make_run(cls.workspace, run_id="run-1", session=session, agent=agent)
        cls.reply = make_message(
            session, run=cls.target_run, role="assistant", content="Yes", event_id="ev-a"
        )
        cls.question = make_message(session, run=cls.target_run, role="user", content="?", event_id="ev-q")
        cls.foreign_run = make_run(cls.other, run_id="run-elsewhere")
        cls.foreign_review = make_review(cls.foreign_run)

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.key}"}
        if body is None:
            return getattr(self.client, method)("/api/v1/reviews" + path, headers=headers)
        return getattr(self.client, method)(
            "/api/v1/reviews" + path, json.dumps(body), content_type="application/json", headers=headers
        )

    def create(self, **fields):
        body = {"run_id": "run-1", "rating": "bad", "comment": "It agreed to everything.", **fields}
        return self.call("post", "", body)

    def test_it_files_a_review_by_the_keys_label(self):
        response = self.create(priority="urgent", tags=["Tone", "tone", "policy"], target_message_id="ev-a")
        self.assertEqual(response.status_code, 201)
        body = response.json()
        self.assertEqual(body["reviewed_by"], "qa-pipeline")
        self.assertEqual(body["tags"], ["tone", "policy"])
        self.assertEqual(body["target_message_id"], "ev-a")
        self.assertEqual(body["agent_id"], "support-bot")
        self.assertEqual(body["activity"][0]["action"], "created")

    def test_a_second_review_of_a_run_answers_409_naming_the_first(self):
        first = self.create().json()
        response = self.create(comment="Another opinion, please.")
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["review_id"], first["id"])
        self.assertIn(f"already has review {first['id']}", response.json()["detail"])

    def test_another_workspaces_run_or_review_answers_404(self):
        self.assertEqual(self.create(run_id="run-elsewhere").status_code, 404)
        for method, body in (("get", None), ("patch", {"rating": "good"})):
            with self.subTest(method=method):
                self.assertEqual(self.call(method, f"/{self.foreign_review.pk}", body).status_code, 404)
        _, admin_key = make_api_key(self.workspace, label="ops", scopes=["admin"])
        response = self.client.delete(
            f"/api/v1/reviews/{self.foreign_review.pk}", headers={"Authorization": f"Bearer {admin_key}"}
        )
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.call("get", "/check/run-elsewhere").status_code, 404)
        self.assertTrue(Review.objects.filter(pk=self.foreign_review.pk).exists())

    def test_validation_errors_name_the_field(self):
        cases = [
            ({"comment": "too short"}, "comment"),
            ({"rating": "awful"}, "rating"),
            ({"priority": "asap"}, "priority"),
        ]
        for fields, field in cases:
            with self.subTest(field=field):
                response = self.create(**fields)
                self.assertEqual(response.status_code, 422)
                self.assertEqual(response.json()["field"], field)
                self.assertIn(field, [error["field"] for error in response.json()["errors"]])
        for fields, field in (
            ({"target_message_id": "ev-q"}, "target_message_id"),
            ({"target_message_id": "ev-missing"}, "target_message_id"),
            ({"assignee": "vic"}, "assignee"),
            ({"tags": ['a "quoted" tag']}, "tags"),
        ):
            with self.subTest(field=field, fields=fields):
                response = self.create(**fields)
                self.assertEqual(response.status_code, 422)
                self.assertEqual(response.json()["field"], field)
        self.assertFalse(Review.objects.filter(workspace=self.workspace).exists())

    def test_it_tells_whether_a_run_has_a_review(self):
        self.assertEqual(self.call("get", "/check/run-1").json()["has_review"], False)
        review_id = self.create().json()["id"]
        body = self.call("get", "/check/run-1").json()
        self.assertEqual((body["has_review"], body["review_id"], body["status"]), (True, review_id, "open"))

    def test_patching_the_status_stamps_resolved_by_and_at(self):
        review_id = self.create().json()["id"]
        response = self.call(
            "patch", f"/{review_id}", {"status": "resolved", "corrected_output": "Only with a receipt."}
        )
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual((body["status"], body["resolved_by"]), ("resolved", "qa-pipeline"))
        self.assertIsNotNone(body["resolved_at"])
        self.assertEqual(body["activity"][-1]["changes"]["status"], ["open", "resolved"])
        reopened = self.call("patch", f"/{review_id}", {"status": "open"}).json()
        self.assertEqual((reopened["resolved_by"], reopened["resolved_at"]), ("", None))

    def test_patch_refuses_illegal_moves_and_nulls_by_field(self):
        review_id = self.create().json()["id"]
        self.call("patch", f"/{review_id}", {"status": "dismissed"})
        response = self.call("patch", f"/{review_id}", {"status": "resolved"})
        self.assertEqual((response.status_code, response.json()["field"]), (422, "status"))
        response = self.call("patch", f"/{review_id}", {"rating": None})
        self.assertEqual((response.status_code, response.json()["field"]), (422, "rating"))

    def test_patch_assigns_and_unassigns(self):
        review_id = self.create().json()["id"]
        self.assertEqual(self.call("patch", f"/{review_id}", {"assignee": "rita"}).json()["assignee"], "rita")
        self.assertIsNone(self.call("patch", f"/{review_id}", {"assignee": None}).json()["assignee"])

    def test_delete_removes_the_review_with_an_admin_key_only(self):
        review_id = self.create().json()["id"]
        response = self.call("delete", f"/{review_id}")
        self.assertEqual((response.status_code, response.json()["scope"]), (403, "admin"))
        _, admin_key = make_api_key(self.workspace, label="ops", scopes=["admin"])
        response = self.client.delete(
            f"/api/v1/reviews/{review_id}", headers={"Authorization": f"Bearer {admin_key}"}
        )
        self.assertEqual(response.status_code, 204)
        self.assertEqual(self.call("get", f"/{review_id}").status_code, 404)

    def test_it_needs_a_key(self):
        response = self.client.get("/api/v1/reviews")
        self.assertEqual(response.status_code, 401)

    def test_it_is_in_the_openapi_schema(self):
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        for path in ("", "/check/{run_id}", "/stats", "/export", "/{review_id}"):
            self.assertIn(f"/api/v1/reviews{path}", paths)
        self.assertEqual(set(paths["/api/v1/reviews/{review_id}"]), {"get", "patch", "delete"})


class ReviewsApiListTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        _, cls.key = make_api_key(cls.workspace)
        other = make_workspace()
        make_review(make_run(other), priority="urgent")
        cls.agent = make_agent(cls.workspace, agent_id="billing-bot")
        for index, priority in enumerate(["low", "urgent", "medium", "urgent", "high"]):
            make_review(
                make_run(cls.workspace, run_id=f"run-{index}", agent=cls.agent if index == 2 else None),
                priority=priority,
                rating="good" if index == 4 else "bad",
                status="resolved" if index == 0 else "open",
                tags=["tone"] if index == 3 else [],
                comment=f"Review number {index} of five.",
            )

    def get(self, query=""):
        return self.client.get("/api/v1/reviews" + query, headers={"Authorization": f"Bearer {self.key}"})

    def runs(self, query=""):
        response = self.get(query)
        self.assertEqual(response.status_code, 200, response.content)
        return [item["run_id"] for item in response.json()["items"]]

    def test_it_lists_by_priority_then_age_in_keyset_pages(self):
        first = self.get("?limit=2").json()
        self.assertEqual([item["run_id"] for item in first["items"]], ["run-1", "run-3"])
        rest = self.runs(f"?limit=10&after={first['next_after']}")
        self.assertEqual(rest, ["run-4", "run-2", "run-0"])

    def test_it_filters_like_the_queue(self):
        self.assertEqual(self.runs("?status=resolved"), ["run-0"])
        self.assertEqual(self.runs("?rating=good"), ["run-4"])
        self.assertEqual(self.runs("?priority=urgent"), ["run-1", "run-3"])
        self.assertEqual(self.runs("?agent=billing-bot"), ["run-2"])
        self.assertEqual(self.runs("?tag=tone"), ["run-3"])
        self.assertEqual(self.runs("?q=number+4"), ["run-4"])
        self.assertEqual(len(self.runs("?status=active")), 4)

    def test_a_bad_cursor_or_limit_names_the_field(self):
        response = self.get("?after=nonsense")
        self.assertEqual((response.status_code, response.json()["field"]), (422, "after"))
        response = self.get("?limit=5000")
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["field"], "limit")

    def test_the_list_costs_the_same_queries_for_any_page_size(self):
        self.get()  # notes the key's last use, which is written once a minute at most
        for limit in (2, 5):
            with self.assertNumQueries(3):  # the key, the rate counter, the page
                response = self.get(f"?limit={limit}")
            self.assertEqual(len(response.json()["items"]), limit)

    def test_stats_count_by_status_rating_and_priority(self):
        body = self.get("/stats").json()
        self.assertEqual(body["total"], 5)
        self.assertEqual({c["value"]: c["count"] for c in body["by_status"]}["open"], 4)
        self.assertEqual({c["value"]: c["count"] for c in body["by_priority"]}["urgent"], 2)
        # Twelve weeks of days up to today: thirteen Mondays, or twelve when today is a Sunday.
        today = timezone.now().date()
        weeks = [date.fromisoformat(week["week"]) for week in body["weeks"]]
        self.assertEqual(len(weeks), 12 if today.weekday() == 6 else 13)
        self.assertEqual(weeks[-1], today - timedelta(days=today.weekday()))

    def test_stats_refuse_a_backwards_range(self):
        response = self.get("/stats?since=2026-03-05&until=2026-03-01")
        self.assertEqual((response.status_code, response.json()["field"]), (422, "until"))

    def test_export_streams_the_resolved_reviews(self):
        make_review(make_run(self.workspace, run_id="run-out", output="Hi"), status="resolved")
        with patch("traces.reviews.export.CHUNK", 1):
            response = self.get("/export")
        lines = b"".join(response.streaming_content).decode().splitlines()
        self.assertEqual(response["Content-Type"], "application/jsonl")
        self.assertEqual([json.loads(line)["metadata"]["run_id"] for line in lines], ["run-out"])
