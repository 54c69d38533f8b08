"""ExportMetricsServiceRequests built point by point, timed from tests.events.BASE, for tests."""

from datetime import timedelta

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from tests.events import BASE

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
EPOCH_NANOS = 10**9


def nanos(at):
    """`at` seconds after BASE, in Unix nanoseconds."""
    moment = BASE + timedelta(seconds=at)
    return int(moment.timestamp()) * EPOCH_NANOS + moment.microsecond * 1000


def key_values(attrs):
    return [KeyValue(key=key, value=AnyValue(string_value=str(value))) for key, value in attrs.items()]


def number_point(at, value, start=None, **attrs):
    point = metrics_pb2.NumberDataPoint(time_unix_nano=nanos(at), attributes=key_values(attrs))
    if start is not None:
        point.start_time_unix_nano = nanos(start)
    if isinstance(value, int):
        point.as_int = value
    else:
        point.as_double = value
    return point


def histogram_point(at, bounds, counts, total, start=None, **attrs):
    point = metrics_pb2.HistogramDataPoint(
        time_unix_nano=nanos(at),
        attributes=key_values(attrs),
        explicit_bounds=bounds,
        bucket_counts=counts,
        count=sum(counts),
        sum=total,
    )
    if start is not None:
        point.start_time_unix_nano = nanos(start)
    return point


def sum_metric(name, points, temporality=DELTA, monotonic=True, unit=""):
    data = metrics_pb2.Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=monotonic)
    return metrics_pb2.Metric(name=name, unit=unit, sum=data)


def gauge_metric(name, points, unit=""):
    return metrics_pb2.Metric(name=name, unit=unit, gauge=metrics_pb2.Gauge(data_points=points))


def histogram_metric(name, points, temporality=DELTA, unit=""):
    data = metrics_pb2.Histogram(data_points=points, aggregation_temporality=temporality)
    return metrics_pb2.Metric(name=name, unit=unit, histogram=data)


def export(*metrics, service="support-bot"):
    return ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(
                resource={"attributes": key_values({"service.name": service})},
                scope_metrics=[metrics_pb2.ScopeMetrics(metrics=metrics)],
            )
        ]
    )
