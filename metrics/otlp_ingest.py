"""OTLP metrics → metric_points: the data points of an ExportMetricsServiceRequest, checked one by one.

Sums, gauges and histograms are stored whole; exponential histograms keep their count, sum, min and
max (not their buckets, so percentile cards leave them out); summaries are rejected (the OTLP spec keeps
them for compatibility only). A point that breaks a rule is rejected alone, named in the answer's
partial_success; the others of its batch are stored. A point whose series already has a point at that
time is a duplicate: skipped, neither stored again nor rejected.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Max, Q

from traces.ingest.checks import time_problem
from traces.ingest.otlp import TooDeep, attributes, timestamp
from traces.ingest.policy import make_storable
from traces.locks import lock_workspace

from .models import MetricPoint, MetricType, Temporality

NAME_CHARS = 200
UNIT_CHARS = 64
# How many rejected points the partial-success message names; the count covers all of them.
REASONS_SHOWN = 5
NO_RECORDED_VALUE = 1  # DataPointFlags: the point stands for a series that has stopped
TEMPORALITIES = {1: Temporality.DELTA, 2: Temporality.CUMULATIVE}
# Rows per query when looking up the previous points of cumulative series.
LOOKUP_CHUNK = 300
COUNT_MAX = 2**63 - 1  # a bigint column


class BadPoint(Exception):
    """A point that cannot be stored; the message names its field."""


@dataclass
class Outcome:
    rejected: list = field(default_factory=list)  # (where, reason)
    rejected_points: int = 0

    def reject(self, where, reason, points=1):
        """A metric without points is still named (a warning, in OTLP terms), and counts none."""
        self.rejected.append((where, reason))
        self.rejected_points += points

    @property
    def error_message(self):
        shown = [f"{where}: {reason}" for where, reason in self.rejected[:REASONS_SHOWN]]
        more = len(self.rejected) - len(shown)
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def ingest_metrics(workspace, request):
    """Store the points of an ExportMetricsServiceRequest; returns the Outcome. One transaction."""
    outcome, points = Outcome(), {}
    for point in read_points(request, outcome):
        points.setdefault((point.series, point.observed_at), point)  # the first of equal points is kept
    with transaction.atomic():
        lock_workspace(workspace)
        points = list(points.values())
        for point in points:
            point.workspace = workspace
        set_periods(workspace, points)
        MetricPoint.objects.bulk_create(points, batch_size=500, ignore_conflicts=True)
    return outcome


def read_points(request, outcome):
    for r, resource_metrics in enumerate(request.resource_metrics):
        try:
            resource, problem = make_storable(attributes(resource_metrics.resource.attributes)), None
        except TooDeep as exc:
            resource, problem = {}, f"resource.attributes.{exc}"
        for s, scope_metrics in enumerate(resource_metrics.scope_metrics):
            for m, metric in enumerate(scope_metrics.metrics):
                where = f"resource_metrics.{r}.scope_metrics.{s}.metrics.{m} ({metric.name[:NAME_CHARS]!r})"
                yield from read_metric(metric, resource, problem, where, outcome)


def read_metric(metric, resource, problem, where, outcome):
    kind = metric.WhichOneof("data")
    data = getattr(metric, kind) if kind else None
    raws = list(data.data_points) if data is not None else []
    problem = problem or metric_problem(metric, kind)
    temporality = TEMPORALITIES.get(getattr(data, "aggregation_temporality", 0), Temporality.NONE)
    if not problem and kind != MetricType.GAUGE and not temporality:
        problem = "aggregation_temporality: unspecified"
    if problem:
        outcome.reject(where, problem, points=len(raws))
        return
    for index, raw in enumerate(raws):
        if raw.flags & NO_RECORDED_VALUE:
            continue
        try:
            point = read_point(kind, raw)
            point.attributes = make_storable(attributes(raw.attributes))
        except TooDeep as exc:
            outcome.reject(f"{where}.data_points.{index}", f"attributes.{exc}")
            continue
        except BadPoint as exc:
            outcome.reject(f"{where}.data_points.{index}", str(exc))
            continue
        point.name, point.unit, point.type = metric.name, metric.unit, kind
        point.temporality = temporality
        point.monotonic = data.is_monotonic if kind == MetricType.SUM else None
        point.resource = resource
        point.series = series_key(point)
        yield point


def metric_problem(metric, kind):
    if not metric.name.strip():
        return "name: missing"
    if len(metric.name) > NAME_CHARS:
        return f"name: longer than {NAME_CHARS} characters"
    if len(metric.unit) > UNIT_CHARS:
        return f"unit: longer than {UNIT_CHARS} characters"
    if make_storable(metric.name) != metric.name or make_storable(metric.unit) != metric.unit:
        return "name: holds a NUL character or a lone surrogate"
    if kind is None:
        return "data: none of gauge, sum, histogram, exponential_histogram"
    if kind == "summary":
        return "summary: not supported (OTLP keeps it for compatibility only); send a histogram"
    return None


def moment(name, nanos, required=True):
    if not nanos:
        if required:
            raise BadPoint(f"{name}: missing")
        return None
    try:
        value = timestamp(nanos)
    except OverflowError:
        value = None
    reason = time_problem(value) if value else "must be between 1970-01-01 and 2200-01-01 UTC"
    if reason:
        raise BadPoint(f"{name}: {reason}")
    return value


def finite(name, value):
    if not math.isfinite(value):
        raise BadPoint(f"{name}: {value} is not a finite number")
    return value


def read_point(kind, raw):
    point = MetricPoint(
        started_at=moment("start_time_unix_nano", raw.start_time_unix_nano, required=False),
        observed_at=moment("time_unix_nano", raw.time_unix_nano),
    )
    if kind in (MetricType.SUM, MetricType.GAUGE):
        which = raw.WhichOneof("value")
        if which is None:
            raise BadPoint("value: missing (as_double or as_int)")
        point.value = finite(which, float(getattr(raw, which)))
        return point
    if raw.count > COUNT_MAX:
        raise BadPoint(f"count: {raw.count} is larger than {COUNT_MAX}")
    point.count = raw.count
    point.total = finite("sum", raw.sum) if raw.HasField("sum") else None
    point.minimum = finite("min", raw.min) if raw.HasField("min") else None
    point.maximum = finite("max", raw.max) if raw.HasField("max") else None
    if kind == MetricType.HISTOGRAM:
        point.bounds, point.bucket_counts = read_buckets(raw)
    return point


def read_buckets(raw):
    bounds, counts = list(raw.explicit_bounds), list(raw.bucket_counts)
    if not counts and not bounds:
        return None, None
    if len(counts) != len(bounds) + 1:
        raise BadPoint(
            f"bucket_counts: {len(counts)} counts for {len(bounds)} explicit_bounds (must be one more)"
        )
    for index, bound in enumerate(bounds):
        finite(f"explicit_bounds.{index}", bound)
        if index and bound <= bounds[index - 1]:
            raise BadPoint(f"explicit_bounds.{index}: {bound} does not increase")
    if sum(counts) != raw.count:
        raise BadPoint(f"count: {raw.count} is not the sum of bucket_counts ({sum(counts)})")
    return bounds, counts


def series_key(point):
    identity = [point.name, point.type, point.unit, point.temporality, point.resource, point.attributes]
    text = json.dumps(identity, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# -- what a point adds over its interval ----------------------------------------------------------


def set_periods(workspace, points):
    """Fill the period_* fields. A cumulative point is compared with the previous point of its series:
    the one before it in this batch, else the latest stored before it."""
    cumulative = sorted(
        (p for p in points if p.temporality == Temporality.CUMULATIVE),
        key=lambda p: (p.series, p.observed_at),
    )
    previous = stored_previous(workspace, cumulative)
    last = {}
    for point in points:
        if point.temporality != Temporality.CUMULATIVE:
            point.period_value, point.period_count, point.period_total = point.value, point.count, point.total
            point.period_bucket_counts = point.bucket_counts
    for point in cumulative:
        set_increase(point, last.get(point.series) or previous.get(point.series))
        last[point.series] = point


def stored_previous(workspace, cumulative):
    """{series: its latest stored point before its first point in this batch}. Two queries a chunk."""
    first = {}
    for point in cumulative:
        first.setdefault(point.series, point.observed_at)
    found = {}
    items = list(first.items())
    for start in range(0, len(items), LOOKUP_CHUNK):
        chunk = items[start : start + LOOKUP_CHUNK]
        rows = MetricPoint.objects.filter(workspace=workspace)
        latest = (
            rows.filter(reduce(or_, (Q(series=series, observed_at__lt=time) for series, time in chunk)))
            .values("series")
            .annotate(last=Max("observed_at"))
            .values_list("series", "last")
        )
        latest = list(latest)
        if latest:
            wanted = reduce(or_, (Q(series=series, observed_at=time) for series, time in latest))
            found.update((point.series, point) for point in rows.filter(wanted))
    return found


def set_increase(point, before):
    """The increase since `before`; the whole point after a reset (a new start time, or a count
    that went down) or when the series has no earlier point."""
    reset = (
        before is None
        or (point.started_at and before.started_at and point.started_at != before.started_at)
        or (point.monotonic and before.value is not None and point.value < before.value)
        or (point.count is not None and (before.count is None or point.count < before.count))
    )
    counts_match = (
        point.bucket_counts is not None
        and before is not None
        and before.bounds == point.bounds
        and before.bucket_counts is not None
    )
    if reset or (point.bucket_counts is not None and not counts_match):
        point.period_value, point.period_count, point.period_total = point.value, point.count, point.total
        point.period_bucket_counts = point.bucket_counts
        return
    point.period_value = None if point.value is None else point.value - before.value
    point.period_count = None if point.count is None else point.count - before.count
    point.period_total = None if point.total is None or before.total is None else point.total - before.total
    if point.bucket_counts is not None:
        point.period_bucket_counts = [
            now - then for now, then in zip(point.bucket_counts, before.bucket_counts, strict=True)
        ]
