"""The OTLP/HTTP traces endpoint: what OpenTelemetry exporters and the Langfuse SDK post to.

Follows the OTLP/HTTP specification: protobuf or JSON bodies, gzip or deflate, sized or chunked; the
answer is an ExportTraceServiceResponse in the request's encoding (with partial_success when spans were
rejected), and failures carry a google.rpc.Status. `receive` is that machinery for any signal: the
other signals' endpoints call it with their own request message and store function.
"""

import base64
import json

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from backoffice.api_auth import authenticate_key, presented_key
from backoffice.api_errors import RETRY_AFTER_UNAVAILABLE
from backoffice.models import Scope
from backoffice.ratelimit import limit_ingest

from .ingest import collector
from .ingest.checks import too_deep, too_deep_path
from .ingest.otlp import ATTRIBUTE_DEPTH, ingest_spans
from .ingest.request_body import BodyError, read_body

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CONTENT_TYPES = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
# OTLP/JSON writes these ids as hex, where the protobuf JSON mapping expects base64.
HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


# The envelope of an attribute value (request, resource, scope, span, event, attribute) is up to 14
# levels of OTLP/JSON, and each level of a kvlist value 4 more: a value one level too deep is still
# read, and its span rejected by name.
JSON_DEPTH = 14 + 4 * (ATTRIBUTE_DEPTH + 1)
GRPC_CODES = {401: code_pb2.UNAUTHENTICATED, 503: code_pb2.UNAVAILABLE}


class BadRequest(Exception):
    pass


@csrf_exempt
@login_not_required
@require_POST
def traces(request):
    return receive(request, ExportTraceServiceRequest, export_traces)


def export_traces(workspace, export):
    outcome = ingest_spans(workspace, export)
    answer = ExportTraceServiceResponse()
    if outcome.rejected:
        answer.partial_success.rejected_spans = len(outcome.rejected)
        answer.partial_success.error_message = outcome.error_message
    return answer


def receive(request, message_class, store):
    """Answer an OTLP/HTTP export request: `store(workspace, message)` keeps the parsed `message_class`
    and returns the response message, sent back in the request's encoding."""
    content_type = CONTENT_TYPES.get(request.content_type)
    if content_type is None:
        return status(JSON, 415, f"Content-Type must be {PROTOBUF} or {JSON}")
    try:
        return export(request, content_type, message_class, store)
    except (OperationalError, InterfaceError):
        # The database cannot be reached: a retryable status, so the exporter keeps the spans and
        # sends them again (OTLP/HTTP retries 503 and honours Retry-After).
        response = status(content_type, 503, "the database is unavailable; retry later")
        response["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
        return response


def export(request, content_type, message_class, store):
    if authenticate_key(request, presented_key(request)) is None:
        response = status(content_type, 401, "a valid API key is required: Authorization: Bearer <key>")
        response["WWW-Authenticate"] = 'Bearer realm="backoffice"'
        return response
    if not request.api_key.allows(Scope.INGEST):
        return status(content_type, 403, "this API key lacks the 'ingest' scope")
    limited = limit_ingest(request)
    if limited is not None:
        # OTLP exporters read the status in the body's format and back off for Retry-After.
        response = status(content_type, 429, json.loads(limited.content)["detail"])
        response["Retry-After"] = limited["Retry-After"]
        return response
    limit = settings.INGEST_MAX_BYTES
    try:
        body = read_body(request, limit)
    except BodyError as exc:
        return status(content_type, exc.status, f"{exc.field}: {exc.detail}")
    if body is None:
        return status(content_type, 413, f"body larger than {limit} bytes")
    with collector.paused():
        try:
            message = parse(body, content_type, message_class)
        except BadRequest as exc:
            return status(content_type, 400, str(exc))
        return encoded(content_type, 200, store(request.workspace, message))


def parse(body, content_type, message_class=ExportTraceServiceRequest):
    export = message_class()
    name = message_class.DESCRIPTOR.name
    if content_type == PROTOBUF:
        try:
            export.ParseFromString(body)
        except DecodeError as exc:
            raise BadRequest(f"body is not an {name} in protobuf: {exc}") from None
        return export
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest(f"body: nested deeper than {JSON_DEPTH} levels") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"body: must be an {name} object in OTLP/JSON")
    # Measured without recursing, before the conversions below and the protobuf parser recurse.
    deep = too_deep(payload, JSON_DEPTH) and too_deep_path(payload, JSON_DEPTH)
    if deep:
        detail = f"nested deeper than {JSON_DEPTH} levels (attribute values nest at most {ATTRIBUTE_DEPTH})"
        raise BadRequest(f"{deep}: {detail}")
    try:
        json_format.ParseDict(hex_ids_to_base64(payload), export, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise BadRequest(f"body is not an {name} in OTLP/JSON: {exc}") from None
    return export


def hex_ids_to_base64(value):
    if isinstance(value, list):
        return [hex_ids_to_base64(item) for item in value]
    if not isinstance(value, dict):
        return value
    converted = {}
    for key, item in value.items():
        if key in HEX_ID_FIELDS and isinstance(item, str):
            try:
                item = base64.b64encode(bytes.fromhex(item)).decode()
            except ValueError:
                raise BadRequest(f"{key}: {item!r} is not hex") from None
        converted[key] = hex_ids_to_base64(item)
    return converted


def encoded(content_type, code, message):
    if content_type == PROTOBUF:
        return HttpResponse(message.SerializeToString(), status=code, content_type=PROTOBUF)
    return HttpResponse(json_format.MessageToJson(message, indent=None), status=code, content_type=JSON)


def status(content_type, code, message):
    grpc_code = GRPC_CODES.get(code, code_pb2.INVALID_ARGUMENT)
    return encoded(content_type, code, status_pb2.Status(code=grpc_code, message=message))
