"""The event names, metric names and property names found in a workspace's data, offered by the card form."""

from django.db import connections

from traces.ingest.custom import PREFIX as CUSTOM_PREFIX
from traces.models import EventType

from .models import MetricPoint, Source, TrackedEvent
from .sources import NAMED_BY, SOURCES

# JSON keys are read from the latest rows only: enough to know the shape, never a table scan.
SAMPLE_ROWS = 1000
MAX_NAMES = 200

JSON_KEYS = {
    "postgresql": (
        # A scalar or array (written by an engine directly) would make jsonb_object_keys fail.
        "SELECT DISTINCT k FROM ({rows}) AS sample, jsonb_object_keys(CASE WHEN "
        "jsonb_typeof(sample.{field}) = 'object' THEN sample.{field} ELSE '{{}}'::jsonb END) AS k "
        "ORDER BY k LIMIT {limit}"
    ),
    "sqlite": (
        "SELECT DISTINCT each.key FROM ({rows}) AS sample, json_each(sample.{field}) AS each "
        "WHERE json_type(sample.{field}) = 'object' AND each.key IS NOT NULL ORDER BY each.key LIMIT {limit}"
    ),
}


def event_names(workspace):
    """Distinct business event names. Hits the database (an index-only scan of tracked_by_name)."""
    return list(
        TrackedEvent.objects.filter(workspace=workspace)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()[:MAX_NAMES]
    )


def custom_event_types(workspace):
    """The workspace's defined custom event types. Hits the database (event_type_unique_name)."""
    names = EventType.objects.filter(workspace=workspace).order_by("name").values_list("name", flat=True)
    return [f"{CUSTOM_PREFIX}{name}" for name in names[:MAX_NAMES]]


def metric_names(workspace):
    """Distinct OTLP metric names. Hits the database (an index-only scan of metric_points_by_name)."""
    return list(
        MetricPoint.objects.filter(workspace=workspace)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()[:MAX_NAMES]
    )


def json_keys(workspace, source, name="", field=""):
    """Keys of the JSON properties (events), attributes (OTLP metric points; `field` "resource" for their
    resource's) or metadata (others) of the latest rows, of one event or metric `name` if given. Hits
    the database."""
    spec = SOURCES[source]
    field = field or spec.json_field
    rows = spec.queryset(workspace)
    if source in NAMED_BY and name:
        rows = rows.filter(**{NAMED_BY[source]: name})
    elif source == Source.OTLP_METRIC and name:
        rows = rows.filter(name=name)
    rows = rows.order_by(f"-{spec.time_field}").values(field)[:SAMPLE_ROWS]
    connection = connections[rows.db]
    template = JSON_KEYS.get(connection.vendor)
    if template is None:
        return []
    inner, params = rows.query.sql_with_params()
    sql = template.format(rows=inner, field=connection.ops.quote_name(field), limit=MAX_NAMES)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [key for (key,) in cursor.fetchall() if '"' not in key and not key.startswith("$")]


def property_choices(workspace, source, name=""):
    """(key, label) of every property a card over this source can use: columns, then JSON keys."""
    spec = SOURCES[source]
    columns = [(column.key, column.label) for column in spec.columns]
    found = [(f"{spec.json_prefix}{key}", "property") for key in json_keys(workspace, source, name)]
    if source == Source.OTLP_METRIC:
        found = [(key, "attribute") for key, _ in found]
        resource = json_keys(workspace, source, name, field="resource")
        found += [(f"{spec.resource_prefix}{key}", "resource attribute") for key in resource]
    return columns + found
