"""A plain-Python reference of DESIGN §6, to check the SQL engine against on random data.

Rows are dicts: "time", one entry per column key of the source (numbers as Python numbers, text as
str or None), and "json" for the JSON properties/metadata.
"""

from metrics.engine import NEEDS_NUMBERS, PERCENTILES, as_number
from metrics.models import Aggregation, Kind
from metrics.periods import bucket_starts, fitting_bucket, period_for
from metrics.sources import SOURCES


def json_text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


class Reader:
    def __init__(self, source, key):
        self.prop = SOURCES[source].resolve(key)

    def raw(self, row):
        if self.prop.column:
            return row[self.prop.key]
        return row["json"].get(self.prop.json_key)

    def text(self, row):
        value = self.raw(row)
        if self.prop.column:
            return None if value is None else str(value)
        return json_text(value)

    def number(self, row):
        value = self.raw(row)
        return float(value) if is_number(value) else None

    def skipped(self, row):
        value = self.raw(row)
        return int(self.prop.column is None and value is not None and not is_number(value))


def matches(source, rule, row):
    reader = Reader(source, rule["property"])
    text, number, wanted = reader.text(row), reader.number(row), rule.get("value", "")
    operator = rule["operator"]
    if operator in ("eq", "ne"):
        if reader.prop.column and reader.prop.column.numeric and as_number(wanted) is not None:
            equal = number == as_number(wanted)
        else:
            equal = text == wanted or (as_number(wanted) is not None and number == as_number(wanted))
        return equal if operator == "eq" else not equal
    if operator == "contains":
        return text is not None and wanted.lower() in text.lower()
    if operator in ("gt", "gte", "lt", "lte"):
        if number is None:
            return False
        limit = as_number(wanted)
        return {
            "gt": number > limit,
            "gte": number >= limit,
            "lt": number < limit,
            "lte": number <= limit,
        }[operator]
    is_set = text not in (None, "")
    return is_set if operator == "set" else not is_set


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    share = position - low
    if low + 1 >= len(ordered) or share == 0:
        return ordered[low]
    return ordered[low] + (ordered[low + 1] - ordered[low]) * share


def figure(card, rows, subset=False):
    """The aggregation over a list of rows (all, or those meeting the condition)."""
    aggregation = card.aggregation
    if subset:
        rows = [row for row in rows if row["_cond"]]
    if aggregation == Aggregation.COUNT:
        return len(rows)
    if aggregation == Aggregation.RATE:
        return None
    reader = Reader(card.source, card.property)
    if aggregation == Aggregation.DISTINCT_COUNT:
        return len({reader.text(row) for row in rows} - {None})
    numbers = [reader.number(row) for row in rows]
    numbers = [number for number in numbers if number is not None]
    if aggregation == Aggregation.SUM:
        return float(sum(numbers))
    if not numbers:
        return None
    if aggregation == Aggregation.AVG:
        return sum(numbers) / len(numbers)
    if aggregation == Aggregation.MIN:
        return min(numbers)
    if aggregation == Aggregation.MAX:
        return max(numbers)
    return percentile(numbers, PERCENTILES[aggregation])


def rate(rows):
    return 100 * sum(row["_cond"] for row in rows) / len(rows) if rows else None


def value_of(card, rows):
    return rate(rows) if card.aggregation == Aggregation.RATE else _float(figure(card, rows))


def share(card, rows):
    if card.aggregation in (Aggregation.COUNT, Aggregation.RATE):
        numerator, denominator = sum(row["_cond"] for row in rows), len(rows)
    else:
        numerator, denominator = figure(card, rows, subset=True), figure(card, rows)
    if not denominator:
        return None
    return 100 * (numerator or 0) / denominator


def _float(value):
    return None if value is None else float(value)


def compute(card, all_rows, now):
    """Returns a dict with the same figures as metrics.engine.CardResult."""
    period = period_for(card.time_range, card.custom_start, card.custom_end, now)
    rows = [
        row
        for row in all_rows
        if card.source != "events" or not card.event_name or row["$name"] == card.event_name
    ]
    rows = [row for row in rows if all(matches(card.source, rule, row) for rule in card.filters)]
    for row in rows:
        row["_cond"] = (
            all(matches(card.source, rule, row) for rule in card.condition) if card.condition else False
        )
    skipped_reader = Reader(card.source, card.property) if card.aggregation in NEEDS_NUMBERS else None

    def within(start, end):
        return [row for row in rows if start <= row["time"] < end]

    def skipped(selected):
        return sum(skipped_reader.skipped(row) for row in selected) if skipped_reader else 0

    if card.kind in (Kind.NUMBER, Kind.RATE):
        current = within(period.start, period.end)
        before = within(period.start - period.length, period.start)
        if card.kind == Kind.RATE:
            value, previous = share(card, current), share(card, before)
        else:
            value, previous = value_of(card, current), value_of(card, before)
        return {"value": value, "previous": previous, "rows": len(current), "skipped": skipped(current)}

    if card.kind == Kind.PIE:
        start, buckets = period.start, [None]
    else:
        bucket = fitting_bucket(period, card.bucket)
        buckets = bucket_starts(period, bucket)
        start = buckets[0]
    selected = within(start, period.end)
    groups = {}
    if card.breakdown:
        reader = Reader(card.source, card.breakdown)
        for row in selected:
            groups.setdefault(reader.text(row) or "", []).append(row)
        ranked = sorted(groups, key=lambda group: (-_rank(card, groups[group]), group))
        top = ranked[: card.breakdown_limit]
        labels = [(group or "(not set)", [group]) for group in top]
        rest = ranked[card.breakdown_limit :]
        if rest:
            labels.append(("Other", rest))
        named = {label: [row for group in members for row in groups[group]] for label, members in labels}
    else:
        named = {Aggregation(card.aggregation).label: selected}

    if card.kind == Kind.PIE:
        if not card.breakdown and card.aggregation == Aggregation.RATE:
            hits = sum(row["_cond"] for row in selected)
            series = [("Meets the condition", [float(hits)]), ("Does not", [float(len(selected) - hits)])]
        else:
            series = [(label, [value_of(card, members)]) for label, members in named.items() if members]
        return {"series": series, "rows": len(selected), "skipped": skipped(selected)}

    def in_bucket(row, index):
        return (
            buckets[index] <= row["time"] < (buckets[index + 1] if index + 1 < len(buckets) else period.end)
        )

    series = [
        (
            label,
            [
                value_of(card, [row for row in members if in_bucket(row, index)])
                for index in range(len(buckets))
            ],
        )
        for label, members in named.items()
        if members or not card.breakdown
    ]
    if not series:
        series = [(Aggregation(card.aggregation).label, [value_of(card, []) for _ in buckets])]
    return {"buckets": buckets, "series": series, "rows": len(selected), "skipped": skipped(selected)}


def _rank(card, rows):
    if card.aggregation == Aggregation.SUM:
        return figure(card, rows)
    if card.aggregation == Aggregation.DISTINCT_COUNT:
        return figure(card, rows)
    return len(rows)
