"""A NUL character anywhere a request names something: a 4xx naming it, on SQLite and PostgreSQL alike
(PostgreSQL cannot compare or store U+0000 and used to answer 500)."""

import json

from django.test import TestCase

from backoffice.models import Role
from tests.factories import make_api_key, make_member, make_review, make_run, make_workspace


class NulGuardTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.admin = make_member(cls.workspace, Role.ADMIN)
        _, cls.key = make_api_key(cls.workspace)
        cls.target_run = make_run(cls.workspace, run_id="run-1")
        cls.review = make_review(cls.target_run)

    def api(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.key}"}
        if body is None:
            return getattr(self.client, method)(path, headers=headers)
        return getattr(self.client, method)(
            path, json.dumps(body), content_type="application/json", headers=headers
        )

    def assertProblem(self, response, status, field):
        self.assertEqual(response.status_code, status)
        self.assertTrue(response["Content-Type"].startswith("application/json"))
        self.assertEqual(response.json()["field"], field)
        self.assertIn("NUL", response.json()["detail"])

    def test_a_nul_in_an_api_path_is_a_json_400_naming_the_path(self):
        for path in ("/api/v1/runs/a%00b", "/api/v1/sessions/a%00b", "/api/v1/reviews/check/a%00b"):
            with self.subTest(path=path):
                self.assertProblem(self.api("get", path), 400, "path")

    def test_a_nul_in_an_api_query_parameter_is_a_json_400_naming_it(self):
        for name in ("q", "agent", "tag", "assignee", "after"):
            with self.subTest(name=name):
                self.assertProblem(self.api("get", f"/api/v1/reviews?{name}=a%00"), 400, name)

    def test_a_nul_in_a_review_body_is_a_422_naming_the_field(self):
        body = {"run_id": "run-1", "rating": "bad", "comment": "It agreed to \x00 everything."}
        self.assertProblem(self.api("post", "/api/v1/reviews", body), 422, "comment")
        patch = self.api("patch", f"/api/v1/reviews/{self.review.pk}", {"tags": ["ok", "b\x00d"]})
        self.assertProblem(patch, 422, "tags")
        patch = self.api("patch", f"/api/v1/reviews/{self.review.pk}", {"resolution_notes": "\x00"})
        self.assertProblem(patch, 422, "resolution_notes")

    def test_what_was_stored_stays_when_a_body_is_refused(self):
        self.api("patch", f"/api/v1/reviews/{self.review.pk}", {"comment": "Still \x00 wrong answer."})
        self.review.refresh_from_db()
        self.assertNotIn("\x00", self.review.comment)

    def test_a_nul_in_a_page_path_is_a_404(self):
        self.client.force_login(self.admin)
        for path in (
            "/w/acme/runs/a%00b/",
            "/w/acme/conversations/a%00b/",
            "/w/acme/runs/run-1/tasks/a%00b/",
            "/w/acme/workflows/a%00b/dag/",
        ):
            with self.subTest(path=path):
                self.assertEqual(self.client.get(path).status_code, 404)

    def test_a_nul_in_a_page_filter_is_a_400_naming_it(self):
        self.client.force_login(self.admin)
        for path, name in (
            ("/w/acme/runs/?workflow=%00", "workflow"),
            ("/w/acme/runs/?after=%00", "after"),
            ("/w/acme/conversations/?q=%00", "q"),
            ("/w/acme/reviews/?q=a%00", "q"),
            ("/w/acme/model-calls/?model=%00", "model"),
        ):
            with self.subTest(path=path):
                response = self.client.get(path)
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, f"{name}: must not contain", status_code=400)

    def test_a_nul_in_a_review_form_is_a_400_naming_the_field(self):
        self.client.force_login(self.admin)
        form = {"rating": "bad", "priority": "low", "comment": "Wrong \x00 answer again."}
        response = self.client.post(f"/w/acme/reviews/{self.review.pk}/edit/", form)
        self.assertContains(response, "comment: must not contain", status_code=400)
        self.review.refresh_from_db()
        self.assertNotIn("\x00", self.review.comment)
