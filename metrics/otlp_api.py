"""POST /v1/metrics: OTLP metrics, through the same request and answer machinery as /v1/traces."""

from django.contrib.auth.decorators import login_not_required
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from traces.otlp_api import receive

from .otlp_ingest import ingest_metrics


@csrf_exempt
@login_not_required
@require_POST
def metrics(request):
    return receive(request, ExportMetricsServiceRequest, export_metrics)


def export_metrics(workspace, export):
    outcome = ingest_metrics(workspace, export)
    answer = ExportMetricsServiceResponse()
    if outcome.rejected:
        answer.partial_success.rejected_data_points = outcome.rejected_points
        answer.partial_success.error_message = outcome.error_message
    return answer
