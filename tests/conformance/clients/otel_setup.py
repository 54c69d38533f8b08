"""OpenTelemetry SDK set-up shared by the Python OTel clients: traces and logs over OTLP/HTTP protobuf."""

from opentelemetry import _logs, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def install(service, logs=False):
    """Global tracer (and logger) providers exporting to OTEL_EXPORTER_OTLP_ENDPOINT; returns a shutdown()."""
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    providers = [tracer_provider]
    if logs:
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        _logs.set_logger_provider(logger_provider)
        try:  # the legacy GenAI events go through the (deprecated) Events API when it is there
            from opentelemetry._events import set_event_logger_provider
            from opentelemetry.sdk._events import EventLoggerProvider

            set_event_logger_provider(EventLoggerProvider(logger_provider))
        except ImportError:
            pass
        providers.append(logger_provider)

    def shutdown():
        for provider in providers:
            provider.force_flush()
            provider.shutdown()

    return shutdown
