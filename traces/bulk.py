"""The fold's bulk writes. On PostgreSQL rows go in with COPY, the fastest write path (DESIGN §7: ~23,000
rows/s against ~4,500 for bulk_create, whose array parameters psycopg quotes value by value in Python);
elsewhere with bulk_create and bulk_update.

- `insert(model, objs)`: new model instances, which get their primary keys (the fold links to them);
- `append(model, rows)`: append-only rows given as dicts of field values, no instances built (the
  event log, chat turns, model calls, business events: the bulk of a batch);
- `update(model, objs, names)`: the named fields of saved instances.

The fold's writes run inside the ingest transaction, under the workspace lock (see lock_workspace);
update() also writes the session roll-ups after a purge or a cost recompute.
"""

import contextlib
import contextvars
import enum
import json
import weakref

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction

from traces.models import Agent, ModelCall, Run, Session, Task

# The models the fold updates, or appends to skipping conflicts: each has a staging table, all made
# together the first time a connection stages anything (see stage()).
STAGED = (Agent, Session, Run, Task, ModelCall)


def on_postgresql():
    return connection.vendor == "postgresql"


def insert(model, objs):
    """Insert new rows; each object gets its primary key (on PostgreSQL, one given by assign_ids
    beforehand is kept)."""
    if not objs:
        return
    if not on_postgresql():
        model.objects.bulk_create(objs, batch_size=500)
        return
    for obj in objs:
        # As bulk_create does: a parent saved after it was assigned lends its key now.
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
    assign_ids(model, [obj for obj in objs if obj.pk is None])
    fields = model._meta.concrete_fields
    read = getters(fields, adding=True)
    copy(model._meta.db_table, fields, [[get(obj) for get in read] for obj in objs])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def append(model, rows, *, ignore_conflicts=False):
    """Insert rows given as {field name: value} (a related instance for a foreign key); fields left out
    take their defaults. With ignore_conflicts a row that would break a unique constraint is skipped,
    the first of equal rows kept, as bulk_create(ignore_conflicts=True) does."""
    if not rows:
        return
    if not on_postgresql():
        model.objects.bulk_create(
            [model(**row) for row in rows], batch_size=500, ignore_conflicts=ignore_conflicts
        )
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    # Defaults are evaluated once for the batch: timezone.now gives every row the same time.
    plan = [(f.name, to_db(f), f.get_default()) for f in fields]
    values = [[to(row.get(name, default)) for name, to, default in plan] for row in rows]
    if not ignore_conflicts:
        copy(model._meta.db_table, fields, values)
        return
    # COPY cannot skip a conflicting row: stage the rows, then INSERT … ON CONFLICT DO NOTHING.
    columns = ", ".join(f.column for f in fields)
    # A commit empties the staging table: both statements run in one transaction.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        staging = stage(model)
        copy(staging, fields, values, staged=True)
        cursor.execute(
            f"WITH s AS (DELETE FROM {staging} RETURNING *) "  # noqa: S608 - names from the model
            f"INSERT INTO {model._meta.db_table} ({columns}) "
            f"SELECT {columns} FROM s ORDER BY staged ON CONFLICT DO NOTHING"
        )


def update(model, objs, names):
    """Write the named fields of these saved rows."""
    if not objs:
        return
    if not on_postgresql():
        model.objects.bulk_update(objs, names, batch_size=500)
        return
    pk = model._meta.pk
    fields = [pk, *(model._meta.get_field(name) for name in names)]
    read = getters(fields, adding=False)
    assignments = ", ".join(f"{f.column} = s.{f.column}" for f in fields[1:])
    # A commit empties the staging table: both statements run in one transaction.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        staging = stage(model)
        copy(staging, fields, [[get(obj) for get in read] for obj in objs], staged=True)
        cursor.execute(
            f"WITH s AS (DELETE FROM {staging} RETURNING *) "  # noqa: S608 - names from the model
            f"UPDATE {model._meta.db_table} AS t SET {assignments} "
            f"FROM s WHERE t.{pk.column} = s.{pk.column}"
        )


def assign_ids(model, objs):
    """Give new instances their primary keys before they are inserted (PostgreSQL), so that rows
    inserted with them can point to them."""
    if objs:
        pk = model._meta.pk
        for obj, value in zip(objs, allocate_ids(model, len(objs)), strict=True):
            setattr(obj, pk.attname, value)


def allocate_ids(model, count):
    """`count` fresh primary keys from the table's own sequence, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def staging_name(model):
    return f"staged_{model._meta.db_table}"


def staging_ddl(model):
    """A temporary table with the model's columns, unconstrained, and `staged` (the order rows were
    copied in). The statement that applies staged rows also deletes them; a commit empties it anyway."""
    columns = ", ".join(f"{f.column} {f.db_type(connection)}" for f in model._meta.concrete_fields)
    return (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging_name(model)} ({columns}, staged bigint) "
        "ON COMMIT DELETE ROWS"
    )


def staging_statement():
    """One statement making every staging table that does not exist yet."""
    return "; ".join(staging_ddl(model) for model in STAGED)


def ensure_staging_tables():
    """Make the staging tables once per connection, so pages never pay for them.

    Temporary tables made inside a transaction are gone if it rolls back, so they count as made only
    once that transaction commits (an on_commit callback, which Django drops on a rollback, down to a
    savepoint's). Until then each transaction that stages makes them again, in one statement.
    """
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper.ensure_connection()
    raw = wrapper.connection
    ready = getattr(wrapper, "staging_tables_of", None)
    if ready is not None and ready() is raw:
        return
    pending = getattr(wrapper, "staging_tables_pending", None)
    if pending is not None and any(f is pending for _, f, _ in wrapper.run_on_commit):
        return
    with wrapper.cursor() as cursor:
        cursor.execute(staging_statement())

    def committed():
        wrapper.staging_tables_of = weakref.ref(raw)

    wrapper.staging_tables_pending = committed
    transaction.on_commit(committed)


def stage(model):
    """The model's staging table, made with the others on the connection's first staging."""
    if model not in STAGED:
        raise ValueError(f"{model.__name__} has no staging table: add it to STAGED")
    ensure_staging_tables()
    return staging_name(model)


def copy(table, fields, rows, *, staged=False):
    """COPY rows of values (one per field, already in database form) into `table`; a staging table
    also numbers them."""
    columns = [f.column for f in fields] + (["staged"] if staged else [])
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as stream,
    ):
        for number, row in enumerate(rows):
            if staged:
                row.append(number)
            stream.write_row(row)


def getters(fields, *, adding):
    """One function per field reading an instance's value in database form. Inserts run pre_save
    (auto_now and the like) as bulk_create does; updates read the attribute as bulk_update does.
    A field whose pre_save only reads the attribute is read directly (most of them)."""

    def getter(field):
        to = to_db(field)
        if adding and not reads_attribute(field):
            return lambda obj: to(field.pre_save(obj, True))
        return lambda obj, attname=field.attname: to(getattr(obj, attname))

    return [getter(f) for f in fields]


def reads_attribute(field):
    """Whether a field's pre_save on insert is no more than reading its attribute."""
    if isinstance(field, models.DateField):  # DateTimeField too: auto_now and auto_now_add set it
        return not (field.auto_now or field.auto_now_add)
    return type(field).pre_save is models.Field.pre_save


def to_db(field):
    """What COPY takes for a field's Python value: JSON as text, an enum as its value, the key of a
    related instance."""
    if field.is_relation:
        return lambda value: value.pk if isinstance(value, models.Model) else value
    if isinstance(field, models.JSONField):
        encoder, texts = field.encoder, predumped.get()
        if encoder is None and texts:

            def dump(value):
                if value is None:
                    return None
                made = texts.get(id(value))
                return made[1] if made is not None and made[0] is value else json.dumps(value)

            return dump
        return lambda value: None if value is None else json.dumps(value, cls=encoder)
    return lambda value: value.value if isinstance(value, enum.Enum) else value


# JSON text made ahead for values about to be written, {id(value): (value, text)}: see dumped().
predumped = contextvars.ContextVar("predumped", default=None)


@contextlib.contextmanager
def dumped(texts):
    """Within the block, writes take a JSON value's text from `texts` ({id(value): (value, text)})
    instead of dumping it again, so the text can be made before the workspace lock. Holding each
    value keeps its id from being reused; the values must not change in between."""
    token = predumped.set(texts)
    try:
        yield
    finally:
        predumped.reset(token)
