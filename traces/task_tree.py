"""A run's tasks as a tree, one keyset page at a time.

Pages follow (sequence, id), the start order the fold keeps. Within a page the tasks are laid out as
a tree (children under their parent, siblings in sequence). A task whose parent is on an earlier page
keeps its true depth and names that parent, so "load more" appends rows without reshuffling the ones
shown. Two queries per page whatever its size: the tasks, and their ancestor chains in one recursive
query (depths and the names of parents on other pages).
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connections

from .keyset import Keyset
from .models import Task

TASKS_PER_PAGE = 500
KEYSET = Keyset("sequence", descending=False, kind="int")
# A deeper chain is a loop in bad data, not a real workflow.
MAX_DEPTH = 64
LISTED_FIELDS = (
    "id",
    "run_id",
    "step_id",
    "parent_id",
    "sequence",
    "name",
    "type",
    "status",
    "started_at",
    "ended_at",
    "duration_ms",
    "attempt",
    "total_tokens",
    "cost",
)


@dataclass
class TreeRow:
    task: Task
    depth: int = 0
    ancestors: list = field(default_factory=list)  # primary keys, root first
    has_children: bool = False
    outside_parent: str = ""  # the parent's name when it is on another page
    folded: bool = False  # its subtree starts hidden (the page's script unfolds it)
    hidden: bool = False  # under a folded task

    @property
    def ancestor_ids(self):
        return " ".join(str(pk) for pk in self.ancestors)


@dataclass
class TreePage:
    rows: list
    next: str | None
    jumped: bool = False  # the page starts at the task it must show, not at the run's first task


def tree_page(run, *, after=None, size=TASKS_PER_PAGE, showing=None):
    """A page of the tree. A first page that does not hold the task `showing` (a deep link into a long
    run) starts at that task instead: one more query, and its ancestors on earlier pages are named."""
    tasks = Task.objects.filter(run=run).only(*LISTED_FIELDS)
    page = KEYSET.page(tasks, after=after, size=size)
    jumped = bool(showing and not after and page.next and showing.pk not in {t.pk for t in page.rows})
    if jumped:
        # Rows from (sequence, id) on, the task included: the cursor of a key just before its own.
        page = KEYSET.page(tasks, after=f"{showing.sequence}.{showing.pk - 1}", size=size)
    chains = ancestor_chains([t.pk for t in page.rows if t.parent_id])
    return TreePage(layout(page.rows, chains), page.next, jumped)


def fold(rows, *, open_levels, keep_open=()):
    """Fold the tasks `open_levels` deep and below, except those in `keep_open` (the path to the
    selected task): a long tree opens on its first levels, and its deep rows are hidden.

    Ancestors on earlier pages fold by the same rule, so a continued page agrees with the first one.
    """
    keep_open = set(keep_open)

    def folded(pk, depth):
        return depth >= open_levels - 1 and pk not in keep_open

    for row in rows:
        row.folded = row.has_children and folded(row.task.pk, row.depth)
        row.hidden = any(folded(pk, depth) for depth, pk in enumerate(row.ancestors))
    return rows


def ancestor_chains(task_ids):
    """{task id: [(ancestor id, name), …] nearest first}, in one recursive query."""
    if not task_ids:
        return {}
    placeholders = ", ".join(["%s"] * len(task_ids))
    sql = f"""
        WITH RECURSIVE chain(task_id, ancestor_id, level) AS (
            SELECT id, parent_id, 1 FROM tasks WHERE id IN ({placeholders})
            UNION ALL
            SELECT chain.task_id, t.parent_id, chain.level + 1
            FROM chain JOIN tasks t ON t.id = chain.ancestor_id
            WHERE t.parent_id IS NOT NULL AND chain.level < %s
        )
        SELECT chain.task_id, chain.ancestor_id, a.name, a.step_id
        FROM chain JOIN tasks a ON a.id = chain.ancestor_id
        ORDER BY chain.task_id, chain.level
    """  # noqa: S608 - only placeholders are interpolated
    chains = defaultdict(list)
    # Where the page reads its tasks: a read replica when the request reads one (backoffice.replicas).
    with connections[Task.objects.db].cursor() as cursor:
        cursor.execute(sql, [*task_ids, MAX_DEPTH])
        for task_id, ancestor_id, name, step_id in cursor.fetchall():
            chains[task_id].append((ancestor_id, name or step_id))
    return chains


def layout(tasks, chains):
    """Tree order within the page: each task followed by its descendants, siblings in sequence."""
    on_page = {t.pk for t in tasks}
    children = defaultdict(list)
    tops = []
    for task in tasks:
        if task.parent_id in on_page and task.parent_id != task.pk:
            children[task.parent_id].append(task)
        else:
            tops.append(task)
    rows, placed = [], set()

    def place(task):
        if task.pk in placed:  # a loop in bad data: show each task once
            return
        placed.add(task.pk)
        chain = chains.get(task.pk, [])
        row = TreeRow(task, len(chain), [pk for pk, _ in reversed(chain)], bool(children.get(task.pk)))
        if chain and chain[0][0] not in on_page:
            row.outside_parent = chain[0][1]
        rows.append(row)
        for child in children.get(task.pk, ()):
            place(child)

    for task in tops:
        place(task)
    # Tasks caught in a parent loop have no top: show them rather than drop them.
    for task in tasks:
        place(task)
    return rows
