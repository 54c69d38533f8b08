"""Keyset pages over a total ordering of (a time or a number, id): never OFFSET, never COUNT.

A cursor is the ordering key of a row as text ("<microseconds since the epoch or number>.<id>", "n.<id>"
for an empty key), so it survives a copied URL and costs one index seek to resume from.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import F, Q

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


# How a cursor's key reads back, per kind of ordering column.
PARSERS = {
    "time": lambda text: EPOCH + int(text) * MICROSECOND,
    "int": int,
    "decimal": Decimal,
}
NULL = "n"


def encode(value):
    if value is None:
        return NULL
    if isinstance(value, datetime):
        return str((value - EPOCH) // MICROSECOND)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@dataclass
class Page:
    rows: list
    # Cursor of the page before this one (newer rows of a descending list), or None at the start.
    previous: str | None
    # Cursor of the page after this one, or None at the end.
    next: str | None


def past(field, value, pk, *, later):
    """Rows after (value, pk) in (field, id) order when `later`, before it otherwise.

    The leading `field >= value` (or <=) is implied by the OR, but spelled out it bounds the index range
    scan: without it PostgreSQL filters every row from the start of the index (a page 60 days back read
    48 ms instead of 0.6 ms).
    """
    op = "gt" if later else "lt"
    bound = Q(**{f"{field}__{op}e": value})
    return bound & (Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk}))


def past_nullable(field, value, pk, *, later):
    """`past` for a column that may be NULL, which sorts above every value, as PostgreSQL sorts it
    (NULLS FIRST when descending, NULLS LAST when ascending): a plain index serves both directions."""
    op = "gt" if later else "lt"
    among_empty = Q(**{f"{field}__isnull": True, f"pk__{op}": pk})
    if value is None:
        return among_empty if later else among_empty | Q(**{f"{field}__isnull": False})
    beyond = past(field, value, pk, later=later)
    return beyond | Q(**{f"{field}__isnull": True}) if later else beyond


class Keyset:
    """Pages ordered by (field, id), descending (newest first) or ascending (in sequence).

    `kind` says how a cursor's key reads back: "time", "int" or "decimal". A `nullable` field's empty
    values sort above all others.
    """

    def __init__(self, field, *, descending=True, kind="time", nullable=False):
        self.field = field
        self.descending = descending
        self.kind = kind
        self.nullable = nullable

    def flipped(self):
        """The same ordering the other way round."""
        return Keyset(self.field, descending=not self.descending, kind=self.kind, nullable=self.nullable)

    def cursor(self, row):
        """The cursor of a model instance, or of a `values()` row that holds the field and the id."""
        if isinstance(row, dict):
            return f"{encode(row[self.field])}.{row['id']}"
        return f"{encode(getattr(row, self.field))}.{row.pk}"

    def decode(self, cursor):
        """(value, id) of a cursor that a CursorField has already checked. Raises ValueError (or
        OverflowError) when its key is not of this keyset's kind."""
        value, pk = cursor.rsplit(".", 1)
        if value == NULL:
            if not self.nullable:
                raise ValueError("this ordering has no empty keys")
            return None, int(pk)
        return PARSERS[self.kind](value), int(pk)

    def beyond(self, cursor, forward):
        """Rows past the cursor, in reading order when forward, against it otherwise."""
        value, pk = self.decode(cursor)
        later = forward != self.descending
        if self.nullable:
            return past_nullable(self.field, value, pk, later=later)
        return past(self.field, value, pk, later=later)

    def ordering(self, forward=True):
        down = self.descending == forward
        if self.nullable:
            key = F(self.field).desc(nulls_first=True) if down else F(self.field).asc(nulls_last=True)
            return [key, "-pk" if down else "pk"]
        sign = "-" if down else ""
        return [f"{sign}{self.field}", f"{sign}pk"]

    def page(self, queryset, *, after=None, before=None, size=50):
        """One page of `size` rows after the `after` cursor or before the `before` one; one query."""
        forward = not before
        if after and forward:
            queryset = queryset.filter(self.beyond(after, True))
        elif before:
            queryset = queryset.filter(self.beyond(before, False))
        rows = list(queryset.order_by(*self.ordering(forward))[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if forward:
            previous = self.cursor(rows[0]) if after and rows else None
            following = self.cursor(rows[-1]) if more else None
        else:
            rows.reverse()
            previous = self.cursor(rows[0]) if more else None
            following = self.cursor(rows[-1]) if rows else None
        return Page(rows, previous, following)


def chunks(queryset, *fields, size=1000):
    """The rows of a queryset in primary-key order, `size` at a time, with only these fields: a walk
    over any number of rows that holds one chunk in memory and never skips a row as others arrive."""
    queryset = queryset.only("pk", *fields).order_by("pk")
    last = None
    while True:
        rows = list((queryset if last is None else queryset.filter(pk__gt=last))[:size])
        if not rows:
            return
        yield rows
        last = rows[-1].pk
