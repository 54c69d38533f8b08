"""Every error the JSON API answers has the shape its OpenAPI document says, and names the field."""

import json
from decimal import Decimal

import jsonschema
from django.test import TestCase

from backoffice.api_rendering import plain_decimal
from tests.factories import make_api_key, make_review, make_run, make_session, make_task, make_workspace

# (method, documented path, requested path, JSON body or None, expected status, expected field)
CASES = [
    ("get", "/api/v1/runs/{run_id}", "/api/v1/runs/missing", None, 404, "run_id"),
    ("get", "/api/v1/runs/{run_id}", "/api/v1/runs/a%00b", None, 400, "path"),
    ("get", "/api/v1/runs/{run_id}/tasks", "/api/v1/runs/run-1/tasks?limit=abc", None, 422, "limit"),
    ("get", "/api/v1/runs/{run_id}/tasks", "/api/v1/runs/run-1/tasks?offset=-1", None, 422, "offset"),
    ("get", "/api/v1/runs/{run_id}/tasks", "/api/v1/runs/missing/tasks", None, 404, "run_id"),
    ("get", "/api/v1/sessions/{session_id}", "/api/v1/sessions/missing", None, 404, "session_id"),
    ("get", "/api/v1/reviews", "/api/v1/reviews?limit=0", None, 422, "limit"),
    ("get", "/api/v1/reviews", "/api/v1/reviews?after=nonsense", None, 422, "after"),
    ("get", "/api/v1/reviews", "/api/v1/reviews?q=%00", None, 400, "q"),
    ("get", "/api/v1/reviews/stats", "/api/v1/reviews/stats?until=9999-12-31", None, 422, "until"),
    ("get", "/api/v1/reviews/export", "/api/v1/reviews/export?since=nope", None, 422, "since"),
    ("get", "/api/v1/reviews/check/{run_id}", "/api/v1/reviews/check/missing", None, 404, "run_id"),
    ("post", "/api/v1/reviews", "/api/v1/reviews", {"run_id": "run-1"}, 422, "rating"),
    ("post", "/api/v1/reviews", "/api/v1/reviews", "{not json", 400, "body"),
    (
        "post",
        "/api/v1/reviews",
        "/api/v1/reviews",
        {"run_id": "run-1", "rating": "bad", "comment": "Twice over."},
        409,
        "run_id",
    ),
    ("get", "/api/v1/reviews/{review_id}", "/api/v1/reviews/999999", None, 404, "review_id"),
    ("patch", "/api/v1/reviews/{review_id}", "/api/v1/reviews/{review}", {"status": "lost"}, 422, "status"),
    ("patch", "/api/v1/reviews/{review_id}", "/api/v1/reviews/{review}", {"rating": None}, 422, "rating"),
    ("delete", "/api/v1/reviews/{review_id}", "/api/v1/reviews/999999", None, 404, "review_id"),
    ("post", "/api/v1/ingest", "/api/v1/ingest", {"events": []}, 400, "batch"),
    ("post", "/api/v1/ingest", "/api/v1/ingest", "{not json", 400, "body"),
]


class ApiErrorShapesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        _, cls.key = make_api_key(cls.workspace, scopes=("ingest", "read", "admin"))
        cls.target_run = make_run(cls.workspace, run_id="run-1", session=make_session(cls.workspace))
        make_task(cls.target_run)
        cls.review = make_review(cls.target_run)
        cls.free_run = make_run(cls.workspace, run_id="run-free", cost=Decimal(0))

    def setUp(self):
        self.spec = self.client.get("/api/v1/openapi.json").json()

    def call(self, method, path, body=None, key=True):
        headers = {"Authorization": f"Bearer {self.key}"} if key else {}
        if body is None:
            return getattr(self.client, method)(path, headers=headers)
        data = body if isinstance(body, str) else json.dumps(body)
        return getattr(self.client, method)(path, data, content_type="application/json", headers=headers)

    def assertDocumented(self, method, documented, response):
        responses = self.spec["paths"][documented][method]["responses"]
        status = str(response.status_code)
        self.assertIn(status, responses, f"{method.upper()} {documented} does not document {status}")
        schema = responses[status]["content"]["application/json"]["schema"]
        jsonschema.validate(response.json(), {**schema, "components": self.spec["components"]})

    def test_each_routes_error_answers_validate_against_its_documented_schema(self):
        for method, documented, path, body, status, field in CASES:
            with self.subTest(method=method, path=path):
                response = self.call(method, path.format(review=self.review.pk), body)
                self.assertEqual(response.status_code, status, response.content)
                self.assertTrue(response["Content-Type"].startswith("application/json"))
                self.assertEqual(response.json()["field"], field)
                self.assertDocumented(method, documented, response)

    def test_calls_without_a_key_answer_a_documented_401(self):
        for documented, operations in self.spec["paths"].items():
            for method in operations:
                path = documented.format(
                    run_id="run-1",
                    session_id="s",
                    review_id=self.review.pk,
                    name="refund",
                    user_id="u",
                    rule_id=1,
                    budget_id=1,
                    monitor_id=1,
                )
                with self.subTest(method=method, path=path):
                    response = self.call(method, path, key=False)
                    self.assertEqual(response.status_code, 401)
                    self.assertEqual(response.json()["field"], "Authorization")
                    self.assertDocumented(method, documented, response)

    def shapes(self, schema):
        """The component schemas an answer may take: one, or each of an anyOf."""
        if "$ref" in schema:
            return [self.spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]]
        return [shape for branch in schema.get("anyOf", []) for shape in self.shapes(branch)]

    def test_every_route_documents_its_errors_with_the_one_problem_schema(self):
        problem = self.spec["components"]["schemas"]["Problem"]
        for documented, operations in self.spec["paths"].items():
            for method, operation in operations.items():
                with self.subTest(method=method, path=documented):
                    responses = operation["responses"]
                    for status in ("400", "401", "404", "422"):
                        self.assertIn(status, responses)
                    for status, answer in responses.items():
                        if int(status) < 400:
                            continue
                        shapes = self.shapes(answer["content"]["application/json"]["schema"])
                        # Problem itself, or (409) a Problem that adds the review the run already has.
                        self.assertTrue(
                            any(
                                problem["properties"].items() <= shape["properties"].items()
                                for shape in shapes
                            )
                        )

    def test_a_review_id_that_is_not_a_number_is_a_json_404(self):
        for method in ("get", "patch", "delete"):
            with self.subTest(method=method):
                response = self.call(method, "/api/v1/reviews/abc")
                self.assertEqual(response.status_code, 404)
                self.assertEqual(response.json(), {"detail": "No such route", "field": "path"})

    def test_zero_cost_is_written_0_and_small_costs_keep_their_digits(self):
        self.assertEqual(self.call("get", "/api/v1/runs/run-free").json()["cost"], "0")
        self.assertEqual(self.call("get", "/api/v1/runs/run-1").json()["cost"], "0.0012")
        self.assertIsNone(self.call("get", "/api/v1/runs/run-1/tasks").json()["tasks"][0]["cost"])  # unknown
        for number, text in (
            ("0E-10", "0"),
            ("0.0000012", "0.0000012"),
            ("1.2E-7", "0.00000012"),
            ("12.5000000000", "12.5"),
            ("1.5E+3", "1500"),
            ("-0.00", "0"),
        ):
            with self.subTest(number=number):
                self.assertEqual(plain_decimal(Decimal(number)), text)
