"""The daily roll-up of business events (TrackedEventRollup), kept equal to tracked_events.

Count and rate cards over millions of events read it instead of the events (metrics.engine). It stays
exact because every write to tracked_events writes it in the same transaction: ingest adds the events
it stores (`add`), a writer that takes events out of the record takes them out of it (`subtract`), and
`rebuild` recomputes it from the stored events (the backfill migration, the benchmark data set). The
retention purge is the exception by design: it deletes old events and keeps their days' roll-ups, which
go later, whole days at a time, by their own retention (backoffice.retention). Out-of-order events simply
add to their own day; a resent event never reaches `add`, as ingest drops duplicates first.

Everything is one SQL statement over a source of (workspace_id, day, name, properties) rows, so ingest
and the backfill share the rule that turns properties into dimensions.
"""

import json
from datetime import UTC

from django.db import connection, transaction
from django.db.models.functions import TruncDate

from backoffice.models import Workspace
from metrics.models import TrackedEvent, TrackedEventRollup
from traces.locks import lock_workspace

TABLE = TrackedEventRollup._meta.db_table
MAX_LENGTH = 64
# Identifiers (`id`, `uuid`, `user_id`, `order_uuid`, `orderId`) take a new value per event: keeping
# them would make the roll-up as big as the events. The first pattern reads the lower-cased key.
IDENTIFIER = "(^|_)(id|uuid)$"
CAMEL_IDENTIFIER = "[a-z0-9]Id$"


def dimensions(vendor, properties):
    """SQL turning a JSON object of properties into its dimensions, a JSON object in canonical form
    (equal dimensions are equal text: jsonb's own form on PostgreSQL, sorted keys on SQLite).

    A property is a dimension when its value is a boolean or a string of at most MAX_LENGTH characters
    and its key does not name an identifier: the values cards group and filter by, few per day. Any
    other value (a number, a longer string, an identifier) is kept as `{}`, "set, value not kept": the
    roll-up stays small, and a card that uses such a key reads the events instead (metrics.engine).
    JSON null is left out, as cards treat it as not set.
    """
    if vendor == "postgresql":
        kept = (
            f"(jsonb_typeof(value) = 'boolean' OR (jsonb_typeof(value) = 'string' "
            f"AND length(value #>> '{{}}') <= {MAX_LENGTH})) "
            f"AND NOT (lower(key) ~ '{IDENTIFIER}' OR key ~ '{CAMEL_IDENTIFIER}')"
        )
        return (
            f"COALESCE((SELECT jsonb_object_agg(key, CASE WHEN {kept} THEN value ELSE '{{}}'::jsonb END) "  # noqa: S608 - constants
            f"FROM jsonb_each({properties}) WHERE jsonb_typeof(value) <> 'null'), '{{}}'::jsonb)"
        )
    # SQLite: json_each gives booleans as 1 and 0, so they are turned back into JSON; the keys are
    # sorted in the subquery, an order SQLite keeps into the aggregate (the digest relies on it).
    kept = (
        f"(type IN ('true', 'false') OR (type = 'text' AND length(value) <= {MAX_LENGTH})) "
        f"AND NOT (lower(key) REGEXP '{IDENTIFIER}' OR key REGEXP '{CAMEL_IDENTIFIER}')"
    )
    value = "CASE type WHEN 'true' THEN json('true') WHEN 'false' THEN json('false') ELSE value END"
    return (
        f"COALESCE((SELECT json_group_object(key, CASE WHEN {kept} THEN {value} ELSE json('{{}}') END) "  # noqa: S608 - constants
        f"FROM (SELECT key, type, value FROM json_each({properties}) WHERE type <> 'null' ORDER BY key)), "
        "'{}')"
    )


def _upsert(source, params, sign=1):
    """Add (or with sign=-1 take out) the events of `source`, grouped, in one statement."""
    vendor = connection.vendor
    digest = "md5(dimensions::text)" if vendor == "postgresql" else "md5(dimensions)"
    sql = (
        f"INSERT INTO {TABLE} (workspace_id, day, name, dimensions, digest, events) "  # noqa: S608 - constants; values are parameters
        f"SELECT workspace_id, day, name, dimensions, {digest}, {int(sign)} * COUNT(*) FROM ("
        f"SELECT e.workspace_id, e.day, e.name, {dimensions(vendor, 'e.properties')} AS dimensions "
        f"FROM ({source}) AS e) AS s "
        # WHERE true: SQLite would otherwise read ON CONFLICT as the start of a join constraint.
        "WHERE true GROUP BY workspace_id, day, name, dimensions "
        "ON CONFLICT (workspace_id, day, name, digest) "
        f"DO UPDATE SET events = {TABLE}.events + excluded.events"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _stored(events):
    """The source rows of a TrackedEvent queryset."""
    rows = events.order_by().values(
        "workspace_id", "name", "properties", day=TruncDate("timestamp", tzinfo=UTC)
    )
    return rows.query.sql_with_params()


def add(workspace, events):
    """Count in a batch of track events that ingest has just stored (one statement)."""
    if not events:
        return
    rows = [
        {
            "day": event.timestamp.astimezone(UTC).date().isoformat(),
            "name": event.body.name,
            "properties": event.body.properties or {},
        }
        for event in events
    ]
    if connection.vendor == "postgresql":
        source = (
            "SELECT %s AS workspace_id, e.day, e.name, e.properties FROM jsonb_to_recordset(%s::jsonb) "
            "AS e(day date, name text, properties jsonb)"
        )
    else:
        source = (
            "SELECT %s AS workspace_id, json_extract(e.value, '$.day') AS day, "
            "json_extract(e.value, '$.name') AS name, json_extract(e.value, '$.properties') AS properties "
            "FROM json_each(%s) AS e"
        )
    _upsert(source, [workspace.pk, json.dumps(rows)])


def subtract(events):
    """Take out the events of a TrackedEvent queryset, before they are deleted in the same transaction."""
    _upsert(*_stored(events), sign=-1)
    days = events.order_by().values(day=TruncDate("timestamp", tzinfo=UTC))
    TrackedEventRollup.objects.filter(
        events=0, workspace__in=events.order_by().values("workspace"), day__in=days
    ).delete()


def rebuild(workspace=None):
    """Recompute the roll-up from the stored events, of one workspace or of all.

    Safe while ingest runs: it holds the ingest lock of the workspaces it recomputes.
    """
    rollups, events = TrackedEventRollup.objects.all(), TrackedEvent.objects.all()
    if workspace is not None:
        rollups, events = rollups.filter(workspace=workspace), events.filter(workspace=workspace)
    with transaction.atomic():
        for locked in [workspace] if workspace is not None else Workspace.objects.order_by("pk"):
            lock_workspace(locked)
        rollups.delete()
        _upsert(*_stored(events))
