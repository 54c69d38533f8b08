"""The waterfall of a run: one bar per task at its start offset, in the Tasks tab's tree pages.

Rows come from traces.task_tree (500 tasks a keyset page, in tree order, with their depth), so a run
of 10,000 tasks shows its first 500 and more on demand. Every page shares one time axis: the span
of the run and of all its tasks, read in one aggregate query.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Max, Min
from django.utils import timezone

from traces.durations import duration
from traces.models import ModelCall, Task
from traces.task_tree import TreeRow

MIN_BAR_PERCENT = 0.25  # a task of a few microseconds still shows as a sliver


@dataclass
class Axis:
    start: datetime  # the axis' zero
    span_ms: float  # the axis' length

    def offset(self, moment):
        return (moment - self.start).total_seconds() * 1000

    def percent(self, ms):
        return max(min(ms / self.span_ms * 100, 100), 0)


@dataclass
class Bar:
    row: TreeRow
    offset_ms: float | None
    duration_ms: float | None
    left: float  # percent of the axis
    width: float
    open_ended: bool  # still running: the bar runs to the end of the axis
    calls: list[dict] = field(default_factory=list)

    @property
    def task(self):
        return self.row.task

    @property
    def start_label(self):
        return duration(round(self.offset_ms))

    @property
    def duration_label(self):
        return duration(round(self.duration_ms)) if self.duration_ms is not None else "—"

    @property
    def end(self):
        return round(self.left + self.width, 3)

    @property
    def label_place(self):
        """Where the duration is written: right of the bar, else left of it, else (a bar spanning the
        axis) inside it, where it never runs into the task's label or status."""
        if self.left + self.width < 82:
            return "after"
        return "before" if self.left > 18 else "inside"


def axis(run):
    """From the run's start (or its earliest task) to its end, its latest task, or now while live."""
    times = Task.objects.filter(run=run).aggregate(
        first=Min("started_at"), last_end=Max("ended_at"), last_start=Max("started_at")
    )
    start = min(t for t in (run.started_at, times["first"]) if t is not None)
    end = max(
        t for t in (run.started_at, run.ended_at, times["last_end"], times["last_start"]) if t is not None
    )
    if run.is_live:
        end = max(end, timezone.now())
    return Axis(start=start, span_ms=max((end - start).total_seconds() * 1000, 1))


def bars(run, axis, rows):
    """The bars of a page of tree rows, with the page's model calls marked on them: one query."""
    calls = defaultdict(list)
    for call in (
        ModelCall.objects.filter(run=run, task_id__in=[row.task.pk for row in rows])
        .order_by("created_at", "id")
        .values("task_id", "created_at", "model", "total_tokens", "latency_ms")
    ):
        calls[call["task_id"]].append(
            {
                "at": axis.percent(axis.offset(call["created_at"])),
                "title": " · ".join(
                    (call["model"], f"{call['total_tokens']:,} tokens", duration(call["latency_ms"]))
                ),
            }
        )
    return [bar(row, axis, calls[row.task.pk]) for row in rows]


def bar(row, axis, calls):
    task = row.task
    if task.started_at is None:
        return Bar(row, None, None, 0, 0, False, calls)
    start = axis.offset(task.started_at)
    open_ended = task.ended_at is None
    length = (axis.span_ms if open_ended else axis.offset(task.ended_at)) - start
    width = max(axis.percent(length), MIN_BAR_PERCENT)
    left = min(axis.percent(start), 100 - width)
    return Bar(
        row=row,
        offset_ms=start,
        duration_ms=length if open_ended or task.duration_ms is None else task.duration_ms,
        left=round(left, 3),
        width=round(width, 3),
        open_ended=open_ended,
        calls=calls,
    )


SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000
# Steps a clock reader finds round: decimal below a second, then the clock's own divisions.
TICK_STEPS = (
    [m * 10**e for e in range(3) for m in (1, 2, 5)]
    + [s * SECOND for s in (1, 2, 5, 10, 15, 30)]
    + [m * MINUTE for m in (1, 2, 5, 10, 15, 30)]
    + [h * HOUR for h in (1, 2, 3, 6, 12)]
    + [d * DAY for d in (1, 2, 7, 14, 30)]
)


def ticks(span_ms, wanted=6):
    """Round times along the axis: [(percent, label, text anchor)]."""
    raw = span_ms / wanted
    step = next((s for s in TICK_STEPS if s >= raw), None)
    if step is None:  # longer than months: whole multiples of the longest step
        step = TICK_STEPS[-1] * math.ceil(raw / TICK_STEPS[-1])
    marks, at = [], 0
    while at <= span_ms + 1e-9:
        where = round(at / span_ms * 100, 3)
        anchor = "start" if where < 4 else "end" if where > 94 else "middle"
        marks.append((where, tick_label(at, step), anchor))
        at += step
    return marks


def tick_label(ms, step):
    """0, 250 ms, 1.5 s, 20 s, 10 m, 1 h, 1 h 30 m, 2 d 12 h: in the unit of the step."""
    if not ms:
        return "0"
    if step < SECOND:
        return f"{ms:.0f} ms" if ms < SECOND else f"{ms / SECOND:g} s"
    if step < MINUTE:
        return f"{ms / SECOND:g} s" if ms < MINUTE else two_units(ms, MINUTE, "m", SECOND, "s")
    if step < HOUR:
        return f"{ms // MINUTE} m" if ms < HOUR else two_units(ms, HOUR, "h", MINUTE, "m")
    if step < DAY:
        return f"{ms // HOUR} h" if ms < DAY else two_units(ms, DAY, "d", HOUR, "h")
    return f"{ms // DAY} d"


def two_units(ms, big, big_name, small, small_name):
    """1 h, 1 h 30 m: the smaller unit only when it is not zero."""
    rest = ms % big // small
    return f"{ms // big} {big_name}" + (f" {rest} {small_name}" if rest else "")
