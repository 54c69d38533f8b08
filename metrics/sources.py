"""What a card can count: the six sources, their columns, and their JSON properties.

A property is either a column (`status`, `duration_ms`, `$name` for business events) or a key of the
row's JSON: any key of a business event's properties (`amount`) or of a custom event's body,
`metadata.<key>` for runs, tasks
and model calls, and for OTLP metric points a point attribute (`gen_ai.request.model`) or
`resource.<key>` for a resource attribute (`resource.service.name`).
"""

from dataclasses import dataclass

from django.db.models import F, FloatField, OuterRef, Subquery, TextField, Value
from django.db.models.functions import Cast

from traces.ingest.custom import PREFIX as CUSTOM_PREFIX
from traces.models import Agent, Event, ModelCall, Run, Score, Task, TraceRollup
from traces.rollups import daily_spec as rollup_spec

from .models import MetricPoint, Source, TrackedEvent, TrackedEventRollup
from .sql import JsonNonNumeric, JsonNumber, JsonText


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    lookup: str
    numeric: bool = False
    unit: str = ""  # how values are shown: "ms", "usd", "tokens" or plain


@dataclass(frozen=True)
class Property:
    """A resolved property of one source, ready to become SQL expressions."""

    key: str
    label: str
    column: Column | None = None
    json_field: str = ""
    json_key: str = ""

    @property
    def unit(self):
        return self.column.unit if self.column else ""

    @property
    def may_be_numeric(self):
        """JSON values may be numbers; a column is numeric or never is."""
        return self.column is None or self.column.numeric

    def text(self):
        if self.column is None:
            return JsonText(self.json_field, self.json_key)
        if self.column.numeric:
            return Cast(F(self.column.lookup), TextField())
        return F(self.column.lookup)

    def number(self):
        if self.column is None:
            return JsonNumber(self.json_field, self.json_key)
        return Cast(F(self.column.lookup), FloatField())

    def non_numeric(self):
        if self.column is None:
            return JsonNonNumeric(self.json_field, self.json_key)
        return Value(0)

    def distinct(self):
        return self.text() if self.column is None else F(self.column.lookup)


@dataclass(frozen=True)
class SourceSpec:
    key: str
    label: str
    model: type
    time_field: str
    json_field: str
    json_prefix: str
    columns: tuple
    # A roll-up's column of how many rows each of its rows stands for; "" for the rows themselves.
    count_field: str = ""

    def queryset(self, workspace):
        return self.model.objects.filter(workspace=workspace)

    def column(self, key):
        return next((column for column in self.columns if column.key == key), None)

    def resolve(self, key):
        """The Property named `key`, or None when this source has no such property."""
        key = (key or "").strip()
        column = self.column(key)
        if column:
            return Property(key=key, label=column.label, column=column)
        json_key = key[len(self.json_prefix) :] if key.startswith(self.json_prefix) else ""
        if not json_key or json_key.startswith("$") or '"' in json_key or len(json_key) > 200:
            return None
        return Property(key=key, label=key, json_field=self.json_field, json_key=json_key)


@dataclass(frozen=True)
class MetricPointSpec(SourceSpec):
    """OTLP metric points: properties are their point attributes, or resource attributes after
    `resource.`. Attribute keys hold dots themselves, so the prefix is the only split."""

    resource_prefix: str = "resource."

    def resolve(self, key):
        key = (key or "").strip()
        json_field, json_key = self.json_field, key
        if key.startswith(self.resource_prefix):
            json_field, json_key = "resource", key[len(self.resource_prefix) :]
        if not json_key or json_key.startswith("$") or '"' in json_key or len(json_key) > 200:
            return None
        return Property(key=key, label=key, json_field=json_field, json_key=json_key)


@dataclass(frozen=True)
class CustomEventSpec(SourceSpec):
    """Events of the workspace's own types (`custom.<name>`, traces.ingest.custom) from the run event
    log: a card names one type as its event name, and reads the keys of the body as properties. The
    log's event_by_time index (workspace, timestamp) serves the time range."""

    def queryset(self, workspace):
        return Event.objects.filter(workspace=workspace, type__startswith=CUSTOM_PREFIX)


SOURCES = {
    Source.EVENTS: SourceSpec(
        key=Source.EVENTS,
        label="Business events",
        model=TrackedEvent,
        time_field="timestamp",
        json_field="properties",
        json_prefix="",
        columns=(
            Column("$name", "Event name", "name"),
            Column("$agent", "Agent", "agent__name"),
            Column("$session", "Conversation id", "session__session_id"),
        ),
    ),
    Source.RUNS: SourceSpec(
        key=Source.RUNS,
        label="Runs",
        model=Run,
        time_field="started_at",
        json_field="metadata",
        json_prefix="metadata.",
        columns=(
            Column("status", "Status", "status"),
            Column("agent", "Agent", "agent__name"),
            Column("workflow", "Workflow", "workflow"),
            Column("user_id", "End user", "user_id"),
            Column("duration_ms", "Duration", "duration_ms", numeric=True, unit="ms"),
            Column("total_tokens", "Total tokens", "total_tokens", numeric=True, unit="tokens"),
            Column("prompt_tokens", "Prompt tokens", "prompt_tokens", numeric=True, unit="tokens"),
            Column(
                "completion_tokens", "Completion tokens", "completion_tokens", numeric=True, unit="tokens"
            ),
            Column("model_calls", "Model calls", "model_calls", numeric=True),
            Column("cost", "Cost", "cost", numeric=True, unit="usd"),
        ),
    ),
    Source.TASKS: SourceSpec(
        key=Source.TASKS,
        label="Tasks",
        model=Task,
        time_field="started_at",
        json_field="metadata",
        json_prefix="metadata.",
        columns=(
            Column("status", "Status", "status"),
            Column("type", "Type", "type"),
            Column("name", "Name", "name"),
            Column("agent", "Agent", "run__agent__name"),
            Column("workflow", "Workflow", "run__workflow"),
            Column("duration_ms", "Duration", "duration_ms", numeric=True, unit="ms"),
            Column("total_tokens", "Total tokens", "total_tokens", numeric=True, unit="tokens"),
            Column("cost", "Cost", "cost", numeric=True, unit="usd"),
            Column("attempt", "Attempt", "attempt", numeric=True),
        ),
    ),
    Source.MODEL_CALLS: SourceSpec(
        key=Source.MODEL_CALLS,
        label="Model calls",
        model=ModelCall,
        time_field="created_at",
        json_field="metadata",
        json_prefix="metadata.",
        columns=(
            Column("model", "Model", "model"),
            Column("provider", "Provider", "provider"),
            Column("status", "Status", "status"),
            Column("finish_reason", "Finish reason", "finish_reason"),
            Column("agent", "Agent", "run__agent__name"),
            Column("total_tokens", "Total tokens", "total_tokens", numeric=True, unit="tokens"),
            Column("prompt_tokens", "Prompt tokens", "prompt_tokens", numeric=True, unit="tokens"),
            Column(
                "completion_tokens", "Completion tokens", "completion_tokens", numeric=True, unit="tokens"
            ),
            Column("cached_tokens", "Cached tokens", "cached_tokens", numeric=True, unit="tokens"),
            Column("latency_ms", "Latency", "latency_ms", numeric=True, unit="ms"),
            Column("ttft_ms", "Time to first token", "ttft_ms", numeric=True, unit="ms"),
            Column("cost", "Cost", "cost", numeric=True, unit="usd"),
        ),
    ),
    # Scores of runs, tasks, conversations and replies: average `helpfulness` per day by agent (filter
    # name = helpfulness, average of value), the rate of `hallucination = true` (condition label = true).
    Source.SCORES: SourceSpec(
        key=Source.SCORES,
        label="Scores",
        model=Score,
        time_field="created_at",
        json_field="metadata",
        json_prefix="metadata.",
        columns=(
            Column("name", "Score name", "name"),
            Column("value", "Value", "value", numeric=True),
            Column("label", "Label (categorical, true/false)", "string_value"),
            Column("data_type", "Type", "data_type"),
            Column("source", "Source", "source"),
            Column("author", "Given by", "author"),
            Column("agent", "Agent", "run__agent__name"),
            Column("workflow", "Workflow", "run__workflow"),
        ),
    ),
    Source.OTLP_METRIC: MetricPointSpec(
        key=Source.OTLP_METRIC,
        label="OTLP metric points",
        model=MetricPoint,
        time_field="observed_at",
        json_field="attributes",
        json_prefix="",
        columns=(),
    ),
    Source.CUSTOM_EVENTS: CustomEventSpec(
        key=Source.CUSTOM_EVENTS,
        label="Custom events",
        model=Event,
        time_field="timestamp",
        json_field="payload",
        json_prefix="",
        columns=(
            Column("$type", "Event type", "type"),
            Column("$run", "Run id", "run__run_id"),
            Column("$step", "Step id", "step_id"),
        ),
    ),
}
# The column that holds a card's event name, for the sources whose cards name one.
NAMED_BY = {Source.EVENTS: "name", Source.CUSTOM_EVENTS: "type"}

# Business events as their daily roll-up: what count and rate cards read for whole days (metrics.engine).
# Only the event name and the dimensions are there; `events` is how many events a row stands for.
DAILY_EVENTS = SourceSpec(
    key=Source.EVENTS,
    label="Business events per day",
    model=TrackedEventRollup,
    time_field="day",
    json_field="dimensions",
    json_prefix="",
    columns=(Column("$name", "Event name", "name"),),
    count_field="events",
)


@dataclass(frozen=True)
class TraceRollupSpec(SourceSpec):
    """Runs, tasks or model calls as their daily roll-up (traces.models.TraceRollup): what count, rate
    and sum cards read for whole days (metrics.engine). A dimension is its roll-up column (the agent's
    name looked up from its key, as the raw rows join it); a numeric property is its daily sum."""

    rollup_source: str = ""

    def queryset(self, workspace):
        agent = Agent.objects.filter(pk=OuterRef("agent_pk")).values("name")[:1]
        rows = TraceRollup.objects.filter(workspace=workspace, source=self.rollup_source).exclude(n=0)
        return rows.alias(agent_name=Subquery(agent))


def _daily_traces(source):
    """The roll-up spec of a trace source: its columns that traces.rollups.daily_spec says are kept."""
    spec = SOURCES[source]
    dimensions, measures = rollup_spec.DIMENSIONS[source], rollup_spec.MEASURES[source]
    columns = []
    for column in spec.columns:
        if column.key in dimensions:
            lookup = "agent_name" if column.key == "agent" else dimensions[column.key]
            columns.append(Column(column.key, column.label, lookup))
        elif column.key in measures:
            columns.append(Column(column.key, column.label, measures[column.key].sum, True, column.unit))
    return TraceRollupSpec(
        key=source,
        label=f"{spec.label} per day",
        model=TraceRollup,
        time_field="day",
        json_field="",
        json_prefix=spec.json_prefix,
        columns=tuple(columns),
        count_field="n",
        rollup_source=source,
    )


DAILY_TRACES = {source: _daily_traces(source) for source in (Source.RUNS, Source.TASKS, Source.MODEL_CALLS)}
