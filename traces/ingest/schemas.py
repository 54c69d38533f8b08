"""The event vocabulary of DESIGN §4, as pydantic models: one per event type.

Unknown body fields are allowed and end up in metadata; a wrong type or a missing required field
rejects that one event, naming the field.
"""

import math
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from .checks import COST_MAX, TOKENS_MAX, time_problem
from .usage import read_usage_object

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Count = Annotated[int, Field(ge=0, le=TOKENS_MAX)]
Millis = Annotated[float, Field(ge=0, le=10**12)]
Money = Annotated[Decimal, Field(ge=0, le=COST_MAX, max_digits=20, decimal_places=10)]
Json = Any

TASK_TYPES = Literal[
    "function",
    "agent",
    "llm",
    "tool",
    "connector",
    "condition",
    "switch",
    "foreach",
    "parallel",
    "gate",
    "retriever",
    "custom",
]


class Body(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)

    def extras(self):
        return dict(self.model_extra or {})


class AgentUpsert(Body):
    agent_id: Id
    name: Name
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    mode: Literal["full", "standard", "minimal"] | None = None
    max_input_chars: Annotated[int, Field(ge=1, le=10**8)] | None = None
    max_output_chars: Annotated[int, Field(ge=1, le=10**8)] | None = None
    # Capture flags (standard mode): keep model calls' requests and responses, tools' results whole.
    capture_llm_payloads: StrictBool | None = None
    capture_tool_results: StrictBool | None = None


class GraphNode(BaseModel):
    id: Id
    name: ShortText | None = None
    type: ShortText | None = None


class GraphEdge(BaseModel):
    source: Id
    target: Id
    label: ShortText | None = None


class Graph(BaseModel):
    nodes: list[GraphNode] = Field(max_length=10_000)
    edges: list[GraphEdge] = Field(default_factory=list, max_length=50_000)


class RunStart(Body):
    run_id: Id
    agent_id: Id
    session_id: Id | None = None
    user_id: ShortText | None = None
    workflow: ShortText | None = None
    invocation_id: Annotated[str, StringConstraints(min_length=8, max_length=8)] | None = None
    input: Json = None
    metadata: dict[str, Json] | None = None
    tags: list[ShortText] | None = None
    graph: Graph | None = None


class RunComplete(Body):
    run_id: Id
    output: Json = None


class RunFailed(Body):
    run_id: Id
    error: str | dict[str, Json]


class RunPaused(Body):
    run_id: Id
    reason: Annotated[str, StringConstraints(max_length=5000)] | None = None


class StateCheckpoint(Body):
    run_id: Id
    state: Json
    trace: list[ShortText] | None = None


class StepStart(Body):
    run_id: Id
    step_id: Id
    name: Name
    type: TASK_TYPES | None = None
    parent_id: Id | None = None
    input: Json = None
    attempt: Annotated[int, Field(ge=1, le=10_000)] | None = None


class StepOk(Body):
    run_id: Id
    step_id: Id
    output: Json = None


class StepFailed(Body):
    run_id: Id
    step_id: Id
    error: str | dict[str, Json]


class ToolCall(Body):
    run_id: Id
    step_id: Id
    tool: Name
    args: Json = None
    parent_id: Id | None = None


class ToolOk(Body):
    run_id: Id
    step_id: Id
    result: Json = None


class ToolFailed(Body):
    run_id: Id
    step_id: Id
    error: str | dict[str, Json]


class LlmCall(Body):
    run_id: Id
    step_id: Id | None = None
    call_id: Id | None = None
    model: Name
    provider: Annotated[str, StringConstraints(max_length=100)] | None = None
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    cached_tokens: Count | None = None
    cache_creation_tokens: Count | None = None
    reasoning_tokens: Count | None = None
    # A provider's usage object as it returned it (OpenAI's nested details, Anthropic's cache counts):
    # the counts above that the body leaves out are read from it (traces.ingest.usage).
    usage: dict[str, Json] | None = None
    latency_ms: Millis | None = None
    ttft_ms: Millis | None = None
    cost: Money | None = None
    input_cost: Money | None = None
    output_cost: Money | None = None
    finish_reason: Annotated[str, StringConstraints(max_length=64)] | None = None
    status: Annotated[str, StringConstraints(max_length=16)] | None = None
    error: str | dict[str, Json] | None = None
    request: Json = None
    response: Json = None

    @field_validator("usage")
    @classmethod
    def counts_in_range(cls, value):
        problem = value and read_usage_object(value).problem
        if problem:
            raise ValueError(problem[1])
        return value


class Gate(Body):
    run_id: Id
    step_id: Id
    name: ShortText | None = None
    approver: ShortText | None = None
    comment: Annotated[str, StringConstraints(max_length=5000)] | None = None


class Message(Body):
    session_id: Id
    role: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    content: str | dict[str, Json]
    run_id: Id | None = None
    step_id: Id | None = None
    agent_id: Id | None = None
    user_id: ShortText | None = None
    metadata: dict[str, Json] | None = None

    @field_validator("content")
    @classmethod
    def object_content_has_a_type(cls, value):
        if isinstance(value, dict) and not isinstance(value.get("type"), str):
            raise ValueError("an object content needs a string 'type'")
        return value


Scalar = str | int | float | bool | None


class Track(Body):
    name: Name
    properties: dict[str, Scalar] | None = None
    session_id: Id | None = None
    run_id: Id | None = None
    agent_id: Id | None = None

    @field_validator("properties")
    @classmethod
    def finite_numbers(cls, value):
        # As in every JSON payload (its JSON form has no NaN): null, which PostgreSQL's jsonb takes.
        if value and any(isinstance(v, float) and not math.isfinite(v) for v in value.values()):
            return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in value.items()}
        return value


class Log(Body):
    """A logged node (a finished custom task) when it has a `step_id`; without one, a line of its run's
    event log under the task `parent_id` names (what an OTLP span event is), and no task of its own."""

    run_id: Id
    step_id: Id | None = None
    name: Name
    parent_id: Id | None = None
    level: Annotated[str, StringConstraints(max_length=16)] | None = None
    input: Json = None
    output: Json = None
    metadata: dict[str, Json] | None = None


BODY_BY_TYPE = {
    "agent.upsert": AgentUpsert,
    "run.start": RunStart,
    "run.complete": RunComplete,
    "run.failed": RunFailed,
    "run.paused": RunPaused,
    "run.resumed": RunPaused,
    "state.checkpoint": StateCheckpoint,
    "step.start": StepStart,
    "step.ok": StepOk,
    "step.failed": StepFailed,
    "tool.call": ToolCall,
    "tool.ok": ToolOk,
    "tool.failed": ToolFailed,
    "llm.call": LlmCall,
    "gate.waiting": Gate,
    "gate.approved": Gate,
    "gate.rejected": Gate,
    "message": Message,
    "track": Track,
    "log": Log,
}

EVENT_TYPES = tuple(BODY_BY_TYPE)


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    timestamp: AwareDatetime
    body: dict[str, Json]

    @field_validator("timestamp")
    @classmethod
    def storable_time(cls, value):
        reason = time_problem(value)
        if reason:
            raise ValueError(reason)
        return value


class Batch(BaseModel):
    """Documents the request body in the OpenAPI schema; events are validated one by one."""

    batch: list[dict[str, Json]] = Field(
        description="At most 1,000 events: {id, type, timestamp, body}. Types: " + ", ".join(EVENT_TYPES)
    )


class ValidEvent:
    """An event that passed validation: the envelope plus its typed body."""

    __slots__ = ("index", "id", "type", "timestamp", "body", "stored")

    def __init__(self, index, envelope, body):
        self.index = index
        self.id: str = envelope.id
        self.type: str = envelope.type
        self.timestamp: datetime = envelope.timestamp
        self.body = body
        self.stored: dict = {}  # the body as stored: after redaction and the payload mode

    @property
    def sort_key(self):
        return (self.timestamp, self.id)
