"""One small test per class of failure the fuzz suite found: each is the smallest request of its class,
and passes once the product answers it with a 4xx that names the field (or documents the shape).

The rule for "names its field" is the fuzz suite's (tests/fuzz/harness.py `names_its_field`).
"""

import gzip
import json

from django.test import TestCase

from tests.events import event
from tests.factories import make_api_key, make_workspace
from tests.fuzz.harness import names_its_field
from tests.world import populate
from traces.ingest import ingest_batch
from traces.models import Review

CORRUPT_GZIP = b"\x1f\x8b\x08\x00garbage" + b'{"batch": []}'


class IngestRegressionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.key = make_api_key(cls.workspace)[1]

    def post(self, path, body, content_type="application/json", **headers):
        return self.client.post(
            path,
            body,
            content_type=content_type,
            headers={"Authorization": f"Bearer {self.key}", **headers},
        )

    def assert_names_field(self, response):
        self.assertGreaterEqual(response.status_code, 400)
        self.assertLess(response.status_code, 500)
        self.assertTrue(names_its_field(response.json()), response.content[:300])

    def test_corrupt_gzip_in_an_event_batch_gets_a_400_naming_the_body(self):
        response = self.post("/api/v1/ingest", CORRUPT_GZIP, **{"Content-Encoding": "gzip"})
        self.assert_names_field(response)

    def test_a_body_said_to_be_gzip_that_is_not_gets_a_400_naming_the_body(self):
        response = self.post("/api/v1/ingest", b'{"batch": []}', **{"Content-Encoding": "gzip"})
        self.assert_names_field(response)

    def test_a_batch_nested_deeper_than_the_json_parser_goes_gets_a_400_naming_the_body(self):
        depth = 5000
        body = '{"batch": ' + "[" * depth + "]" * depth + "}"
        response = self.post("/api/v1/ingest", body.encode())
        self.assert_names_field(response)

    def test_events_at_the_ends_of_the_calendar_are_answered_without_500(self):
        for stamp in ("9999-12-31T23:59:59.999999-14:00", "0001-01-01T00:00:00+14:00"):
            batch = [dict(event("run.start", {"run_id": f"far-{stamp}", "agent_id": "a"}), timestamp=stamp)]
            response = self.post("/api/v1/ingest", json.dumps({"batch": batch}).encode())
            self.assertLess(response.status_code, 500, stamp)

    def test_a_payload_nested_just_under_the_parser_limit_is_answered_without_500(self):
        depth = 900
        batch = [event("run.start", {"run_id": "deep", "agent_id": "a", "input": {"a": "DEEP"}})]
        body = json.dumps({"batch": batch}).replace('"DEEP"', "[" * depth + "]" * depth)
        response = self.post("/api/v1/ingest", body.encode())
        self.assertLess(response.status_code, 500)

    def test_corrupt_gzip_on_the_otlp_endpoint_gets_a_400(self):
        for path in ("/v1/traces", "/api/public/otel/v1/traces"):
            for content_type in ("application/json", "application/x-protobuf"):
                response = self.post(path, CORRUPT_GZIP, content_type, **{"Content-Encoding": "gzip"})
                self.assertEqual(response.status_code, 400, (path, content_type))

    def test_a_rejection_echoing_a_field_name_with_a_lone_surrogate_is_valid_json(self):
        deep = [1]
        for _ in range(100):  # deeper than the limit: the rejection names `body.\ud800`
            deep = [deep]
        batch = [event("step.failed", {"run_id": "r", "step_id": "s", "\ud800": deep, "error": "x"})]
        body = json.dumps({"batch": batch}).encode()  # ensure_ascii: the surrogate travels as \ud800
        response = self.post("/api/v1/ingest", body)
        self.assertLess(response.status_code, 500)
        response.content.decode()  # UTF-8 throughout
        response.json()

    def test_an_otlp_json_body_that_is_not_an_object_gets_a_400_naming_the_body(self):
        for text in (b"null", b"false", b"[[[0]]]", b'"spans"'):
            with self.subTest(text=text):
                response = self.post("/v1/traces", text)
                self.assertEqual(response.status_code, 400, response.content)
                self.assertTrue(response.json()["message"].startswith("body:"), response.content)

    def test_a_gzipped_batch_is_still_accepted(self):
        body = gzip.compress(json.dumps({"batch": [event("track", {"name": "ok"})]}).encode())
        response = self.post("/api/v1/ingest", body, **{"Content-Encoding": "gzip"})
        self.assertEqual(response.status_code, 200, response.content)


class SlashIdRegressionTests(TestCase):
    """A session id holding `/` used to be stored and then break every tab of its runs (NoReverseMatch):
    ingest now rejects ids that go into page URLs when they hold `/`, naming the field."""

    def test_a_session_id_holding_a_slash_is_rejected_naming_the_field(self):
        workspace = make_workspace()
        batch = [
            event("run.start", {"run_id": "run-1", "agent_id": "a", "session_id": "session/2"}),
            event("message", {"session_id": "session/2", "run_id": "run-1", "role": "user", "content": "hi"}),
        ]
        results = ingest_batch(workspace, batch)
        self.assertEqual([(r["status"], r["field"]) for r in results], [("rejected", "body.session_id")] * 2)


class ReviewApiRegressionTests(TestCase):
    """The reviews API documents its 422 as a Problem (`detail` a string, `field`), and answers a list
    of validation errors instead; a body that is not JSON gets a 400 without `field`."""

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        populate(cls.workspace)
        cls.key = make_api_key(cls.workspace)[1]
        cls.review = Review.objects.get(workspace=cls.workspace)

    def call(self, method, path, body=None):
        extra = {"content_type": "application/json"} if body is not None else {}
        return getattr(self.client, method)(
            path, body, headers={"Authorization": f"Bearer {self.key}"}, **extra
        )

    def assert_documented_problem(self, response):
        """The documented shape of the reviews API's 4xx: `detail` a string, and the `field` named."""
        self.assertIn(response.status_code, {400, 422})
        payload = response.json()
        self.assertIsInstance(payload.get("detail"), str, payload)
        self.assertTrue(payload.get("field"), payload)

    def test_an_empty_date_filter_on_the_review_list_gets_the_documented_422(self):
        self.assert_documented_problem(self.call("get", "/api/v1/reviews?until="))

    def test_an_empty_date_filter_on_the_review_stats_gets_the_documented_422(self):
        self.assert_documented_problem(self.call("get", "/api/v1/reviews/stats?since="))

    def test_a_review_update_with_a_wrong_type_gets_the_documented_422(self):
        path = f"/api/v1/reviews/{self.review.pk}"
        self.assert_documented_problem(self.call("patch", path, {"tags": True}))

    def test_a_review_create_with_an_unexpected_body_gets_the_documented_422(self):
        self.assert_documented_problem(self.call("post", "/api/v1/reviews", {"x": {}}))

    def test_a_review_update_naming_a_target_turn_with_a_nul_gets_a_4xx_naming_it(self):
        """PostgreSQL refuses NUL in text: the lookup of the target turn raised a DataError (500)."""
        path = f"/api/v1/reviews/{self.review.pk}"
        response = self.call("patch", path, {"target_message_id": "a\x00b"})
        self.assertLess(response.status_code, 500)
        self.assertTrue(names_its_field(response.json()), response.content)

    def test_a_review_create_whose_body_is_not_json_gets_a_400_naming_the_body(self):
        response = self.call("post", "/api/v1/reviews", b"\xaef\xe0\x08[]")
        self.assertEqual(response.status_code, 400)
        self.assertTrue(names_its_field(response.json()), response.content)
