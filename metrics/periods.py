"""Time ranges and buckets: which rows a card reads, and the bucket starts of its charts (UTC)."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from .models import Bucket, TimeRange

RANGE_LENGTHS = {
    TimeRange.HOUR: timedelta(hours=1),
    TimeRange.DAY: timedelta(hours=24),
    TimeRange.WEEK: timedelta(days=7),
    TimeRange.MONTH: timedelta(days=30),
    TimeRange.QUARTER: timedelta(days=90),
}
COARSER = {Bucket.HOUR: Bucket.DAY, Bucket.DAY: Bucket.WEEK, Bucket.WEEK: Bucket.MONTH}
# More points than this makes a chart unreadable (and the query needlessly wide): coarsen the bucket.
MAX_BUCKETS = 400


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    label: str

    @property
    def length(self):
        return self.end - self.start

    def previous(self):
        return Period(self.start - self.length, self.start, "previous period")


def period_for(time_range, custom_start=None, custom_end=None, now=None):
    """[start, end) of a range: the last hour/day/… up to now, or whole custom days."""
    if time_range == TimeRange.CUSTOM:
        start = datetime.combine(custom_start, time.min, tzinfo=UTC)
        end = datetime.combine(custom_end + timedelta(days=1), time.min, tzinfo=UTC)
        return Period(start, end, f"{custom_start:%b %-d, %Y} – {custom_end:%b %-d, %Y}")
    end = now or datetime.now(UTC)
    return Period(end - RANGE_LENGTHS[time_range], end, TimeRange(time_range).label)


def floor(moment, bucket):
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == Bucket.HOUR:
        return moment
    moment = moment.replace(hour=0)
    if bucket == Bucket.WEEK:
        return moment - timedelta(days=moment.weekday())
    if bucket == Bucket.MONTH:
        return moment.replace(day=1)
    return moment


def step(moment, bucket):
    if bucket == Bucket.HOUR:
        return moment + timedelta(hours=1)
    if bucket == Bucket.DAY:
        return moment + timedelta(days=1)
    if bucket == Bucket.WEEK:
        return moment + timedelta(days=7)
    return (moment.replace(day=28) + timedelta(days=4)).replace(day=1)


def bucket_starts(period, bucket):
    """The starts of the buckets that cover the period, from the one holding its start."""
    starts = []
    moment = floor(period.start, bucket)
    while moment < period.end:
        starts.append(moment)
        moment = step(moment, bucket)
    return starts


def fitting_bucket(period, bucket):
    """The card's bucket, or a coarser one when it would draw more than MAX_BUCKETS points."""
    while bucket in COARSER and len(bucket_starts(period, bucket)) > MAX_BUCKETS:
        bucket = COARSER[bucket]
    return bucket
