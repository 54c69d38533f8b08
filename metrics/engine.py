"""The aggregation engine: one card → one SQL query → a CardResult.

Everything is computed by the database, on SQLite and on PostgreSQL alike. The ORM builds the
"base" rows of a card (one per matching row, with its bucket, breakdown group, numeric value, rate
condition flag and distinct key); a hand-written outer query then ranks the breakdown groups, folds
the ones past the top N into "other" and aggregates per bucket and group. Only the aggregated rows,
at most buckets × (N + 1), come back to Python, which fills empty buckets and computes ratios.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connections
from django.db.models import Case, FloatField, IntegerField, Q, TextField, Value, When
from django.db.models.functions import Coalesce

from .models import Aggregation, Kind, Source
from .periods import bucket_starts, fitting_bucket, period_for
from .sources import SOURCES
from .sql import BucketStart, group_sort, percentile

PERCENTILES = {Aggregation.P50: 0.5, Aggregation.P95: 0.95, Aggregation.P99: 0.99}
NEEDS_NUMBERS = {
    Aggregation.SUM,
    Aggregation.AVG,
    Aggregation.MIN,
    Aggregation.MAX,
    Aggregation.P50,
    Aggregation.P95,
    Aggregation.P99,
}
NEEDS_PROPERTY = NEEDS_NUMBERS | {Aggregation.DISTINCT_COUNT}
# Aggregations whose value for "no rows" is 0; the others (averages, percentiles, rates) have none.
ZERO_WHEN_EMPTY = {Aggregation.COUNT, Aggregation.SUM, Aggregation.DISTINCT_COUNT}
COUNTING = {Aggregation.COUNT, Aggregation.RATE}
CHARTS = {Kind.LINE, Kind.BAR}
FIGURES = {Kind.NUMBER, Kind.RATE}

OPERATORS = {
    "eq": "is",
    "ne": "is not",
    "contains": "contains",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "set": "is set",
    "not_set": "is not set",
}
NUMERIC_OPERATORS = {"gt", "gte", "lt", "lte"}
VALUELESS_OPERATORS = {"set", "not_set"}


def as_number(text):
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


@dataclass
class Series:
    label: str
    values: list
    other: bool = False


@dataclass
class CardResult:
    kind: str
    aggregation: str
    unit: str
    period: object
    bucket: str = ""
    buckets: list = field(default_factory=list)
    series: list = field(default_factory=list)
    value: float | None = None
    previous: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    rows: int = 0
    skipped: int = 0

    @property
    def is_percentage(self):
        return self.kind == Kind.RATE or self.aggregation == Aggregation.RATE

    @property
    def change(self):
        """Change against the previous period: percentage points for rates, else percent."""
        if self.value is None or self.previous is None:
            return None
        if self.is_percentage:
            return self.value - self.previous
        if self.previous == 0:
            return None
        return (self.value - self.previous) / abs(self.previous) * 100

    @property
    def has_data(self):
        if self.kind in FIGURES:
            return self.value is not None
        return any(value not in (None, 0) for series in self.series for value in series.values)


def _match(spec, rule, name):
    """An alias that is 1 when the row satisfies one filter rule and 0 otherwise (never NULL)."""
    prop = spec.resolve(rule["property"])
    operator, value = rule["operator"], rule.get("value", "")
    text, number = f"{name}_t", f"{name}_n"
    aliases = {
        text: prop.text(),
        number: prop.number() if prop.may_be_numeric else Value(None, output_field=FloatField()),
    }
    if operator in ("eq", "ne"):
        matched = Q(**{text: value})
        if prop.may_be_numeric and as_number(value) is not None:
            matched = (
                Q(**{number: as_number(value)}) if prop.column else matched | Q(**{number: as_number(value)})
            )
        hit, miss = (1, 0) if operator == "eq" else (0, 1)
        return aliases, Case(When(matched, then=Value(hit)), default=Value(miss))
    if operator == "contains":
        matched = Q(**{f"{text}__icontains": value})
    elif operator in NUMERIC_OPERATORS:
        matched = Q(**{f"{number}__{operator}": as_number(value)})
    elif operator == "set":
        matched = Q(**{f"{text}__isnull": False}) & ~Q(**{text: ""})
    else:
        matched = Q(**{f"{text}__isnull": True}) | Q(**{text: ""})
    return aliases, Case(When(matched, then=Value(1)), default=Value(0))


def _is_plain_equality(spec, rule):
    column = spec.column(rule["property"])
    return (
        rule["operator"] == "eq" and column is not None and not column.numeric and "__" not in column.lookup
    )


def _all_match(queryset, spec, rules, prefix):
    """Alias every rule on the queryset; returns it and a Q that holds when all rules match."""
    matched = Q()
    for index, rule in enumerate(rules):
        name = f"{prefix}{index}"
        aliases, flag = _match(spec, rule, name)
        queryset = queryset.alias(**aliases, **{name: flag})
        matched &= Q(**{name: 1})
    return queryset, matched


def _base_rows(card, workspace, start, end, bucket_expr):
    spec = SOURCES[card.source]
    time = spec.time_field
    rows = spec.queryset(workspace).filter(**{f"{time}__gte": start, f"{time}__lt": end})
    if card.source == Source.EVENTS and card.event_name:
        rows = rows.filter(name=card.event_name)
    filters = card.filters or []
    # An "is" filter on a plain text column becomes a bare `column = value`, which an index can
    # serve (the CASE form of _match cannot); both treat NULL as not matching.
    plain = [rule for rule in filters if _is_plain_equality(spec, rule)]
    for rule in plain:
        rows = rows.filter(**{spec.column(rule["property"]).lookup: rule.get("value", "")})
    rows, wanted = _all_match(rows, spec, [rule for rule in filters if rule not in plain], "f")
    rows = rows.filter(wanted)
    rows, in_condition = _all_match(rows, spec, card.condition or [], "c")

    prop = spec.resolve(card.property) if card.aggregation in NEEDS_PROPERTY else None
    breakdown = spec.resolve(card.breakdown) if card.breakdown and card.kind not in FIGURES else None
    numeric = prop is not None and card.aggregation in NEEDS_NUMBERS
    distinct = prop is not None and card.aggregation == Aggregation.DISTINCT_COUNT
    columns = {
        "b": bucket_expr,
        "g": Coalesce(breakdown.text(), Value(""), output_field=TextField())
        if breakdown
        else Value("", output_field=TextField()),
        "c": Case(When(in_condition, then=Value(1)), default=Value(0)) if card.condition else Value(0),
        "v": prop.number() if numeric else Value(None, output_field=FloatField()),
        "k": prop.non_numeric() if numeric else Value(0),
        "d": prop.distinct() if distinct else Value(None, output_field=TextField()),
    }
    return rows.order_by().values(**columns), breakdown is not None


def _value_sql(aggregation, vendor, subset):
    """SQL for the aggregation over all rows of a group, or over those meeting the rate condition."""
    value = "(CASE WHEN c = 1 THEN v END)" if subset else "v"
    if aggregation == Aggregation.DISTINCT_COUNT:
        return "COUNT(DISTINCT CASE WHEN c = 1 THEN d END)" if subset else "COUNT(DISTINCT d)"
    if aggregation in PERCENTILES:
        rank, count = ("i2", "m2") if subset else ("i", "m")
        return percentile(vendor, PERCENTILES[aggregation], value, rank, count)
    if aggregation in NEEDS_NUMBERS:
        return f"{aggregation.upper()}({value})"
    return "NULL"


def _rank_sql(aggregation):
    # Top N by the figure itself where groups add up to a whole; else by how many rows they hold.
    if aggregation == Aggregation.SUM:
        return "COALESCE(SUM(v), 0)"
    if aggregation == Aggregation.DISTINCT_COUNT:
        return "COUNT(DISTINCT d)"
    return "COUNT(*)"


# The outer query is assembled from the fixed fragments below and from the ORM's own SQL; every value
# that comes from a card or from data travels as a query parameter of the inner query.
TOP_GROUPS = "top AS (SELECT g, ROW_NUMBER() OVER (ORDER BY {rank} DESC, {tie}) AS r FROM base GROUP BY g)"
GROUPED_TOP = (
    "grouped AS (SELECT base.b AS b, top.g AS g, top.r AS r, base.c AS c, base.v AS v, base.k AS k, "
    "base.d AS d FROM base LEFT JOIN top ON top.g = base.g AND top.r <= {limit})"
)
GROUPED_ALL = "grouped AS (SELECT b, g, 1 AS r, c, v, k, d FROM base)"
RANKED = (
    "ROW_NUMBER() OVER (PARTITION BY b, g ORDER BY {value} IS NULL, {value}) - 1 AS {rank}, "
    "COUNT({value}) OVER (PARTITION BY b, g) AS {count}"
)
OUTER = (
    "WITH {ctes} SELECT b, g, MAX(r), COUNT(*), SUM(c), SUM(k), {value}, {subset} FROM {rows} GROUP BY b, g"
)


def _aggregate(card, base, has_breakdown):
    """Run the outer query; rows of (bucket, group, rank, rows, hits, skipped, value, subset value)."""
    connection = connections[base.db]
    vendor = connection.vendor
    inner, params = base.query.sql_with_params()
    aggregation = card.aggregation
    subset = card.kind == Kind.RATE and aggregation not in COUNTING
    ctes = [f"base AS ({inner})"]
    if has_breakdown:
        ctes.append(TOP_GROUPS.format(rank=_rank_sql(aggregation), tie=group_sort(vendor, "g")))
        ctes.append(GROUPED_TOP.format(limit=int(card.breakdown_limit)))
    else:
        ctes.append(GROUPED_ALL)
    rows = "grouped"
    if aggregation in PERCENTILES and vendor != "postgresql":
        windows = [RANKED.format(value="v", rank="i", count="m")]
        if subset:
            windows.append(RANKED.format(value="(CASE WHEN c = 1 THEN v END)", rank="i2", count="m2"))
        ctes.append(f"ranked AS (SELECT grouped.*, {', '.join(windows)} FROM grouped)")  # noqa: S608 (fixed fragments, see above)
        rows = "ranked"
    sql = OUTER.format(
        ctes=", ".join(ctes),
        value=_value_sql(aggregation, vendor, subset=False),
        subset=_value_sql(aggregation, vendor, subset=True) if subset else "NULL",
        rows=rows,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass
class Cell:
    rows: int = 0
    hits: int = 0
    skipped: int = 0
    value: float | None = None
    subset: float | None = None


def _figure(aggregation, cell, subset=False):
    """The aggregation's value for one bucket and group (a missing cell is an empty one)."""
    cell = cell or Cell()
    if aggregation == Aggregation.COUNT:
        return cell.hits if subset else cell.rows
    if aggregation == Aggregation.RATE:
        return cell.hits if subset else (100 * cell.hits / cell.rows if cell.rows else None)
    value = cell.subset if subset else cell.value
    if value is None and aggregation in ZERO_WHEN_EMPTY:
        return 0
    return value


def _share(aggregation, cell):
    """A rate card: 100 × (the figure over rows meeting the condition) ÷ (the figure over all rows)."""
    cell = cell or Cell()
    if aggregation in COUNTING:
        numerator, denominator = cell.hits, cell.rows
    else:
        numerator, denominator = _figure(aggregation, cell, subset=True), _figure(aggregation, cell)
    if not denominator:
        return numerator, denominator, None
    return numerator, denominator, 100 * (numerator or 0) / denominator


def _moment(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _number(value):
    return None if value is None else float(value)


def evaluate(card, workspace, *, time_range=None, custom_start=None, custom_end=None, now=None):
    """Compute a card. The time range given here (the dashboard's control) wins over the card's own.

    Hits the database once.
    """
    if time_range is None:
        time_range, custom_start, custom_end = card.time_range, card.custom_start, card.custom_end
    period = period_for(time_range, custom_start, custom_end, now)
    spec = SOURCES[card.source]
    prop = spec.resolve(card.property) if card.aggregation in NEEDS_PROPERTY else None
    unit = prop.unit if prop and card.aggregation in NEEDS_NUMBERS else ""
    result = CardResult(kind=card.kind, aggregation=card.aggregation, unit=unit, period=period)
    time = spec.time_field

    if card.kind in FIGURES:
        previous = period.previous()
        current = Case(When(**{f"{time}__gte": period.start}, then=Value(1)), default=Value(0))
        base, _ = _base_rows(card, workspace, previous.start, period.end, current)
        cells = {row[0]: _cell(row) for row in _aggregate(card, base, False)}
        now_cell, before_cell = cells.get(1), cells.get(0)
        result.rows = now_cell.rows if now_cell else 0
        result.skipped = now_cell.skipped if now_cell else 0
        if card.kind == Kind.RATE:
            result.numerator, result.denominator, result.value = _share(card.aggregation, now_cell)
            result.previous = _share(card.aggregation, before_cell)[2]
        else:
            result.value = _number(_figure(card.aggregation, now_cell))
            result.previous = _number(_figure(card.aggregation, before_cell))
            if card.aggregation == Aggregation.RATE and now_cell:
                result.numerator, result.denominator = now_cell.hits, now_cell.rows
        return result

    if card.kind in CHARTS:
        result.bucket = fitting_bucket(period, card.bucket)
        result.buckets = bucket_starts(period, result.bucket)
        start = result.buckets[0] if result.buckets else period.start
        bucket = BucketStart(time, result.bucket)
        base, has_breakdown = _base_rows(card, workspace, start, period.end, bucket)
    else:
        start = period.start
        base, has_breakdown = _base_rows(card, workspace, start, period.end, Value(0, IntegerField()))

    rows = _aggregate(card, base, has_breakdown)
    groups = {}
    cells = {}
    for row in rows:
        moment = _moment(row[0]) if card.kind in CHARTS else 0
        cell = _cell(row)
        cells[(moment, row[1])] = cell
        groups[row[1]] = row[2]
        result.rows += cell.rows
        result.skipped += cell.skipped
    order = sorted(groups, key=lambda group: (groups[group] is None, groups[group] or 0))

    if card.kind == Kind.PIE:
        if not has_breakdown and card.aggregation == Aggregation.RATE:
            cell = cells.get((0, "")) or Cell()
            result.series = [
                Series("Meets the condition", [cell.hits]),
                Series("Does not", [cell.rows - cell.hits]),
            ]
        else:
            result.series = [
                Series(
                    _label(group, has_breakdown, card),
                    [_number(_figure(card.aggregation, cells[(0, group)]))],
                    group is None,
                )
                for group in order
            ]
        return result

    result.series = [
        Series(
            _label(group, has_breakdown, card),
            [_number(_figure(card.aggregation, cells.get((moment, group)))) for moment in result.buckets],
            group is None,
        )
        for group in order
    ] or [Series(_label("", False, card), [_number(_figure(card.aggregation, None)) for _ in result.buckets])]
    return result


def _cell(row):
    _, _, _, rows, hits, skipped, value, subset = row
    return Cell(int(rows), int(hits or 0), int(skipped or 0), _number(value), _number(subset))


def _label(group, has_breakdown, card):
    if not has_breakdown:
        return Aggregation(card.aggregation).label
    if group is None:
        return "Other"
    return group or "(not set)"
