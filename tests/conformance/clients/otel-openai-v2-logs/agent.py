"""opentelemetry-instrumentation-openai-v2, latest GenAI conventions, content only in log records
(gen_ai.client.inference.operation.details with gen_ai.input.messages / gen_ai.output.messages)."""

import os

os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "event_only")

from tests.conformance.clients import otel_openai_v2  # noqa: E402

otel_openai_v2.main(logs=True)
