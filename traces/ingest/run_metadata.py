"""A run's metadata, from whichever spans of its trace carry it.

Instrumentations attach what the agent code said about the whole run to every span, or to the spans
made while it was in scope, not to the root span: OpenInference's `using_metadata` writes a `metadata`
JSON attribute, OpenLLMetry's association properties are one `traceloop.association.properties.<key>`
attribute per key, Langfuse's trace metadata is `langfuse.trace.metadata` (JSON, or one attribute per
key). The root span's Langfuse observation metadata counts too: it is the run's own span.

LangChain and LangGraph put their own bookkeeping in the same `metadata` (`ls_provider`, `lc_versions`,
`langgraph_node`, `checkpoint_ns`…): it describes a span, not the run, and is left out. The LangGraph
keys are still read, from `span_metadata`, to draw the graph (traces.graphs.langgraph).
"""

from openinference.semconv.trace import SpanAttributes as OI

from .conventions import parse_json
from .names import Langfuse, OpenLLMetry

# Keys that LangChain, LangSmith and LangGraph write into every span's metadata.
FRAMEWORK_PREFIXES = ("ls_", "lc_", "langgraph_", "checkpoint_")
# Association properties that name the conversation and the user: links of the run, not metadata.
ASSOCIATED_IDS = {OpenLLMetry.ASSOCIATED_SESSION_ID, OpenLLMetry.ASSOCIATED_USER_ID}
ASSOCIATION_PREFIX = OpenLLMetry.ASSOCIATION_PROPERTIES + "."


def span_metadata(attrs):
    """Everything a span says about its run, framework keys included (the DAG reads LangGraph's)."""
    metadata = {}
    for key in (OI.METADATA, Langfuse.TRACE_METADATA):
        value = parse_json(attrs.get(key))
        if isinstance(value, dict):
            metadata.update(value)
    metadata.update(prefixed(attrs, Langfuse.TRACE_METADATA + "."))
    metadata.update(
        (key[len(ASSOCIATION_PREFIX) :], value)
        for key, value in attrs.items()
        if key.startswith(ASSOCIATION_PREFIX) and key not in ASSOCIATED_IDS
    )
    return metadata


def root_metadata(attrs):
    """The root span's Langfuse observation metadata: what the run's own span was given."""
    value = parse_json(attrs.get(Langfuse.OBSERVATION_METADATA))
    metadata = dict(value) if isinstance(value, dict) else {}
    metadata.update(prefixed(attrs, Langfuse.OBSERVATION_METADATA + "."))
    return metadata


def run_metadata(metadata):
    """The keys that are the agent's, without the frameworks' own."""
    return {key: value for key, value in metadata.items() if not str(key).startswith(FRAMEWORK_PREFIXES)}


def prefixed(attrs, prefix):
    return {key[len(prefix) :]: parse_json(value) for key, value in attrs.items() if key.startswith(prefix)}
