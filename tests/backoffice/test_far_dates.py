"""Days at the far ends of the calendar in every date filter: a 4xx naming the parameter when a day is
out of range (adding the day after `until` used to overflow into a 500), answers for the farthest days
accepted, and the same on SQLite and PostgreSQL."""

import json

from django.test import TestCase

from backoffice.days import EARLIEST, LATEST
from backoffice.models import Role
from metrics.forms import CardForm
from tests.factories import make_api_key, make_member, make_review, make_run, make_workspace

PAGES = [
    "/w/acme/runs/",
    "/w/acme/conversations/",
    "/w/acme/model-calls/",
    "/w/acme/reviews/",
    "/w/acme/reviews/stats/",
    "/w/acme/reviews/export.jsonl",
]
APIS = ["/api/v1/reviews", "/api/v1/reviews/stats", "/api/v1/reviews/export"]
TOO_FAR = ["9999-12-31", "0001-01-01", "1899-12-31"]


class FarDatesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.admin = make_member(cls.workspace, Role.ADMIN)
        _, cls.key = make_api_key(cls.workspace)
        make_review(make_run(cls.workspace))

    def setUp(self):
        self.client.force_login(self.admin)

    def api(self, path):
        response = self.client.get(path, headers={"Authorization": f"Bearer {self.key}"})
        return response.status_code, json.loads(response.content) if response.status_code != 200 else None

    def test_pages_answer_400_naming_a_day_out_of_range(self):
        for page in PAGES:
            for name in ("since", "until"):
                for day in TOO_FAR:
                    with self.subTest(page=page, name=name, day=day):
                        response = self.client.get(f"{page}?{name}={day}")
                        self.assertEqual(response.status_code, 400)
                        self.assertContains(response, name, status_code=400)

    def test_pages_answer_the_farthest_days_they_accept(self):
        for page in PAGES:
            with self.subTest(page=page):
                response = self.client.get(f"{page}?until={LATEST:%Y-%m-%d}")
                self.assertEqual(response.status_code, 200)
        for page in [p for p in PAGES if "stats" not in p]:
            with self.subTest(page=page):
                response = self.client.get(f"{page}?since={EARLIEST:%Y-%m-%d}&until={LATEST:%Y-%m-%d}")
                self.assertEqual(response.status_code, 200)

    def test_the_stats_page_refuses_a_range_of_more_than_ten_years_naming_since(self):
        response = self.client.get("/w/acme/reviews/stats/?since=2000-01-01&until=2020-01-01")
        self.assertContains(response, "at most", status_code=400)

    def test_apis_answer_422_naming_a_day_out_of_range(self):
        for path in APIS:
            for name in ("since", "until"):
                for day in TOO_FAR:
                    with self.subTest(path=path, name=name, day=day):
                        status, body = self.api(f"{path}?{name}={day}")
                        self.assertEqual(status, 422)
                        self.assertEqual(body["field"], name)

    def test_apis_answer_the_farthest_days_they_accept(self):
        for path in APIS:
            with self.subTest(path=path):
                self.assertEqual(self.api(f"{path}?until={LATEST:%Y-%m-%d}")[0], 200)
        self.assertEqual(self.api(f"/api/v1/reviews?since={EARLIEST:%Y-%m-%d}")[0], 200)
        status, body = self.api(f"/api/v1/reviews/stats?since={EARLIEST:%Y-%m-%d}")
        self.assertEqual((status, body["field"]), (422, "since"))

    def test_the_dashboard_range_answers_400_naming_a_day_out_of_range(self):
        for query, name in (
            ("start=9999-12-30&end=9999-12-31", "end"),
            ("start=0001-01-01&end=0001-01-02", "start"),
        ):
            with self.subTest(query=query):
                response = self.client.get(f"/w/acme/metrics/?range=custom&{query}")
                self.assertContains(response, f"{name}:", status_code=400)

    def test_the_dashboard_answers_its_last_days(self):
        response = self.client.get("/w/acme/metrics/?range=custom&start=9998-12-01&end=9998-12-31")
        self.assertEqual(response.status_code, 200)

    def test_a_card_with_a_custom_range_out_of_range_names_the_field(self):
        form = CardForm(
            {
                "title": "Runs",
                "kind": "number",
                "source": "runs",
                "aggregation": "count",
                "time_range": "custom",
                "custom_start": "0001-01-01",
                "custom_end": "9999-12-31",
                "bucket": "day",
                "colour": "blue",
                "size": "small",
            }
        )
        self.assertFalse(form.is_valid())
        self.assertIn("custom_start", form.errors)
        self.assertIn("custom_end", form.errors)
