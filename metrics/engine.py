"""The aggregation engine: one card → one SQL query → a CardResult.

Everything is computed by the database, on SQLite and on PostgreSQL alike. The ORM builds the
"base" rows of a card (one per matching row, with its bucket, breakdown group, numeric value, rate
condition flag, distinct key and how many rows it stands for); a hand-written outer query then ranks
the breakdown groups, folds the ones past the top N into "other" and aggregates per bucket and group.
Only the aggregated rows, at most buckets × (N + 1), come back to Python, which fills empty buckets
and computes ratios.

Count and rate cards over business events read whole days from their daily roll-up
(metrics.rollups.tracked_events), and count, rate and sum cards over runs, tasks and model calls from the
daily trace roll-ups (traces.rollups.daily); only the partial days at the ends of the range come from the
rows themselves, in the same query (see `_parts`), with the same result as reading every row.

Cards over OTLP metric points take their own query (metrics.otlp_cards), which answers the same rows.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import or_

from django.db import connections
from django.db.models import Case, Exists, FloatField, IntegerField, Q, Sum, TextField, Value, When
from django.db.models.functions import Coalesce

from traces.rollups import daily_spec as rollup_spec

from . import otlp_cards
from .models import Aggregation, Bucket, Kind, Source
from .periods import bucket_starts, fitting_bucket, period_for
from .sources import DAILY_EVENTS, DAILY_TRACES, NAMED_BY, SOURCES
from .sql import BucketStart, JsonIsObject, group_sort, percentile

PERCENTILES = {Aggregation.P50: 0.5, Aggregation.P90: 0.9, Aggregation.P95: 0.95, Aggregation.P99: 0.99}
NEEDS_NUMBERS = {
    Aggregation.SUM,
    Aggregation.AVG,
    Aggregation.MIN,
    Aggregation.MAX,
    Aggregation.P50,
    Aggregation.P90,
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
    # The breakdown value its rows hold (None without a breakdown, and for "Other"): drill-through's.
    group: str | None = None


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


def rows_matching(rows, spec, rules):
    """`rows` that meet every rule, as a card's filters read them: the business events list filters
    by a card's rules with this (metrics.drill)."""
    rows, wanted = _all_match(rows, spec, rules, "f")
    return rows.filter(wanted)


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


def _base_rows(card, spec, rows, bucket_expr, weight):
    """The base rows of a card from `rows` (a queryset of the spec's model, already limited in time).

    `weight` is how many rows a base row stands for: 1, or the sum of a roll-up's count column, which
    also groups roll-up rows by the other columns (fewer rows for the outer query to rank and aggregate).
    """
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
    breakdown = spec.resolve(_breakdown(card))
    numeric = prop is not None and card.aggregation in NEEDS_NUMBERS
    distinct = prop is not None and card.aggregation == Aggregation.DISTINCT_COUNT
    columns = {
        "b": bucket_expr,
        "g": Coalesce(breakdown.text(), Value(""), output_field=TextField())
        if breakdown
        else Value("", output_field=TextField()),
        "c": Case(When(in_condition, then=Value(1)), default=Value(0)) if card.condition else Value(0),
        "k": prop.non_numeric() if numeric else Value(0),
        "d": prop.distinct() if distinct else Value(None, output_field=TextField()),
    }
    value = prop.number() if numeric else Value(None, output_field=FloatField())
    if numeric and weight.contains_aggregate:
        value = Sum(value)  # a roll-up row's value is a daily sum: the group's is their sum
    # Every part selects b, g, c, k, d, n, v in this order: the parts are joined by UNION ALL.
    return rows.order_by().values(**columns).annotate(n=weight, v=value)


DAY = timedelta(days=1)


def _midnight(moment):
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _next_midnight(moment):
    midnight = _midnight(moment)
    return midnight if midnight == moment else midnight + DAY


def _whole_days(start, end, cuts):
    """The UTC days of [start, end) that lie wholly inside it and that no cut (a time where the card's
    buckets change) falls within: (first day, end day, days a cut splits), or None when there are none."""
    first, last = _next_midnight(start), _midnight(end)
    if first >= last:
        return None
    split = sorted(
        {_midnight(cut) for cut in cuts if cut != _midnight(cut) and first <= _midnight(cut) < last}
    )
    return first, last, split


# What the daily trace roll-ups add up to exactly; averages would need their non-null counts.
TRACE_ROLLUP_AGGREGATIONS = {Aggregation.COUNT, Aggregation.RATE, Aggregation.SUM}


def _rules(card):
    return [*(card.filters or []), *(card.condition or [])]


def _breakdown(card):
    """The property the card breaks down by; figures show one value, so none."""
    return card.breakdown if card.kind not in FIGURES else ""


def _daily_spec(card):
    """(the roll-up spec a card can read whole days from, the JSON keys it reads), or (None, None)."""
    if card.source == Source.EVENTS:
        keys = _json_keys(card) if card.aggregation in COUNTING else None
        return (DAILY_EVENTS, keys) if keys is not None else (None, None)
    rules = _rules(card)
    # The roll-ups keep a missing text as '', where the rows may hold NULL: only a rule that
    # compares with '' could tell them apart.
    if card.aggregation not in TRACE_ROLLUP_AGGREGATIONS or any(
        rule["operator"] not in VALUELESS_OPERATORS and rule.get("value", "") == "" for rule in rules
    ):
        return None, None
    if not rollup_spec.covers(card.source, card.aggregation, card.property, _breakdown(card), rules):
        return None, None
    return DAILY_TRACES[card.source], []


def _json_keys(card):
    """The JSON keys a count or rate card reads, or None when it reads something the roll-up lacks."""
    spec = SOURCES[Source.EVENTS]
    rules = _rules(card)
    if any(rule["operator"] in NUMERIC_OPERATORS for rule in rules):
        return None  # numbers are not kept in the roll-up
    keys = [rule["property"] for rule in rules]
    if _breakdown(card):
        keys.append(_breakdown(card))
    props = [spec.resolve(key) for key in keys]
    if any(prop is None or (prop.column and prop.key != "$name") for prop in props):
        return None
    return sorted({prop.json_key for prop in props if not prop.column})


def _ranges(field, ranges):
    return reduce(or_, (Q(**{f"{field}__gte": low, f"{field}__lt": high}) for low, high in ranges), Q())


def _parts(card, workspace, start, end, raw_bucket, daily_bucket, cuts=(), bucket=None):
    """The querysets whose rows, together, are the base rows of the card over [start, end).

    Raw rows unless the card has a daily roll-up that keeps all it reads (`_daily_spec`) and its
    buckets, if any, are days or coarser (`bucket`). Then the whole days come from the roll-up
    (`daily_bucket` buckets its `day`) and the rest from the rows: the partial days at either end and
    the days a cut splits.

    A roll-up row without a key means the key was not set, as in the events. But where a key the card
    reads holds a value the roll-up did not keep ({}) on any whole day, the events answer for every
    day: the roll-up's days end at `first` instead of `last`, and the events' range starts there. That
    end is an expression of an EXISTS, which PostgreSQL computes once before reading either branch; as
    it is not a constant, the planner sizes the events' branch as the small range it usually is,
    where a branch gated by the EXISTS would be planned as every event of the range and, costed that
    high, JIT-compiled on every call (~400 ms).
    """
    spec = SOURCES[card.source]
    time = spec.time_field
    # A card over one business event: the events and their roll-up both have its name.
    named = {NAMED_BY[card.source]: card.event_name} if card.source in NAMED_BY and card.event_name else {}
    rows = spec.queryset(workspace).filter(**named)
    daily_spec, keys = _daily_spec(card)
    days = _whole_days(start, end, cuts) if daily_spec and bucket != Bucket.HOUR else None
    if days is None:
        in_range = rows.filter(**{f"{time}__gte": start, f"{time}__lt": end})
        return [_base_rows(card, spec, in_range, raw_bucket, Value(1))]
    first, last, split = days
    daily = daily_spec.queryset(workspace).filter(day__gte=first.date(), day__lt=last.date(), **named)
    rollup_end_day, rollup_end = Value(last.date()), Value(last)
    if keys:
        unkept = Exists(daily.filter(reduce(or_, (JsonIsObject("dimensions", key) for key in keys))))
        rollup_end_day = Case(When(unkept, then=Value(first.date())), default=rollup_end_day)
        rollup_end = Case(When(unkept, then=Value(first)), default=rollup_end)
    daily = daily.filter(day__lt=rollup_end_day).exclude(day__in=[day.date() for day in split])
    events = rows.filter(
        Q(**{f"{time}__gte": start, f"{time}__lt": first})
        | Q(**{f"{time}__gte": rollup_end, f"{time}__lt": end})
        | _ranges(time, [(day, day + DAY) for day in split])
    )
    return [
        _base_rows(card, daily_spec, daily, daily_bucket, Sum(daily_spec.count_field)),
        _base_rows(card, spec, events, raw_bucket, Value(1)),
    ]


def _card_rows(
    card,
    workspace,
    start,
    end,
    raw_bucket,
    daily_bucket,
    has_breakdown,
    result,
    rank_bucket=None,
    **part_options,
):
    """The aggregated rows of a card over [start, end) (see `_aggregate`); for an OTLP metric, also
    sets result.unit."""
    if card.source != Source.OTLP_METRIC:
        parts = _parts(card, workspace, start, end, raw_bucket, daily_bucket, **part_options)
        return _aggregate(card, parts, has_breakdown, rank_bucket)
    spec = SOURCES[card.source]
    rows = spec.queryset(workspace).filter(name=card.metric_name, observed_at__gte=start, observed_at__lt=end)
    rows, wanted = _all_match(rows, spec, card.filters or [], "f")
    breakdown = spec.resolve(_breakdown(card)) if has_breakdown else None
    rows, result.unit = otlp_cards.aggregate(card, rows.filter(wanted), raw_bucket, breakdown)
    return rows


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


def _rank_sql(aggregation, bucket=None):
    """Top N by the figure itself where groups add up to a whole; else by how many rows they hold. Over
    every bucket, or over one (an int)."""

    def of(column):
        return column if bucket is None else f"(CASE WHEN b = {int(bucket)} THEN {column} END)"

    if aggregation == Aggregation.SUM:
        return f"COALESCE(SUM({of('v')}), 0)"
    if aggregation == Aggregation.DISTINCT_COUNT:
        return f"COUNT(DISTINCT {of('d')})"
    return f"COALESCE(SUM({of('n')}), 0)"


# The outer query is assembled from the fixed fragments below and from the ORM's own SQL; every value
# that comes from a card or from data travels as a query parameter of the inner query.
TOP_GROUPS = "top AS (SELECT g, ROW_NUMBER() OVER (ORDER BY {rank} DESC, {tie}) AS r FROM base GROUP BY g)"
GROUPED_TOP = (
    "grouped AS (SELECT base.b AS b, top.g AS g, top.r AS r, base.c AS c, base.v AS v, base.k AS k, "
    "base.d AS d, base.n AS n FROM base LEFT JOIN top ON top.g = base.g AND top.r <= {limit})"
)
GROUPED_ALL = "grouped AS (SELECT b, g, 1 AS r, c, v, k, d, n FROM base)"
RANKED = (
    "ROW_NUMBER() OVER (PARTITION BY b, g ORDER BY {value} IS NULL, {value}) - 1 AS {rank}, "
    "COUNT({value}) OVER (PARTITION BY b, g) AS {count}"
)
# n: how many rows a base row stands for (1, or the events of a roll-up row).
OUTER = (
    "WITH {ctes} SELECT b, g, MAX(r), SUM(n), SUM(c * n), SUM(k), {value}, {subset} FROM {rows} GROUP BY b, g"
)


def _aggregate(card, parts, has_breakdown, rank_bucket=None):
    """Run the outer query over the union of the parts; rows of (bucket, group, rank, rows, hits,
    skipped, value, subset value). The top groups are those of every bucket, or of `rank_bucket`."""
    connection = connections[parts[0].db]
    vendor = connection.vendor
    compiled = [part.query.sql_with_params() for part in parts]
    inner = " UNION ALL ".join(sql for sql, _ in compiled)
    params = tuple(param for _, part_params in compiled for param in part_params)
    aggregation = card.aggregation
    subset = card.kind == Kind.RATE and aggregation not in COUNTING
    ctes = [f"base AS ({inner})"]
    if has_breakdown:
        rank = _rank_sql(aggregation, rank_bucket)
        ctes.append(TOP_GROUPS.format(rank=rank, tie=group_sort(vendor, "g")))
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
        # Whole days are wholly in one period or the other: the day that holds the start is split.
        daily = Case(When(day__gte=_next_midnight(period.start).date(), then=Value(1)), default=Value(0))
        rows = _card_rows(
            card, workspace, previous.start, period.end, current, daily, False, result, cuts=[period.start]
        )
        cells = {row[0]: _cell(row) for row in rows}
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

    has_breakdown = bool(card.breakdown and spec.resolve(card.breakdown))
    if card.kind in CHARTS:
        result.bucket = fitting_bucket(period, card.bucket)
        result.buckets = bucket_starts(period, result.bucket)
        start = result.buckets[0] if result.buckets else period.start
        raw, daily = BucketStart(time, result.bucket), BucketStart("day", result.bucket)
        # Buckets of a day or longer start at midnight: no day of the range is split.
        rows = _card_rows(
            card, workspace, start, period.end, raw, daily, has_breakdown, result, bucket=result.bucket
        )
    else:
        start = period.start
        zero = Value(0, IntegerField())
        rows = _card_rows(card, workspace, start, period.end, zero, zero, has_breakdown, result)
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
                    group if has_breakdown else None,
                )
                for group in order
            ]
        return result

    result.series = [
        Series(
            _label(group, has_breakdown, card),
            [_number(_figure(card.aggregation, cells.get((moment, group)))) for moment in result.buckets],
            group is None,
            group if has_breakdown else None,
        )
        for group in order
    ] or [Series(_label("", False, card), [_number(_figure(card.aggregation, None)) for _ in result.buckets])]
    return result


def window_values(card, workspace, start, end):
    """A card's value over [start, end) for each of its breakdown's top values ({"": value} without a
    breakdown): what a monitor watches (metrics.monitors). The card's kind is not read: the value is its
    aggregation's, as a number card shows it. "Other" is left out. Hits the database once."""
    return window_series(card, workspace, start, end - start, 1)[0]


def window_series(card, workspace, start, width, count):
    """`window_values` of `count` windows of `width` one after the other from `start`, in order, in one
    query: what a spike monitor compares. The breakdown's top values are those of the last window, as
    `window_values` of it alone has them (those of every window for OTLP metric points, which rank in
    their own query). Whole days inside one window come from the daily roll-ups where the card has them."""
    spec = SOURCES[card.source]
    has_breakdown = bool(card.breakdown and spec.resolve(card.breakdown))
    result = CardResult(kind=Kind.PIE, aggregation=card.aggregation, unit="", period=None)
    # The times between two windows; a day one of them falls within is read from the rows.
    cuts = [start + width * n for n in range(1, count)]
    raw = _window_of(spec.time_field, cuts)
    daily = _window_of("day", [_midnight(cut).date() for cut in cuts])
    end = start + width * count
    rows = _card_rows(
        card, workspace, start, end, raw, daily, has_breakdown, result, rank_bucket=count - 1, cuts=cuts
    )
    windows = [{} for _ in range(count)]
    for row in rows:
        if row[1] is not None:
            windows[int(row[0])][row[1]] = _number(_figure(card.aggregation, _cell(row)))
    if not has_breakdown:
        for values in windows:
            values.setdefault("", _number(_figure(card.aggregation, None)))
    return windows


def _window_of(field, cuts):
    """Which window a row's `field` falls in: the number of cuts at or before it. A day the roll-ups
    answer is wholly on one side of every cut, so `day < the cut's UTC day` tells its side too."""
    return Case(
        *(When(**{f"{field}__lt": cut}, then=Value(n)) for n, cut in enumerate(cuts)),
        default=Value(len(cuts)),
        output_field=IntegerField(),
    )


def _cell(row):
    _, _, _, rows, hits, skipped, value, subset = row
    return Cell(int(rows), int(hits or 0), int(skipped or 0), _number(value), _number(subset))


def _label(group, has_breakdown, card):
    if not has_breakdown:
        return Aggregation(card.aggregation).label
    if group is None:
        return "Other"
    return group or "(not set)"
