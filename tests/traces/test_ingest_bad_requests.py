"""Bad spans and bad requests at both ingest routes: a bad span is rejected whole and named in
partial_success, a bad encoding is a 4xx naming Content-Encoding, an unreachable database a 503."""

import gzip
import json
import zlib
from unittest import mock

from django.db import InterfaceError, OperationalError
from django.test import TestCase, override_settings
from google.rpc import code_pb2, status_pb2

from tests.events import BASE, event
from tests.factories import make_api_key, make_workspace
from traces.models import Run, Session, Task

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
TRACE = "5b8efff798038103d269b633813fc60c"
START = int(BASE.timestamp() * 1e9)


def kv(key, value):
    return {"key": key, "value": value}


def nested_kvlist(levels):
    value = {"stringValue": "leaf"}
    for _ in range(levels):
        value = {"kvlistValue": {"values": [kv("k", value)]}}
    return value


def span(span_id, *, attrs=(), start=START, end=None, name="work"):
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "name": name,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end or start + 10**9),
        "attributes": list(attrs),
    }


def export(*spans):
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}).encode()


class RequestTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def post(self, url, body, content_type=JSON, encoding=None):
        headers = {"Authorization": f"Bearer {self.key}"}
        if encoding:
            headers["Content-Encoding"] = encoding
        return self.client.post(url, body, content_type=content_type, headers=headers)


class OtlpBadSpanTest(RequestTestCase):
    GOOD = "aaaaaaaaaaaaaaaa"

    def assert_span_rejected(self, bad, reason_part):
        """The bad span is named in partial_success and stores nothing; the good one beside it is stored."""
        response = self.post("/v1/traces", export(span(self.GOOD), bad))
        self.assertEqual(response.status_code, 200, response.content)
        partial = response.json()["partialSuccess"]
        self.assertEqual(partial["rejectedSpans"], "1")
        self.assertIn(f"{TRACE}:{bad['spanId']}", partial["errorMessage"])
        self.assertIn(reason_part, partial["errorMessage"])
        steps = set(Task.objects.filter(run__run_id=TRACE).values_list("step_id", flat=True))
        self.assertEqual(steps, {self.GOOD})

    def test_a_start_time_past_the_accepted_range_is_rejected(self):
        self.assert_span_rejected(
            span("bbbbbbbbbbbbbbbb", start=2**64 - 1, end=2**64 - 1), "start_time_unix_nano"
        )

    def test_a_session_id_longer_than_its_column_is_rejected_and_links_nothing(self):
        bad = span("bbbbbbbbbbbbbbbb", attrs=[kv("session.id", {"stringValue": "s" * 201})])
        self.assert_span_rejected(bad, "attributes.session.id")
        self.assertFalse(Session.objects.exists())

    def test_a_session_id_with_a_slash_or_a_nul_is_rejected(self):
        for value in ("a/b", "a\x00b"):
            bad = span("bbbbbbbbbbbbbbbb", attrs=[kv("session.id", {"stringValue": value})])
            with self.subTest(value=value):
                self.assert_span_rejected(bad, "attributes.session.id")

    def test_a_provider_longer_than_its_column_is_cut_to_it(self):
        attrs = [
            kv("gen_ai.system", {"stringValue": "p" * 150}),
            kv("gen_ai.usage.input_tokens", {"intValue": "5"}),
        ]
        response = self.post("/v1/traces", export(span("bbbbbbbbbbbbbbbb", attrs=attrs)))
        self.assertEqual(response.json(), {})
        self.assertEqual(Run.objects.get().model_calls, 1)

    def test_a_cost_past_the_column_or_negative_tokens_are_rejected_naming_the_attribute(self):
        for attrs, named in (
            (
                [
                    kv("llm.cost.total", {"doubleValue": 1e18}),
                    kv("llm.token_count.prompt", {"intValue": "3"}),
                ],
                "llm.cost.total",
            ),
            ([kv("gen_ai.usage.input_tokens", {"intValue": "-3"})], "gen_ai.usage.input_tokens"),
        ):
            with self.subTest(named=named):
                self.assert_span_rejected(span("bbbbbbbbbbbbbbbb", attrs=attrs), named)

    def test_nul_in_attributes_and_names_is_stored_as_a_replacement_character(self):
        attrs = [kv("input.value", {"stringValue": "a\x00b"}), kv("x\x00y", {"stringValue": "c\x00d"})]
        response = self.post("/v1/traces", export(span("bbbbbbbbbbbbbbbb", attrs=attrs)))
        self.assertEqual(response.json(), {})
        task = Task.objects.get()
        self.assertEqual(task.input, "a\ufffdb")
        self.assertEqual(task.metadata["attributes"], {"x\ufffdy": "c\ufffdd"})

    def test_an_attribute_nested_past_the_limit_is_rejected_naming_it(self):
        # Protobuf's decoder stops near 32 levels of kvlist values in both encodings: a 400.
        response = self.post(
            "/v1/traces", export(span("bbbbbbbbbbbbbbbb", attrs=[kv("deep", nested_kvlist(33))]))
        )
        self.assertEqual(response.status_code, 400)
        self.assertIn("attributes field", response.json()["message"])
        self.assertFalse(Task.objects.exists())

    def test_a_json_body_nested_hundreds_of_levels_is_a_400_naming_where(self):
        for levels in (100, 2000):
            body = export(span("bbbbbbbbbbbbbbbb", attrs=[kv("deep", {"stringValue": "<deep>"})]))
            deep = '{"kvlistValue": {"values": [' * levels + "]}}" * levels
            text = body.decode().replace('{"stringValue": "<deep>"}', deep)
            with self.subTest(levels=levels):
                response = self.post("/v1/traces", text.encode())
                self.assertEqual(response.status_code, 400, response.content)
                self.assertIn("nested deeper", response.json()["message"])
                if levels < 1000:  # past what json.loads can read, the body as a whole is named
                    self.assertIn("spans.0.attributes.0.value", response.json()["message"])
        self.assertFalse(Task.objects.exists())


class EncodingTest(RequestTestCase):
    def batch(self):
        return json.dumps({"batch": [event("run.start", {"run_id": "r1", "agent_id": "bot"})]}).encode()

    def test_both_routes_take_gzip_and_deflate_zlib_or_bare(self):
        def bare(data):
            deflater = zlib.compressobj(wbits=-15)
            return deflater.compress(data) + deflater.flush()

        for name, encode in (("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", bare)):
            with self.subTest(name=name):
                Run.objects.all().delete()
                response = self.post("/api/v1/ingest", encode(self.batch()), encoding=name)
                self.assertEqual(response.status_code, 200, response.content)
                response = self.post("/v1/traces", encode(export(span("bbbbbbbbbbbbbbbb"))), encoding=name)
                self.assertEqual(response.status_code, 200, response.content)
                self.assertEqual(Run.objects.count(), 2)

    def test_a_corrupt_body_is_a_400_naming_content_encoding(self):
        for name, body in (
            ("gzip", b"not gzip"),
            ("gzip", gzip.compress(self.batch())[:-12]),
            ("deflate", b"\x00nope"),
        ):
            with self.subTest(name=name):
                response = self.post("/api/v1/ingest", body, encoding=name)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["field"], "Content-Encoding")
                response = self.post("/v1/traces", body, encoding=name)
                self.assertEqual(response.status_code, 400)
                self.assertIn("Content-Encoding", response.json()["message"])

    def test_an_unknown_encoding_is_a_415_naming_content_encoding(self):
        response = self.post("/api/v1/ingest", self.batch(), encoding="br")
        self.assertEqual((response.status_code, response.json()["field"]), (415, "Content-Encoding"))

    @override_settings(INGEST_MAX_BYTES=10_000)
    def test_a_decompression_bomb_stops_at_the_size_limit(self):
        bomb = b'{"batch": [' + b" " * 50_000_000 + b"]}"
        for name, encode in (("gzip", gzip.compress), ("deflate", zlib.compress)):
            body = encode(bomb)
            with self.subTest(name=name):
                self.assertLess(len(body), 100_000)
                self.assertEqual(self.post("/api/v1/ingest", body, encoding=name).status_code, 413)
                self.assertEqual(self.post("/v1/traces", body, encoding=name).status_code, 413)


class DatabaseUnavailableTest(RequestTestCase):
    def test_both_routes_answer_a_503_with_retry_after_in_their_own_encoding(self):
        for error in (OperationalError("connection refused"), InterfaceError("connection already closed")):
            with (
                self.subTest(error=type(error).__name__),
                mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=error),
            ):
                response = self.post("/api/v1/ingest", json.dumps({"batch": []}))
                self.assertEqual(response.status_code, 503, response.content)
                self.assertEqual(response["Content-Type"].split(";")[0], JSON)
                self.assertIn("database", response.json()["detail"])
                self.assertTrue(response["Retry-After"].isdigit())

                response = self.post("/v1/traces", export(span("bbbbbbbbbbbbbbbb")))
                self.assertEqual(response.status_code, 503, response.content)
                self.assertEqual(response.json()["code"], code_pb2.UNAVAILABLE)
                self.assertTrue(response["Retry-After"].isdigit())

                response = self.post("/v1/traces", b"\x0a\x00", content_type=PROTOBUF)
                self.assertEqual(response.status_code, 503)
                self.assertEqual(status_pb2.Status.FromString(response.content).code, code_pb2.UNAVAILABLE)
