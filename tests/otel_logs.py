"""Log records made with the real OpenTelemetry SDK, and the two OTLP/HTTP encodings of them, for tests."""

import json

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from tests.otel import base64_ids_to_hex


def recording_logger(service="support-bot", scope="tests.otel"):
    """A logger whose records are kept in memory: (logger, exporter). Records emitted inside a span of
    tests.otel.recording_tracer carry its trace and span ids. No global state."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider.get_logger(scope), exporter


def logs_protobuf_body(records):
    return encode_logs(records).SerializeToString()


def logs_json_body(records):
    """OTLP/JSON: the protobuf JSON mapping, with trace and span ids as hex instead of base64."""
    return json.dumps(base64_ids_to_hex(json_format.MessageToDict(encode_logs(records)))).encode()
