"""The OpenTelemetry SDK's MeterProvider and OTLP/HTTP metric exporter against the live test server, and
a chunked body; then the points are read back and charted."""

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from metrics.engine import evaluate
from metrics.models import DashboardCard, MetricPoint
from tests.factories import make_api_key, make_workspace
from tests.metrics.otlp import export, gauge_metric, number_point
from tests.traces import test_ingest_chunked as chunked

pytestmark = pytest.mark.django_db(transaction=True)
served = chunked.served  # gunicorn over the test database

DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
MODEL = "gen_ai.request.model"


@pytest.fixture
def keyed_workspace():
    workspace = make_workspace()
    _, key = make_api_key(workspace)
    return workspace, key


def meter_provider(url, key, **exporter_options):
    exporter = OTLPMetricExporter(
        endpoint=f"{url}/v1/metrics", headers={"Authorization": f"Bearer {key}"}, **exporter_options
    )
    # No timer export during the test: force_flush collects and sends.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    return MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": "support-bot"}))


def record_turns(provider, turns):
    meter = provider.get_meter("tests.genai")
    duration = meter.create_histogram(
        DURATION, unit="s", explicit_bucket_boundaries_advisory=[0.25, 0.5, 1, 2, 4]
    )
    tokens = meter.create_histogram(TOKENS, unit="{token}")
    for model, seconds, used in turns:
        duration.record(seconds, {MODEL: model, "gen_ai.operation.name": "chat"})
        tokens.record(used, {MODEL: model, "gen_ai.token.type": "input"})


def card(**fields):
    defaults = {"title": "t", "kind": "number", "source": "otlp_metric", "time_range": "1h"}
    return DashboardCard(**{**defaults, **fields})


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_sdk_exporter_sends_genai_histograms(live_server, keyed_workspace, compression):
    workspace, key = keyed_workspace
    provider = meter_provider(live_server.url, key, compression=compression)
    record_turns(provider, [("gpt-4o", 0.3, 120), ("gpt-4o", 0.9, 300), ("mini", 1.5, 80)])
    assert provider.force_flush()
    # Cumulative (the SDK's default): the second export counts only what came after the first.
    record_turns(provider, [("gpt-4o", 3.0, 100)])
    assert provider.force_flush()
    provider.shutdown()

    points = MetricPoint.objects.filter(workspace=workspace, name=DURATION).order_by("observed_at")
    # shutdown() exports once more: a third point that adds nothing.
    first, second, last = [point for point in points if point.attributes[MODEL] == "gpt-4o"]
    assert (last.count, last.period_count) == (3, 0)
    assert (first.type, first.temporality, first.unit) == ("histogram", "cumulative", "s")
    assert first.bounds == [0.25, 0.5, 1, 2, 4]
    assert (first.count, second.count, second.period_count) == (2, 3, 1)
    assert second.period_bucket_counts == [0, 0, 0, 0, 1, 0]
    assert first.resource["service.name"] == "support-bot"

    total = evaluate(card(metric_name=TOKENS, aggregation="sum"), workspace)
    assert total.value == 600
    by_model = evaluate(card(metric_name=DURATION, kind="pie", aggregation="p50", breakdown=MODEL), workspace)
    medians = {series.label: series.values[0] for series in by_model.series}
    # gpt-4o: 0.3 s in (0.25, 0.5], 0.9 s in (0.5, 1], 3 s in (2, 4]; rank 1.5 is halfway through (0.5, 1].
    assert medians["gpt-4o"] == pytest.approx(750.0)
    assert medians["mini"] == pytest.approx(1500.0)  # one observation: min = max = 1.5 s


def test_delta_temporality_is_stored_as_sent(live_server, keyed_workspace):
    workspace, key = keyed_workspace
    provider = meter_provider(
        live_server.url, key, preferred_temporality={Histogram: AggregationTemporality.DELTA}
    )
    record_turns(provider, [("gpt-4o", 0.3, 120)])
    assert provider.force_flush()
    record_turns(provider, [("gpt-4o", 0.4, 130)])
    assert provider.force_flush()
    provider.shutdown()
    points = MetricPoint.objects.filter(workspace=workspace, name=TOKENS).order_by("observed_at")
    assert [(p.temporality, p.count, p.period_count) for p in points] == [("delta", 1, 1), ("delta", 1, 1)]


def test_a_chunked_body_is_read_whole(served):
    """Through gunicorn (the test client cannot send chunked bodies): the answer names the last point,
    so every chunk was read."""
    port, key = served
    points = [number_point(i, float(i), queue=f"q{i}") for i in range(50)]
    points[-1].ClearField("as_double")
    body = export(gauge_metric("queue.depth", points)).SerializeToString()
    status, answer = chunked.send_chunked(port, "/v1/metrics", body, key, "application/x-protobuf", chunk=7)
    assert status == 200, answer
    partial = ExportMetricsServiceResponse.FromString(answer).partial_success
    assert partial.rejected_data_points == 1
    assert "data_points.49: value: missing" in partial.error_message
