"""Readable JSON of a recorded request body: OTLP protobuf decoded, ids in hex, gzip undone."""

import base64
import gzip
import json

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

IDS = ("traceId", "spanId", "parentSpanId")


def plain_body(body, content_encoding):
    return gzip.decompress(body) if "gzip" in (content_encoding or "") else body


def decoded(path, content_type, content_encoding, body):
    """The body as a JSON-ready value (protobuf via the OTLP JSON mapping, ids as hex)."""
    raw = plain_body(body, content_encoding)
    if "protobuf" not in content_type:
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")
    message = message_for(path)
    message.ParseFromString(raw)
    return hex_ids(json_format.MessageToDict(message))


def message_for(path):
    if path.endswith("/logs"):
        return ExportLogsServiceRequest()
    if path.endswith("/metrics"):
        return ExportMetricsServiceRequest()
    return ExportTraceServiceRequest()


def hex_ids(value):
    if isinstance(value, list):
        return [hex_ids(item) for item in value]
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex() if key in IDS and isinstance(item, str) else hex_ids(item)
            for key, item in value.items()
        }
    return value


def rewrite_strings(path, content_type, content_encoding, body, change):
    """The body with `change(text)` applied to every string in it, encoded as it came (same content
    type and encoding). Protobuf is decoded and encoded again, since string lengths are in the bytes."""
    raw = plain_body(body, content_encoding)
    if "protobuf" in content_type:
        message = message_for(path)
        message.ParseFromString(raw)
        _rewrite_message(message, change)
        raw = message.SerializeToString()
    else:
        try:
            raw = json.dumps(_rewrite_value(json.loads(raw), change)).encode()
        except ValueError:
            raw = change(raw.decode("utf-8", "replace")).encode()
    return gzip.compress(raw) if "gzip" in (content_encoding or "") else raw


def _rewrite_message(message, change):
    for field, value in message.ListFields():
        repeated = field.is_repeated
        if field.type == field.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                continue  # OTLP has no maps of strings
            for item in value if repeated else [value]:
                _rewrite_message(item, change)
        elif field.type == field.TYPE_STRING:
            if repeated:
                value[:] = [change(item) for item in value]
            else:
                setattr(message, field.name, change(value))


def _rewrite_value(value, change):
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_rewrite_value(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _rewrite_value(item, change) for key, item in value.items()}
    return value
