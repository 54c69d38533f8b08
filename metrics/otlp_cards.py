"""Cards over OTLP metric points: sum, average, last value and percentiles of one metric, in one query.

metrics.engine hands over the points of the card's metric in its range (filters applied) and the
bucket and breakdown expressions; this runs the query and answers the rows the engine reads for every
source: (bucket, group, rank, points, 0, skipped, value, None), at most buckets × (N + 1).

What each aggregation means for a point (its `period_*` fields: what it adds over its interval):
- sum: the values of sums and gauges, the sum of the observations of histograms;
- average: of the values, or of the observations (sum of sums ÷ sum of counts);
- last value: each series' latest value in the bucket as sent (a cumulative sum's running total; a
  histogram's mean), added up across the series of the group;
- percentiles: from the histograms' bucket counts, added up per bound, interpolated linearly inside
  the bucket that holds the rank. The first bucket starts at the smallest value observed (`min`) when
  points send it, else at 0; the overflow bucket ends at the largest observed (`max`), else at its lower
  bound. Points without buckets (sums, gauges, exponential histograms) are counted as skipped.
"""

from django.db import connections
from django.db.models import Case, F, FloatField, TextField, Value, When
from django.db.models.functions import Cast, Coalesce, NullIf

from .models import Aggregation
from .sql import group_sort

PERCENTILES = {Aggregation.P50: 0.5, Aggregation.P90: 0.9, Aggregation.P95: 0.95, Aggregation.P99: 0.99}
AGGREGATIONS = {Aggregation.SUM, Aggregation.AVG, Aggregation.LAST, *PERCENTILES}
# OTLP units (UCUM) shown in a unit the cards format; seconds become milliseconds.
UNITS = {"ms": ("ms", 1), "s": ("ms", 1000)}

TOP = "top AS (SELECT g, ROW_NUMBER() OVER (ORDER BY {rank} DESC, {tie}) AS r FROM base GROUP BY g)"
GROUPED_TOP = (
    "grouped AS (SELECT base.*, top.r AS r, top.g AS tg FROM base "
    "LEFT JOIN top ON top.g = base.g AND top.r <= {limit})"
)
GROUPED_ALL = "grouped AS (SELECT base.*, 1 AS r, base.g AS tg FROM base)"
SUMMARY = "SELECT b, tg, MAX(r), COUNT(*), 0, SUM(k), {value}, MAX(u) FROM {rows} GROUP BY b, tg"
LATEST = (
    "latest AS (SELECT grouped.*, ROW_NUMBER() OVER (PARTITION BY b, tg, s ORDER BY t DESC) AS o "
    "FROM grouped)"
)
BUCKETS = (
    "summary AS (SELECT b, tg, MAX(r) AS r, COUNT(*) AS pts, SUM(k) AS skp, MIN(mn) AS mn, MAX(mx) AS mx, "
    "MAX(u) AS u FROM grouped GROUP BY b, tg)",
    "buckets AS (SELECT grouped.b AS b, grouped.tg AS tg, {le} AS le, SUM({n}) AS n FROM grouped {explode} "
    "GROUP BY grouped.b, grouped.tg, {le})",
)
# Per bucket and group: its points, then each bound's count (none for groups without histograms).
BUCKET_ROWS = (
    "SELECT summary.b, summary.tg, summary.r, summary.pts, summary.skp, summary.mn, summary.mx, summary.u, "
    "buckets.le, buckets.n FROM summary LEFT JOIN buckets "
    "ON buckets.b = summary.b AND buckets.tg {same} summary.tg"
)
# A histogram's bucket counts as rows (its index → its upper bound; past the bounds, the overflow bucket).
EXPLODE = {
    "postgresql": {
        "explode": (
            "CROSS JOIN LATERAL jsonb_array_elements_text(grouped.co) WITH ORDINALITY AS e(value, key)"
        ),
        "le": "(grouped.bo ->> (e.key - 1)::int)::double precision",
        "n": "e.value::bigint",
        "same": "IS NOT DISTINCT FROM",
    },
    "sqlite": {
        "explode": "CROSS JOIN json_each(grouped.co) AS e",
        "le": "json_extract(grouped.bo, '$[' || e.key || ']')",
        "n": "e.value",
        "same": "IS",
    },
}


def base_rows(card, rows, bucket_expr, breakdown):
    group = Value("", output_field=TextField())
    if breakdown is not None:
        group = Coalesce(breakdown.text(), Value(""), output_field=TextField())
    no_buckets = Case(When(period_bucket_counts__isnull=True, then=Value(1)), default=Value(0))
    return rows.order_by().values(
        b=bucket_expr,
        g=group,
        s=F("series"),
        t=F("observed_at"),
        u=F("unit"),
        v=Coalesce(F("period_value"), F("period_total")),
        # An average weighs a value as one, a histogram as its observations.
        w=Case(
            When(period_value__isnull=False, then=Value(1.0)),
            default=Cast(F("period_count"), FloatField()),
            output_field=FloatField(),
        ),
        lv=Coalesce(F("value"), F("total") / NullIf(Cast(F("count"), FloatField()), 0.0)),
        k=no_buckets if card.aggregation in PERCENTILES else Value(0),
        bo=F("bounds"),
        co=F("period_bucket_counts"),
        mn=F("minimum"),
        mx=F("maximum"),
    )


def aggregate(card, rows, bucket_expr, breakdown):
    """(the engine's rows for the card, the unit its values are in). One query."""
    base = base_rows(card, rows, bucket_expr, breakdown)
    connection = connections[base.db]
    vendor = connection.vendor
    inner, params = base.query.sql_with_params()
    ctes = [f"base AS ({inner})"]
    if breakdown is not None:
        rank = "COALESCE(SUM(v), 0)" if card.aggregation == Aggregation.SUM else "COALESCE(SUM(w), 0)"
        ctes.append(TOP.format(rank=rank, tie=group_sort(vendor, "g")))
        ctes.append(GROUPED_TOP.format(limit=int(card.breakdown_limit)))
    else:
        ctes.append(GROUPED_ALL)
    percentile = card.aggregation in PERCENTILES
    if percentile:
        ctes.extend(cte.format(**EXPLODE[vendor]) for cte in BUCKETS)
        sql = BUCKET_ROWS.format(**EXPLODE[vendor])
    elif card.aggregation == Aggregation.LAST:
        ctes.append(LATEST)
        sql = SUMMARY.format(value="SUM(CASE WHEN o = 1 THEN lv END)", rows="latest")
    else:
        value = "SUM(v)" if card.aggregation == Aggregation.SUM else "SUM(v) / NULLIF(SUM(w), 0)"
        sql = SUMMARY.format(value=value, rows="grouped")
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} {sql}", params)
        fetched = cursor.fetchall()
    if percentile:
        fetched = percentile_rows(PERCENTILES[card.aggregation], fetched)
    units = {row[-1] for row in fetched if row[-1] is not None}
    unit, scale = UNITS.get(units.pop(), ("", 1)) if len(units) == 1 else ("", 1)
    return [(*row[:6], None if row[6] is None else row[6] * scale, None) for row in fetched], unit


def percentile_rows(fraction, fetched):
    """One row per bucket and group from the rows of its histogram buckets."""
    cells = {}
    for b, g, r, points, skipped, low, high, unit, le, n in fetched:
        cell = cells.setdefault((b, g), [b, g, r, points, 0, skipped, low, high, unit, []])
        if n is not None:
            cell[9].append((None if le is None else float(le), int(n)))
    return [
        (b, g, r, points, hits, skipped, histogram_percentile(fraction, buckets, low, high), unit)
        for b, g, r, points, hits, skipped, low, high, unit, buckets in cells.values()
    ]


def histogram_percentile(fraction, buckets, low=None, high=None):
    """The percentile of observations counted in buckets [(upper bound, None for the overflow; count)],
    interpolated linearly within the bucket holding the rank (see the module's docstring)."""
    merged = {}
    for le, n in buckets:
        merged[le] = merged.get(le, 0) + n
    ordered = sorted(merged.items(), key=lambda item: (item[0] is None, item[0] or 0))
    total = sum(n for _, n in ordered)
    if total <= 0:
        return None
    rank = fraction * total
    below, previous = 0, None
    for le, n in ordered:
        if n > 0 and below + n >= rank:
            start = previous if previous is not None else first_edge(le, low, high)
            end = le if le is not None else (high if high is not None and high >= start else start)
            if start is None:
                return None
            return clamp(start + (end - start) * (rank - below) / n, low, high)
        below += max(n, 0)
        previous = le
    return clamp(previous, low, high)


def first_edge(le, low, high):
    if low is not None and (le is None or low <= le):
        return low
    if le is None:
        return high
    return min(0.0, le)


def clamp(value, low, high):
    if value is None:
        return None
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value
