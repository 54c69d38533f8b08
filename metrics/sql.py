"""SQL pieces that Django has no portable expression for, written once per database.

Properties of business events (and the `metadata` of runs, tasks and model calls) are JSON. A card
reads a key either as text (filters, breakdowns, distinct values) or as a number (sums, averages,
percentiles). Only JSON numbers count as numbers: strings and booleans are "non-numeric", which the
card reports, and a missing key or JSON null is simply absent.
"""

from django.db import NotSupportedError
from django.db.models import BooleanField, F, FloatField, Func, IntegerField, TextField


def sqlite_json_path(key):
    # A quoted label, so keys with dots or spaces stay one key. Keys with a double quote are refused
    # by the card form: SQLite paths have no escape for it.
    return f'$."{key}"'


class JsonKey(Func):
    """Base for reading one top-level key of a JSON column."""

    def __init__(self, field, key, **extra):
        super().__init__(F(field), **extra)
        self.key = key

    def column(self, compiler):
        return compiler.compile(self.get_source_expressions()[0])

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError("JSON properties are read on SQLite and PostgreSQL only")


class JsonText(JsonKey):
    """The key's value as text: strings as they are, numbers as written, booleans as true/false."""

    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra):
        column, params = self.column(compiler)
        path = sqlite_json_path(self.key)
        sql = (
            f"(CASE json_type({column}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"WHEN 'null' THEN NULL ELSE CAST(json_extract({column}, %s) AS TEXT) END)"
        )
        return sql, (*params, path, *params, path)

    def as_postgresql(self, compiler, connection, **extra):
        column, params = self.column(compiler)
        return f"({column} ->> %s)", (*params, self.key)


class JsonNumber(JsonKey):
    """The key's value when it is a JSON number, else NULL."""

    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        column, params = self.column(compiler)
        path = sqlite_json_path(self.key)
        sql = (
            f"(CASE WHEN json_type({column}, %s) IN ('integer', 'real') "
            f"THEN CAST(json_extract({column}, %s) AS REAL) END)"
        )
        return sql, (*params, path, *params, path)

    def as_postgresql(self, compiler, connection, **extra):
        column, params = self.column(compiler)
        sql = (
            f"(CASE WHEN jsonb_typeof({column} -> %s) = 'number' "
            f"THEN ({column} ->> %s)::double precision END)"
        )
        return sql, (*params, self.key, *params, self.key)


class JsonNonNumeric(JsonKey):
    """1 when the key holds a value that is not a number (a string, a boolean, an object), else 0."""

    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        column, params = self.column(compiler)
        sql = (
            f"(CASE WHEN COALESCE(json_type({column}, %s), 'null') IN ('integer', 'real', 'null') "
            "THEN 0 ELSE 1 END)"
        )
        return sql, (*params, sqlite_json_path(self.key))

    def as_postgresql(self, compiler, connection, **extra):
        column, params = self.column(compiler)
        sql = (
            f"(CASE WHEN COALESCE(jsonb_typeof({column} -> %s), 'null') IN ('number', 'null') "
            "THEN 0 ELSE 1 END)"
        )
        return sql, (*params, self.key)


class JsonIsObject(JsonKey):
    """True when the key holds a JSON object: in a roll-up's dimensions, a value it did not keep."""

    output_field = BooleanField()

    def as_sqlite(self, compiler, connection, **extra):
        column, params = self.column(compiler)
        return f"(json_type({column}, %s) = 'object')", (*params, sqlite_json_path(self.key))

    def as_postgresql(self, compiler, connection, **extra):
        column, params = self.column(compiler)
        return f"(jsonb_typeof({column} -> %s) = 'object')", (*params, self.key)


def percentile(vendor, fraction, value, rank, count):
    """SQL for the continuous percentile of `value` within the current GROUP BY.

    PostgreSQL has percentile_cont. SQLite has none, so the query ranks values with window functions
    beforehand (`rank`: 0-based position among the group's non-null values, `count`: how many) and
    this interpolates the same way percentile_cont does: position = fraction × (count − 1), then
    linearly between the values on either side.
    """
    if vendor == "postgresql":
        return f"percentile_cont({fraction}) WITHIN GROUP (ORDER BY {value})"
    position = f"({fraction} * ({count} - 1))"
    low = f"CAST({position} AS INTEGER)"
    at_low = f"MAX(CASE WHEN {rank} = {low} THEN {value} END)"
    at_high = f"MAX(CASE WHEN {rank} = {low} + 1 THEN {value} END)"
    share = f"MAX({position} - {low})"
    return f"({at_low} + (COALESCE({at_high}, {at_low}) - {at_low}) * {share})"


def group_sort(vendor, column):
    # Breakdown ties are broken by the group's text in code point order on both databases.
    return f'{column} COLLATE "C"' if vendor == "postgresql" else column


class BucketStart(Func):
    """The UTC start of the hour, day, week (Monday) or month holding a timestamp (or a UTC date).

    Django's Trunc runs a Python function per row on SQLite; these are SQLite's own date functions,
    which keep the work inside the database.
    """

    output_field = TextField()
    SQLITE = {
        "hour": "strftime('%%Y-%%m-%%d %%H:00:00', {column})",
        "day": "strftime('%%Y-%%m-%%d 00:00:00', {column})",
        "week": "(date({column}, 'weekday 0', '-6 days') || ' 00:00:00')",
        "month": "strftime('%%Y-%%m-01 00:00:00', {column})",
    }

    def __init__(self, field, bucket):
        if bucket not in self.SQLITE:
            raise ValueError(f"Unknown bucket {bucket!r}")
        super().__init__(F(field))
        self.bucket = bucket

    def as_sql(self, compiler, connection, **extra):
        raise NotSupportedError("Buckets are computed on SQLite and PostgreSQL only")

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.get_source_expressions()[0])
        return self.SQLITE[self.bucket].format(column=column), params

    def as_postgresql(self, compiler, connection, **extra):
        source = self.get_source_expressions()[0]
        column, params = compiler.compile(source)
        if source.output_field.get_internal_type() == "DateField":
            return f"date_trunc('{self.bucket}', {column}::timestamp)", params
        return f"date_trunc('{self.bucket}', {column} AT TIME ZONE 'UTC')", params
