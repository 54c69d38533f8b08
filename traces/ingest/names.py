"""Span attribute and event names of the conventions that publish no constants package.

OpenTelemetry (`opentelemetry.semconv`) and OpenInference (`openinference.semconv.trace`) maintain
theirs as constants, which conventions.py and otlp.py import. The Langfuse SDK keeps its names inside
the SDK (`LangfuseOtelSpanAttributes`, whose constant names these follow), and OpenLLMetry's constants
package (`opentelemetry-semantic-conventions-ai`) requires the whole OpenTelemetry SDK: more than a server
should install for a few names. Theirs are written out here, in one place.
"""


class Langfuse:
    TRACE_NAME = "langfuse.trace.name"
    TRACE_TAGS = "langfuse.trace.tags"
    TRACE_METADATA = "langfuse.trace.metadata"
    TRACE_INPUT = "langfuse.trace.input"
    TRACE_OUTPUT = "langfuse.trace.output"
    # Older SDKs named the conversation and the user with these; current ones use session.id and user.id.
    TRACE_SESSION_ID = "langfuse.session.id"
    TRACE_USER_ID = "langfuse.user.id"
    OBSERVATION_TYPE = "langfuse.observation.type"
    OBSERVATION_METADATA = "langfuse.observation.metadata"
    OBSERVATION_LEVEL = "langfuse.observation.level"
    OBSERVATION_STATUS_MESSAGE = "langfuse.observation.status_message"
    OBSERVATION_INPUT = "langfuse.observation.input"
    OBSERVATION_OUTPUT = "langfuse.observation.output"
    OBSERVATION_COMPLETION_START_TIME = "langfuse.observation.completion_start_time"
    OBSERVATION_MODEL = "langfuse.observation.model.name"
    OBSERVATION_MODEL_PARAMETERS = "langfuse.observation.model.parameters"
    OBSERVATION_USAGE_DETAILS = "langfuse.observation.usage_details"
    OBSERVATION_COST_DETAILS = "langfuse.observation.cost_details"
    # The Langfuse OpenAI integration writes a call's finish reason into the generation's metadata.
    OBSERVATION_FINISH_REASON = OBSERVATION_METADATA + ".finish_reason"


class OpenLLMetry:
    SPAN_KIND = "traceloop.span.kind"
    # A decorated function's arguments and return value (@workflow, @task, @agent, @tool).
    ENTITY_INPUT = "traceloop.entity.input"
    ENTITY_OUTPUT = "traceloop.entity.output"
    LLM_REQUEST_TYPE = "llm.request.type"
    CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read_input_tokens"
    # The older name, and the one its Anthropic instrumentation writes beside the GenAI one.
    CACHE_CREATION_INPUT_TOKENS = (
        "gen_ai.usage.cache_creation_input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
    )
    REASONING_TOKENS = "gen_ai.usage.reasoning_tokens"
    # A span event per chunk of a streamed reply (the current name, then the older one).
    COMPLETION_CHUNK_EVENTS = ("gen_ai.content.completion.chunk", "llm.content.completion.chunk")
    # `Traceloop.set_association_properties({...})`: one attribute per key, on every span of the trace.
    ASSOCIATION_PROPERTIES = "traceloop.association.properties"
    ASSOCIATED_SESSION_ID = ASSOCIATION_PROPERTIES + ".session_id"
    ASSOCIATED_USER_ID = ASSOCIATION_PROPERTIES + ".user_id"


# The span event OpenInference records when a streamed reply's first token arrives (a literal in its
# instrumentations, not a constant of openinference-semantic-conventions).
OPENINFERENCE_FIRST_TOKEN_EVENT = "First Token Stream Event"  # noqa: S105 - an event name
# OpenTelemetry's exception event (the SDK's Span.record_exception); semconv names its attributes only.
EXCEPTION_EVENT = "exception"
# A model call's cost: no convention names one; OpenInference has llm.cost.*, this is the GenAI-style
# name some SDKs send.
GENAI_USAGE_COST = "gen_ai.usage.cost"
