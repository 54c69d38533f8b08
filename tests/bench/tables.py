"""Writing rows of a model's table fast: COPY on PostgreSQL, executemany on SQLite.

A Table names the columns the data set fills; any other column of the model (one added since) gets its
model default, so the benchmark keeps working as the schema grows.
"""

import json
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection, models


def default_for(field):
    if field.has_default():
        value = field.get_default()
        return json.dumps(value) if isinstance(field, models.JSONField) else value
    if field.null:
        return None
    if field.blank and field.empty_strings_allowed:
        return ""  # what the model stores for a text field left empty
    raise ValueError(
        f"{field.model._meta.db_table}.{field.column} has no default: teach tests/bench/dataset.py to fill it"
    )


class Table:
    def __init__(self, model, columns):
        self.model = model
        self.known = columns.split()
        self._columns = None

    @property
    def name(self):
        return self.model._meta.db_table

    def plan(self):
        """(columns, values of the columns this data set does not fill), read from the model once."""
        if self._columns is None:
            fields = {f.attname: f for f in self.model._meta.concrete_fields}
            unknown = [c for c in self.known if c not in fields]
            if unknown:
                raise ValueError(f"{self.name} has no column {unknown}")
            extra = [f for name, f in fields.items() if name not in self.known]
            self._columns = [fields[c].column for c in self.known] + [f.column for f in extra]
            self._extra = tuple(default_for(f) for f in extra)
        return self._columns, self._extra

    def write(self, rows):
        if not rows:
            return
        columns, extra = self.plan()
        if extra:
            rows = [row + extra for row in rows]
        if connection.vendor == "postgresql":
            copy_rows(self.name, columns, rows)
        else:
            insert_rows(self.name, columns, rows)


def copy_rows(table, columns, rows):
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def insert_rows(table, columns, rows):
    """SQLite takes text for times and decimals, as Django stores them there."""
    ops = connection.ops

    def adapt(value):
        if hasattr(value, "tzinfo"):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, Decimal):
            return str(value)
        return value

    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [tuple(adapt(v) for v in row) for row in rows])


def reset_sequences(model_list):
    """After rows were written with their own primary keys, the next insert must not reuse one."""
    statements = connection.ops.sequence_reset_sql(no_style(), model_list)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def max_id(model):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {model._meta.db_table}")  # noqa: S608
        return cursor.fetchone()[0]


def min_id(model, workspace):
    """The smallest key among a workspace's rows of this model, 0 when it has none."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(MIN(id), 0) FROM {model._meta.db_table} WHERE workspace_id = %s",  # noqa: S608
            [workspace.pk],
        )
        return cursor.fetchone()[0]
