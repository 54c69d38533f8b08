"""What the GenAI log records of a model call say: the messages in and out, and the finish reason.

OpenTelemetry GenAI instrumentations may send a call's messages as log records instead of span
attributes, tied to the call's span by trace and span id: one record per message
(`gen_ai.system.message`, `gen_ai.user.message`, `gen_ai.assistant.message`, `gen_ai.tool.message`,
and a `gen_ai.choice` per choice of the answer, the events of semantic conventions 1.30), or one
`gen_ai.client.inference.operation.details` record carrying the span's own `gen_ai.input.messages` and
`gen_ai.output.messages` attributes. `opentelemetry-semantic-conventions` names those attributes but
not these event names, so they are written out here. span_records joins what they say to the span.
"""

from dataclasses import dataclass, field

from .conventions import FINISH_REASON_CHARS, normalize_message, read_span, text

# A message event's name, by the role of its message.
MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"
OPERATION_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
GENAI_RECORDS = (*MESSAGE_EVENTS, CHOICE_EVENT, OPERATION_DETAILS_EVENT)


@dataclass
class RecordFacts:
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    finish_reason: str | None = None
    attributes: dict = field(default_factory=dict)  # the record's attributes but its messages


def read_record(name, body, attrs):
    """RecordFacts of a GenAI record (its event name, decoded body and attributes); None for any other."""
    if name == OPERATION_DETAILS_EVENT:
        # The span's own attributes, moved to a record: read as a span's.
        facts = read_span(attrs)
        return RecordFacts(facts.input_messages, facts.output_messages, facts.finish_reason, facts.attributes)
    if name in MESSAGE_EVENTS:
        return RecordFacts(inputs=listed(event_message(body, MESSAGE_EVENTS[name])), attributes=attrs)
    if name == CHOICE_EVENT:
        body = body if isinstance(body, dict) else {}
        reason = text(body.get("finish_reason"))
        return RecordFacts(
            outputs=listed(event_message(body.get("message"), "assistant")),
            finish_reason=reason[:FINISH_REASON_CHARS] if reason else None,
            attributes=attrs,
        )
    return None


def event_message(body, role):
    """The message of an event's body: {content, tool_calls, role}; a tool message's `id` is the id of
    the tool call it answers. A body that is plain text is the content."""
    if isinstance(body, str):
        body = {"content": body}
    if not isinstance(body, dict):
        return None
    message = {"role": body.get("role") or role, "content": body.get("content")}
    if isinstance(body.get("tool_calls"), list):
        message["tool_calls"] = body["tool_calls"]
    if role == "tool" and body.get("id"):
        message["tool_call_id"] = body["id"]
    return normalize_message(message)


def listed(message):
    return [message] if message else []
