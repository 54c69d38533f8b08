"""POST /v1/metrics: the OTLP/HTTP contract, the points stored, duplicates and rejected points."""

import gzip
import json
from datetime import timedelta

from django.test import TestCase, override_settings
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.metrics.v1 import metrics_pb2

from backoffice.retention import Purge
from metrics.models import MetricPoint
from tests.events import BASE
from tests.factories import make_api_key, make_workspace
from tests.metrics.otlp import (
    CUMULATIVE,
    export,
    gauge_metric,
    histogram_metric,
    histogram_point,
    number_point,
    sum_metric,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
URL = "/v1/metrics"


class OtlpMetricsTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def post(self, body, content_type=PROTOBUF, key=None, encoding=None):
        headers = {"Authorization": f"Bearer {key or self.key}"}
        if encoding:
            headers["Content-Encoding"] = encoding
        return self.client.post(URL, body, content_type=content_type, headers=headers)

    def send(self, request):
        response = self.post(request.SerializeToString())
        self.assertEqual(response.status_code, 200, response.content)
        return ExportMetricsServiceResponse.FromString(response.content)

    def points(self, name):
        return MetricPoint.objects.filter(workspace=self.workspace, name=name).order_by("observed_at", "id")


class ContractTest(OtlpMetricsTestCase):
    def request(self):
        return export(sum_metric("gen_ai.requests", [number_point(0, 3)], unit="{request}"))

    def test_it_answers_an_export_response_in_protobuf(self):
        answer = self.send(self.request())
        self.assertFalse(answer.HasField("partial_success"))
        self.assertEqual(self.points("gen_ai.requests").count(), 1)

    def test_it_answers_json_to_json(self):
        body = json_format.MessageToJson(self.request()).encode()
        response = self.post(body, content_type=JSON)
        self.assertEqual((response.status_code, response["Content-Type"]), (200, JSON))
        self.assertEqual(response.json(), {})
        self.assertEqual(self.points("gen_ai.requests").get().value, 3)

    def test_it_takes_gzip_bodies(self):
        response = self.post(gzip.compress(self.request().SerializeToString()), encoding="gzip")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.points("gen_ai.requests").count(), 1)

    def test_a_bad_key_is_a_401_status(self):
        response = self.post(self.request().SerializeToString(), key="nope")
        self.assertEqual(response.status_code, 401)
        self.assertIn("API key", status_pb2.Status.FromString(response.content).message)

    def test_a_key_without_the_ingest_scope_is_a_403(self):
        _, read_only = make_api_key(self.workspace, scopes=["read"])
        response = self.post(self.request().SerializeToString(), key=read_only)
        self.assertEqual(response.status_code, 403)

    def test_a_body_that_is_not_the_request_names_its_message(self):
        response = self.post(b"\xff\xff", content_type=PROTOBUF)
        self.assertEqual(response.status_code, 400)
        self.assertIn("ExportMetricsServiceRequest", status_pb2.Status.FromString(response.content).message)
        response = self.post(b"[]", content_type=JSON)
        self.assertEqual(response.status_code, 400)
        self.assertIn("ExportMetricsServiceRequest", response.json()["message"])

    def test_another_content_type_is_a_415(self):
        response = self.post(b"x", content_type="text/plain")
        self.assertEqual(response.status_code, 415)
        self.assertIn("Content-Type", response.json()["message"])

    def test_a_body_past_the_limit_is_a_413(self):
        with override_settings(INGEST_MAX_BYTES=10):
            response = self.post(self.request().SerializeToString())
        self.assertEqual(response.status_code, 413)

    def test_points_stay_in_the_keys_workspace(self):
        other = make_workspace()
        self.send(self.request())
        self.assertFalse(MetricPoint.objects.filter(workspace=other).exists())


class StoredPointsTest(OtlpMetricsTestCase):
    def test_a_histogram_point_keeps_its_buckets_and_series(self):
        point = histogram_point(0, [1, 5], [2, 3, 1], 14.5, **{"gen_ai.request.model": "gpt-4o"})
        point.min, point.max = 0.2, 9.0
        self.send(export(histogram_metric("gen_ai.client.operation.duration", [point], unit="s")))
        stored = self.points("gen_ai.client.operation.duration").get()
        self.assertEqual((stored.type, stored.temporality, stored.unit), ("histogram", "delta", "s"))
        self.assertEqual((stored.count, stored.total, stored.minimum, stored.maximum), (6, 14.5, 0.2, 9.0))
        self.assertEqual((stored.bounds, stored.bucket_counts), ([1, 5], [2, 3, 1]))
        self.assertEqual(stored.period_bucket_counts, [2, 3, 1])
        self.assertEqual(stored.attributes, {"gen_ai.request.model": "gpt-4o"})
        self.assertEqual(stored.resource, {"service.name": "support-bot"})

    def test_a_gauge_and_a_monotonic_sum(self):
        self.send(
            export(
                gauge_metric("queue.depth", [number_point(0, 4.5)]),
                sum_metric("gen_ai.requests", [number_point(0, 2)], monotonic=True),
            )
        )
        gauge, total = self.points("queue.depth").get(), self.points("gen_ai.requests").get()
        self.assertEqual(
            (gauge.type, gauge.temporality, gauge.monotonic, gauge.value), ("gauge", "", None, 4.5)
        )
        self.assertEqual((total.type, total.monotonic, total.period_value), ("sum", True, 2))

    def test_cumulative_points_count_what_each_adds(self):
        first = sum_metric("tokens", [number_point(0, 10, start=-5)], temporality=CUMULATIVE)
        later = sum_metric(
            "tokens", [number_point(60, 25, start=-5), number_point(120, 40, start=-5)], CUMULATIVE
        )
        restarted = sum_metric("tokens", [number_point(180, 7, start=170)], temporality=CUMULATIVE)
        for request in (first, later, restarted):
            self.send(export(request))
        points = self.points("tokens")
        self.assertEqual([p.value for p in points], [10, 25, 40, 7])
        self.assertEqual([p.period_value for p in points], [10, 15, 15, 7])

    def test_cumulative_histograms_count_what_each_adds(self):
        self.send(
            export(histogram_metric("latency", [histogram_point(0, [1], [1, 1], 2.5, start=-1)], CUMULATIVE))
        )
        self.send(
            export(histogram_metric("latency", [histogram_point(60, [1], [3, 2], 7.5, start=-1)], CUMULATIVE))
        )
        later = self.points("latency").last()
        self.assertEqual(
            (later.period_count, later.period_total, later.period_bucket_counts), (3, 5.0, [2, 1])
        )

    def test_a_point_sent_again_is_a_duplicate(self):
        request = export(
            sum_metric("gen_ai.requests", [number_point(0, 3, model="a"), number_point(0, 3, model="b")])
        )
        self.send(request)
        answer = self.send(request)
        self.assertFalse(answer.HasField("partial_success"))
        self.assertEqual(self.points("gen_ai.requests").count(), 2)

    def test_a_cumulative_point_sent_again_keeps_its_increase(self):
        request = export(sum_metric("tokens", [number_point(60, 25, start=0)], temporality=CUMULATIVE))
        self.send(export(sum_metric("tokens", [number_point(0, 10, start=0)], temporality=CUMULATIVE)))
        self.send(request)
        self.send(request)
        self.assertEqual([p.period_value for p in self.points("tokens")], [10, 15])

    def test_a_point_that_marks_no_recorded_value_is_skipped(self):
        point = number_point(0, 0)
        point.flags = metrics_pb2.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
        answer = self.send(export(gauge_metric("queue.depth", [point])))
        self.assertFalse(answer.HasField("partial_success"))
        self.assertFalse(self.points("queue.depth").exists())


class RejectedPointsTest(OtlpMetricsTestCase):
    def test_bad_points_are_rejected_alone_and_named(self):
        bad_buckets = histogram_point(0, [1, 5], [1, 1], 3.0)
        falling = histogram_point(0, [5, 1], [1, 1, 1], 3.0, route="b")
        miscounted = histogram_point(0, [1], [1, 1], 3.0, route="c")
        miscounted.count = 5
        no_time = number_point(0, 1)
        no_time.time_unix_nano = 0
        no_value = metrics_pb2.NumberDataPoint(time_unix_nano=number_point(0, 1).time_unix_nano)
        nan = number_point(0, float("nan"), route="nan")
        good = histogram_point(0, [1], [1, 1], 3.0, route="ok")
        request = export(
            histogram_metric("latency", [bad_buckets, falling, miscounted, good]),
            gauge_metric("queue.depth", [no_time, no_value, nan, number_point(0, 2.0)]),
        )
        answer = self.send(request)
        self.assertEqual(answer.partial_success.rejected_data_points, 6)
        message = answer.partial_success.error_message
        for reason in (
            "'latency').data_points.0: bucket_counts: 2 counts for 2 explicit_bounds",
            "data_points.1: explicit_bounds.1: 1.0 does not increase",
            "data_points.2: count: 5 is not the sum of bucket_counts (2)",
            "'queue.depth').data_points.0: time_unix_nano: missing",
            "data_points.1: value: missing",
        ):
            self.assertIn(reason, message)
        self.assertIn("and 1 more", message)
        self.assertEqual(self.points("latency").get().attributes, {"route": "ok"})
        self.assertEqual(self.points("queue.depth").get().value, 2.0)

    def test_a_count_past_a_bigint_is_rejected(self):
        huge = histogram_point(0, [], [2**63], 1.0)
        answer = self.send(export(histogram_metric("latency", [huge])))
        self.assertEqual(answer.partial_success.rejected_data_points, 1)
        self.assertIn("count: 9223372036854775808 is larger than", answer.partial_success.error_message)

    def test_a_summary_is_rejected_point_by_point(self):
        summary = metrics_pb2.Metric(
            name="rpc.duration",
            summary=metrics_pb2.Summary(data_points=[metrics_pb2.SummaryDataPoint(count=1)] * 2),
        )
        answer = self.send(export(summary, gauge_metric("queue.depth", [number_point(0, 1.0)])))
        self.assertEqual(answer.partial_success.rejected_data_points, 2)
        self.assertIn("summary: not supported", answer.partial_success.error_message)
        self.assertEqual(self.points("queue.depth").count(), 1)

    def test_a_metric_without_a_name_or_data_is_named_with_the_points_it_held(self):
        nameless = gauge_metric("", [number_point(0, 1.0), number_point(1, 1.0)])
        empty = metrics_pb2.Metric(name="empty")
        answer = self.send(export(nameless, empty))
        self.assertEqual(answer.partial_success.rejected_data_points, 2)
        self.assertIn("metrics.0 (''): name: missing", answer.partial_success.error_message)
        self.assertIn("metrics.1 ('empty'): data: none of gauge", answer.partial_success.error_message)

    def test_a_sum_without_temporality_is_rejected(self):
        answer = self.send(export(sum_metric("tokens", [number_point(0, 1)], temporality=0)))
        self.assertEqual(answer.partial_success.rejected_data_points, 1)
        self.assertIn("aggregation_temporality: unspecified", answer.partial_success.error_message)

    def test_an_exponential_histogram_keeps_count_and_sum(self):
        point = metrics_pb2.ExponentialHistogramDataPoint(
            time_unix_nano=number_point(0, 1).time_unix_nano, count=4, sum=10.0, scale=2
        )
        data = metrics_pb2.ExponentialHistogram(data_points=[point], aggregation_temporality=1)
        self.send(export(metrics_pb2.Metric(name="sizes", exponential_histogram=data)))
        stored = self.points("sizes").get()
        self.assertEqual(
            (stored.count, stored.total, stored.bounds, stored.bucket_counts), (4, 10.0, None, None)
        )

    def test_nul_in_an_attribute_is_stored_replaced(self):
        self.send(export(gauge_metric("queue.depth", [number_point(0, 1.0, route="a\x00b")])))
        self.assertEqual(self.points("queue.depth").get().attributes, {"route": "a\ufffdb"})

    def test_json_points_with_a_bad_field_name_the_field(self):
        body = json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "x", "gauge": 3}]}]}]})
        response = self.post(body.encode(), content_type=JSON)
        self.assertEqual(response.status_code, 400)
        self.assertIn("gauge", response.json()["message"])


class RetentionTest(OtlpMetricsTestCase):
    def test_purge_removes_points_older_than_the_retention(self):
        self.send(export(gauge_metric("queue.depth", [number_point(0, 1.0), number_point(86400, 2.0)])))
        self.workspace.retention_days = 30
        # Rows go by whole UTC days: the cutoff is the midnight before now − 30 days.
        removed = Purge.for_workspace(self.workspace, now=BASE + timedelta(days=31, hours=12)).run()
        self.assertEqual(removed["metric points"], 1)
        self.assertEqual([p.value for p in self.points("queue.depth")], [2.0])
