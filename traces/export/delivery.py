"""One OTLP/HTTP request to an exporter's endpoint: protobuf, gzipped, with the exporter's headers.

Any 2xx is delivered. A 2xx whose partial success names rejected spans is delivered too (sending the
same spans again would be rejected again), and what it said is kept as the exporter's last error.
Anything else raises `Failed`, whose message an admin reads in Settings › Exporters.
"""

import gzip
import urllib.error
import urllib.request

from django.conf import settings
from django.utils import timezone
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from traces.models import Exporter

PROTOBUF = "application/x-protobuf"
ANSWER_BYTES = 65_536  # of an answer read for its partial success or its error message
ERROR_CHARS = 200


class Failed(Exception):
    """The request was not accepted; the message says why."""


def post(exporter, request):
    body = gzip.compress(request.SerializeToString())
    headers = {
        **exporter.headers,
        "Content-Type": PROTOBUF,
        "Content-Encoding": "gzip",
        "User-Agent": "Backoffice exporter",
    }
    outgoing = urllib.request.Request(exporter.endpoint, data=body, method="POST", headers=headers)  # noqa: S310 — an http(s) URL an admin set (URLField)
    timeout = settings.EXPORT_TIMEOUT_SECONDS
    try:
        with urllib.request.urlopen(outgoing, timeout=timeout) as answer:  # noqa: S310
            note_partial_success(exporter, answer.read(ANSWER_BYTES), answer.headers.get_content_type())
    except urllib.error.HTTPError as error:
        said = error.read(ANSWER_BYTES).decode(errors="replace").strip()[:ERROR_CHARS]
        raise Failed(f"{error.code} {error.reason}" + (f": {said}" if said else "")) from error
    except OSError as error:  # URLError, and a timeout while connecting or reading
        reason = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            raise Failed(f"no answer within {timeout} seconds") from error
        raise Failed(f"could not connect: {reason}") from error


def note_partial_success(exporter, answer, content_type):
    if content_type != PROTOBUF or not answer:
        return
    response = trace_service_pb2.ExportTraceServiceResponse()
    try:
        response.ParseFromString(answer)
    except DecodeError:
        return
    rejected = response.partial_success.rejected_spans
    if rejected:
        message = f"{rejected} span(s) rejected: {response.partial_success.error_message}"[:500]
        Exporter.objects.filter(pk=exporter.pk).update(last_error=message, last_error_at=timezone.now())
