"""Two runs side by side: their paths through the workflow, where they part, each step's figures and
the outputs diffed line by line (difflib; the page escapes every line).

A run's path is the trace its checkpoints sent, or else the names of its top-level tasks in order.
Steps are paired by name along the two task lists (difflib.SequenceMatcher over the names), so a
replay that took a detour still lines up with the original after it. At most STEPS tasks of each run
are read, so the page costs the same whatever the runs' size; it says when it stopped there.
"""

import difflib
import json
from dataclasses import dataclass, field
from itertools import zip_longest

from .models import Task

STEPS = 500
# Characters of an output compared: a diff of two long payloads is quadratic and unreadable.
TEXT = 20_000
STEP_FIELDS = ("run", "sequence", "name", "type", "status", "duration_ms", "total_tokens", "cost", "output")


@dataclass
class Line:
    tag: str  # equal, replace, delete (only in A), insert (only in B)
    a: str | None
    b: str | None


@dataclass
class StepPair:
    name: str
    a: Task | None
    b: Task | None
    diff: list = field(default_factory=list)

    @property
    def tag(self):
        if self.a is None:
            return "insert"
        if self.b is None:
            return "delete"
        return "changed" if self.diff else "equal"


@dataclass
class Comparison:
    path: list  # Line per position of the two paths, aligned
    diverges_at: int | None  # 1-based position of the first difference in the paths, None when equal
    steps: list  # StepPair
    output_diff: list  # Line
    cut: bool  # a run has more than STEPS tasks: only the first are compared


def text_of(value):
    """A payload as lines to diff: strings as they are, anything else as indented JSON, cut at TEXT."""
    if value is None:
        return []
    text = (
        value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    )
    if len(text) > TEXT:
        text = text[:TEXT] + "\n… (cut)"
    return text.splitlines()


def align(a, b, key=lambda item: item):
    """(tag, a item or None, b item or None) along two sequences, paired where their keys match."""
    matcher = difflib.SequenceMatcher(None, [key(x) for x in a], [key(x) for x in b], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            yield from (("equal", x, y) for x, y in zip(a[i1:i2], b[j1:j2], strict=True))
        else:
            for x, y in zip_longest(a[i1:i2], b[j1:j2]):
                yield (
                    ("replace" if x is not None and y is not None else "delete" if y is None else "insert"),
                    x,
                    y,
                )


def diff_lines(a, b):
    """The lines of two payloads side by side, or [] when they are the same."""
    left, right = text_of(a), text_of(b)
    if left == right:
        return []
    return [Line(tag, x, y) for tag, x, y in align(left, right)]


def path_of(run, tasks):
    if run.trace:
        return [str(node) for node in run.trace]
    return [task.name for task in tasks if task.parent_id is None]


def steps_of(run):
    """The run's first STEPS tasks in order, and whether it has more (one query)."""
    rows = list(
        Task.objects.filter(run=run).only(*STEP_FIELDS, "parent").order_by("sequence", "id")[: STEPS + 1]
    )
    return rows[:STEPS], len(rows) > STEPS


def compare(run_a, run_b):
    """Two queries: the tasks of each run."""
    tasks_a, cut_a = steps_of(run_a)
    tasks_b, cut_b = steps_of(run_b)
    path = [Line(tag, x, y) for tag, x, y in align(path_of(run_a, tasks_a), path_of(run_b, tasks_b))]
    diverges_at = next((n for n, line in enumerate(path, 1) if line.tag != "equal"), None)
    steps = []
    for tag, x, y in align(tasks_a, tasks_b, key=lambda task: task.name):
        if tag == "replace":  # two different steps at one place: each on its own row
            steps += [StepPair(name=x.name, a=x, b=None), StepPair(name=y.name, a=None, b=y)]
        elif tag == "equal":
            steps.append(StepPair(name=x.name, a=x, b=y, diff=diff_lines(x.output, y.output)))
        else:
            steps.append(StepPair(name=(x or y).name, a=x, b=y))
    return Comparison(
        path=path,
        diverges_at=diverges_at,
        steps=steps,
        output_diff=diff_lines(run_a.output, run_b.output),
        cut=cut_a or cut_b,
    )
