"""The waterfall of a run: one bar per task, in tree order, on the run's own time axis.

A run may have 10,000 tasks, so rows come in pages of PAGE_SIZE. The page is found on a narrow
skeleton of the run's tasks (ids, parents and times, no payloads): it gives the tree order, each
task's depth and the span of the axis, so every page shares the same scale. The cursor is the step
id of the last row shown.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from traces.models import ModelCall, Task

from .format import duration

PAGE_SIZE = 500
MIN_BAR_PERCENT = 0.25  # a task of a few microseconds still shows as a sliver


@dataclass
class Skeleton:
    order: list[tuple[int, str, int]]  # (task id, step id, depth) in tree order
    start: object  # the axis' zero
    span_ms: float  # the axis' length


@dataclass
class Bar:
    task: Task
    depth: int
    offset_ms: float | None
    duration_ms: float | None
    left: float  # percent of the axis
    width: float
    label_after: bool  # the duration fits to the right of the bar, else it goes on its left
    open_ended: bool  # still running: the bar runs to the end of the axis
    calls: list[dict] = field(default_factory=list)

    @property
    def indent(self):
        return min(self.depth, 12)

    @property
    def start_label(self):
        return duration(self.offset_ms)

    @property
    def duration_label(self):
        return duration(self.duration_ms)

    @property
    def end(self):
        return round(self.left + self.width, 3)


def skeleton(run):
    """One narrow query: the run's tasks in tree order with their depth, and the axis."""
    rows = list(
        Task.objects.filter(run=run)
        .order_by("sequence", "id")
        .values_list("id", "step_id", "parent_id", "started_at", "ended_at")
    )
    ids = {row[0] for row in rows}
    children = defaultdict(list)
    for row in rows:
        children[row[2] if row[2] in ids else None].append(row)
    order, seen = [], set()
    stack = [(row, 0) for row in reversed(children[None])]
    while stack:
        (task_id, step_id, *_), depth = stack.pop()
        if task_id in seen:
            continue
        seen.add(task_id)
        order.append((task_id, step_id, depth))
        stack.extend((child, depth + 1) for child in reversed(children[task_id]))
    # Tasks in a circle of parents never hang from the top: show them at the end rather than lose them.
    order.extend((row[0], row[1], 0) for row in rows if row[0] not in seen)

    times = [t for row in rows for t in row[3:5] if t is not None]
    start = min([run.started_at, *times])
    end = max([run.ended_at or run.started_at, *times])
    if run.is_live:
        end = max(end, timezone.now())
    return Skeleton(order=order, start=start, span_ms=max((end - start).total_seconds() * 1000, 1))


def page_after(shape, after):
    """The rows after the step id `after` (from the top when empty) and the next cursor, or None.

    Raises LookupError when the run has no task `after`.
    """
    begin = 0
    if after:
        begin = next((i + 1 for i, (_, step_id, _) in enumerate(shape.order) if step_id == after), None)
        if begin is None:
            raise LookupError(after)
    rows = shape.order[begin : begin + PAGE_SIZE]
    more = begin + PAGE_SIZE < len(shape.order)
    return rows, (rows[-1][1] if more and rows else None)


def bars(run, shape, rows):
    """Two queries: the page's tasks, and their model calls to mark on the bars."""
    ids = [task_id for task_id, _, _ in rows]
    tasks = Task.objects.filter(run=run, id__in=ids).only(
        "id", "step_id", "name", "type", "status", "started_at", "ended_at", "duration_ms", "total_tokens"
    )
    by_id = {task.id: task for task in tasks}
    calls = defaultdict(list)
    for call in (
        ModelCall.objects.filter(run=run, task_id__in=ids)
        .order_by("created_at", "id")
        .values("task_id", "created_at", "model", "total_tokens", "latency_ms")
    ):
        calls[call["task_id"]].append(call)
    result = []
    for task_id, _, depth in rows:
        task = by_id.get(task_id)
        if task is not None:
            result.append(bar(task, depth, shape, calls[task_id]))
    return result


def offset(shape, moment):
    return (moment - shape.start).total_seconds() * 1000


def percent_of(shape, ms):
    return max(min(ms / shape.span_ms * 100, 100), 0)


def bar(task, depth, shape, calls):
    start = offset(shape, task.started_at) if task.started_at else None
    if task.ended_at and task.started_at:
        length, open_ended = offset(shape, task.ended_at) - start, False
    elif start is not None:
        length, open_ended = shape.span_ms - start, True
    else:
        length, open_ended = None, False
    left = percent_of(shape, start) if start is not None else 0
    width = max(percent_of(shape, length or 0), MIN_BAR_PERCENT) if start is not None else 0
    marks = [
        {
            "at": percent_of(shape, offset(shape, call["created_at"])),
            "title": f"{call['model']} · {call['total_tokens']:,} tokens · {duration(call['latency_ms'])}",
        }
        for call in calls
    ]
    return Bar(
        task=task,
        depth=depth,
        offset_ms=start,
        duration_ms=task.duration_ms if not open_ended else length,
        left=round(min(left, 100 - width), 3),
        width=round(width, 3),
        label_after=left + width < 82,
        open_ended=open_ended,
        calls=marks,
    )


def ticks(span_ms, wanted=6):
    """Round times along the axis: [(percent, label, text anchor)]."""
    raw = span_ms / wanted
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), 10 * magnitude)
    marks, at = [], 0.0
    while at <= span_ms + 1e-9:
        where = round(at / span_ms * 100, 3)
        anchor = "start" if where < 4 else "end" if where > 94 else "middle"
        marks.append((where, tick_label(at, step), anchor))
        at += step
    return marks


def tick_label(ms, step):
    """0, 250 ms, 2 s, 1.5 s, 3 m: as many decimals as the step needs."""
    if not ms:
        return "0"
    if step < 1000:
        return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:g} s"
    if ms < 60_000 or step < 60_000:
        return f"{ms / 1000:g} s"
    return f"{ms / 60_000:g} m"
