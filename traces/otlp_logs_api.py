"""POST /v1/logs: OTLP logs, through the same request and answer machinery as /v1/traces."""

from django.contrib.auth.decorators import login_not_required
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from .ingest.otlp_logs import ingest_logs
from .otlp_api import receive


@csrf_exempt
@login_not_required
@require_POST
def logs(request):
    return receive(request, ExportLogsServiceRequest, export_logs)


def export_logs(workspace, export):
    outcome = ingest_logs(workspace, export)
    answer = ExportLogsServiceResponse()
    if outcome.rejected:
        answer.partial_success.rejected_log_records = len(outcome.rejected)
        answer.partial_success.error_message = outcome.error_message
    return answer
