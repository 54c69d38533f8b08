"""opentelemetry-instrumentation-openai-v2 on its default (v1.30) conventions with content on:
one log record per message (gen_ai.system.message, gen_ai.user.message, gen_ai.choice, ...)."""

import os

os.environ.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")

from tests.conformance.clients import otel_openai_v2  # noqa: E402

otel_openai_v2.main(logs=True)
