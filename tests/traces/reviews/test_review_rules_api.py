import json
from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from backoffice.models import AuditEntry, Role
from tests.factories import make_api_key, make_member, make_run, make_workspace
from traces.models import Review, ReviewQueue, ReviewRule


class ReviewRulesApiTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace, label="ops", scopes=["admin"])
        _, cls.read_key = make_api_key(cls.workspace, label="reader", scopes=["ingest", "read"])
        cls.rita = make_member(cls.workspace, Role.REVIEWER, username="rita")
        cls.queue = ReviewQueue.objects.create(workspace=cls.workspace, name="Billing")
        cls.other = make_workspace()
        cls.foreign_rule = ReviewRule.objects.create(workspace=cls.other, name="Theirs")
        cls.foreign_queue = ReviewQueue.objects.create(workspace=cls.other, name="Theirs")

    def call(self, method, path="", body=None, key=None):
        headers = {"Authorization": f"Bearer {key or self.key}"}
        url = "/api/v1/review-rules" + path
        if body is None:
            return getattr(self.client, method)(url, headers=headers)
        return getattr(self.client, method)(
            url, json.dumps(body), content_type="application/json", headers=headers
        )

    def create(self, **fields):
        body = {"name": "Costly failures", "filter": "status=failed&min_cost=0.5", **fields}
        return self.call("post", "", body)

    def test_it_creates_lists_reads_changes_and_deletes_a_rule_with_an_audit_trail(self):
        response = self.create(sample_rate=0.25, priority="high", tags=["Billing"], queue_id=self.queue.pk)
        self.assertEqual(response.status_code, 201, response.content)
        rule = response.json()
        self.assertEqual(rule["queue"], "Billing")
        self.assertEqual(rule["tags"], ["billing"])
        self.assertEqual((rule["matched_count"], rule["sampled_count"]), (0, 0))
        self.assertEqual([r["name"] for r in self.call("get").json()], ["Costly failures"])
        path = f"/{rule['id']}"
        self.assertEqual(self.call("get", path).json()["sample_rate"], 0.25)
        changed = self.call("patch", path, {"enabled": False, "assignee": "rita", "queue_id": None})
        self.assertEqual(changed.status_code, 200, changed.content)
        self.assertEqual((changed.json()["enabled"], changed.json()["assignee"]), (False, "rita"))
        self.assertIsNone(changed.json()["queue_id"])
        self.assertEqual(self.call("delete", path).status_code, 204)
        self.assertFalse(ReviewRule.objects.filter(workspace=self.workspace).exists())
        entries = AuditEntry.objects.filter(workspace=self.workspace).order_by("id")
        self.assertEqual(
            list(entries.values_list("action", flat=True)),
            ["review_rule.created", "review_rule.changed", "review_rule.deleted"],
        )
        self.assertEqual(entries[1].changes["enabled"], [True, False])
        self.assertTrue(entries[0].actor_name.startswith("key ops"))

    def test_bad_fields_answer_422_naming_the_field(self):
        self.create()
        for body, field in (
            ({"filter": "status=nope"}, "filter"),
            ({"filter": "sort=-cost"}, "filter"),
            ({"sample_rate": 1.5}, "sample_rate"),
            ({"priority": "asap"}, "priority"),
            ({"queue_id": self.foreign_queue.pk}, "queue_id"),
            ({"assignee": "nobody"}, "assignee"),
            ({"name": ""}, "name"),
            ({"name": "Costly failures"}, "name"),
        ):
            with self.subTest(field=field, body=body):
                response = self.create(**{"name": "Another", **body})
                self.assertEqual(response.status_code, 422, response.content)
                self.assertEqual(response.json()["field"], field)

    def test_a_patch_cannot_null_a_required_field(self):
        rule = self.create().json()
        response = self.call("patch", f"/{rule['id']}", {"sample_rate": None})
        self.assertEqual((response.status_code, response.json()["field"]), (422, "sample_rate"))

    def test_another_workspaces_rule_answers_404(self):
        path = f"/{self.foreign_rule.pk}"
        for method, body in (("get", None), ("patch", {"enabled": False}), ("delete", None)):
            self.assertEqual(self.call(method, path, body).status_code, 404, method)
        body = {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}
        self.assertEqual(self.call("post", path + "/backfill", body).status_code, 404)

    def test_rules_need_a_key_with_the_admin_scope(self):
        response = self.call("get", key=self.read_key)
        self.assertEqual((response.status_code, response.json()["field"]), (403, "scope"))
        self.assertEqual(self.call("get", key="bo_nope").status_code, 401)

    def test_a_backfill_opens_reviews_once_and_says_how_many(self):
        now = timezone.now()
        make_run(
            self.workspace, run_id="old-fail", status="failed", cost=1, started_at=now - timedelta(days=3)
        )
        make_run(
            self.workspace, run_id="old-ok", status="completed", cost=1, started_at=now - timedelta(days=3)
        )
        make_run(self.workspace, run_id="cheap", status="failed", cost=0, started_at=now - timedelta(days=3))
        make_run(self.workspace, run_id="new-fail", status="failed", cost=1, started_at=now)
        rule = self.create(queue_id=self.queue.pk).json()
        body = {
            "since": (now - timedelta(days=7)).isoformat(),
            "until": (now - timedelta(days=1)).isoformat(),
        }
        response = self.call("post", f"/{rule['id']}/backfill", body)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual((response.json()["matched"], response.json()["sampled"]), (1, 1))
        self.assertEqual(response.json()["rule"]["matched_count"], 1)
        review = Review.objects.get()
        self.assertEqual((review.run.run_id, review.queue), ("old-fail", self.queue))
        again = self.call("post", f"/{rule['id']}/backfill", body).json()
        self.assertEqual((again["matched"], again["sampled"]), (0, 0))
        self.assertEqual(Review.objects.count(), 1)
        self.assertTrue(AuditEntry.objects.filter(action="review_rule.backfilled").exists())

    def test_a_backfill_range_must_be_dates_in_order(self):
        rule = self.create().json()
        path = f"/{rule['id']}/backfill"
        response = self.call("post", path, {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"})
        self.assertEqual((response.status_code, response.json()["field"]), (422, "until"))
        response = self.call("post", path, {"since": "last week", "until": "2026-01-01T00:00:00Z"})
        self.assertEqual((response.status_code, response.json()["field"]), (422, "since"))
        response = self.call(
            "post", path, {"since": "2026-01-01T00:00:00Z", "until": "9999-12-31T23:00:00-23:00"}
        )
        self.assertEqual((response.status_code, response.json()["field"]), (422, "until"))

    def test_the_openapi_schema_documents_the_rules_with_the_admin_scope(self):
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        self.assertEqual(set(paths["/api/v1/review-rules"]), {"get", "post"})
        self.assertEqual(set(paths["/api/v1/review-rules/{rule_id}"]), {"get", "patch", "delete"})
        backfill = paths["/api/v1/review-rules/{rule_id}/backfill"]["post"]
        self.assertEqual(backfill["security"], [{"AdminKeyAuth": []}])
