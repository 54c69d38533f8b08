"""The graph of a run: declared by the workflow and overlaid with the run, or inferred from its tasks.

How tasks become a flow (the workflow DAG across runs counts edges by the same rules, in SQL):

- siblings (tasks with the same parent, or the top-level tasks) run one after another in sequence
  order, except the children of a `parallel` or `foreach` task, which fan out side by side;
- a task with children hands over to its first child (to every child when it fans out);
- the step after a task with children follows from where that task finished: its last child (every
  child after a fan-out), recursively. That is the join after a `parallel` or `foreach`.

Aggregated graphs have one node per task name, so a step that ran several times shows a visit count
and a loop shows as an edge back to an earlier step. Expanded graphs have one node per task.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields
from itertools import pairwise

FAN_OUT = frozenset({"parallel", "foreach"})
UNREACHED = None  # the status of a declared node the run never reached


@dataclass(frozen=True)
class Step:
    """A task as the graph sees it. `id` and `parent_id` are internal keys, only used for links."""

    id: int
    step_id: str
    parent_id: int | None
    name: str
    type: str
    status: str
    sequence: int
    duration_ms: int | None = None
    total_tokens: int = 0

    @property
    def label(self):
        return self.name or self.step_id


STEP_FIELDS = tuple(f.name for f in fields(Step))  # the Task columns a Step is read from


@dataclass
class Node:
    key: str
    name: str
    type: str
    status: str | None  # None: the run never reached it
    visits: int = 0
    failures: int = 0
    duration_ms: int | None = None  # over every visit
    tokens: int = 0
    step_id: str | None = None  # the visit a click opens
    stats: dict | None = None  # across runs: reached, failure_rate, p50_ms, p95_ms

    @property
    def reached(self):
        return self.status is not UNREACHED


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    taken: bool = True
    count: int = 1
    # Across runs: the move its count is of, (kind, source label, target label) of across_runs.moves.
    via: tuple | None = None


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    declared: bool = False
    across_runs: bool = False  # counts are runs, not visits
    outside: int = 0  # top-level tasks the declared workflow does not name

    @property
    def pairs(self):
        return [(e.source, e.target) for e in self.edges]


class Flow:
    """The parent/child structure of a run's tasks and the flow edges it implies."""

    def __init__(self, steps):
        self.steps = sorted(steps, key=lambda s: (s.sequence, s.id))
        by_id = {s.id: s for s in self.steps}
        self.children = defaultdict(list)
        self.roots = []
        for step in self.steps:
            if step.parent_id in by_id:
                self.children[step.parent_id].append(step)
            else:
                self.roots.append(step)
        self.exits = {}
        self.walk(self.roots)
        # Tasks whose parent links go round in a circle are unreachable from the top: a broken
        # record, shown with the first of each circle as a top-level task.
        for step in self.steps:
            if step.id not in self.exits:
                self.children[step.parent_id].remove(step)
                self.roots.append(step)
                self.walk([step])

    def walk(self, tops):
        """Where each task's flow ends: itself, or its last child's exits (every child's after a fan-out)."""
        stack = [(top, False) for top in reversed(tops)]
        while stack:
            step, done_children = stack.pop()
            kids = self.children.get(step.id)
            if not kids:
                self.exits[step.id] = [step]
            elif not done_children:
                stack.append((step, True))
                stack.extend((kid, False) for kid in reversed(kids))
            else:
                ends = kids if step.type in FAN_OUT else kids[-1:]
                self.exits[step.id] = [leaf for kid in ends for leaf in self.exits[kid.id]]

    def holds(self, top, labels):
        """Is the task, or a task under it, one of these labels?"""
        stack = [top]
        while stack:
            step = stack.pop()
            if step.label in labels:
                return True
            stack.extend(self.children.get(step.id, ()))
        return False

    def groups(self):
        """(parent or None, children in order) for the top level and every task with children."""
        yield None, self.roots
        for step in self.steps:
            if step.id in self.children:
                yield step, self.children[step.id]

    def edges(self):
        """Flow edges between tasks, in a stable order."""
        for parent, kids in self.groups():
            fans_out = parent is not None and parent.type in FAN_OUT
            if parent is not None:
                for kid in kids if fans_out else kids[:1]:
                    yield parent, kid
            if not fans_out:
                for before, after in pairwise(kids):
                    for leaf in self.exits[before.id]:
                        yield leaf, after

    def successions(self):
        """Sibling to next sibling, ignoring what happened inside: how a declared workflow reads."""
        for parent, kids in self.groups():
            if parent is None or parent.type not in FAN_OUT:
                yield from pairwise(kids)


def expanded(steps):
    """One node per task."""
    flow = Flow(steps)
    graph = Graph()
    for step in flow.steps:
        graph.nodes[step.step_id] = Node(
            key=step.step_id,
            name=step.label,
            type=step.type,
            status=step.status,
            visits=1,
            failures=int(step.status == "failed"),
            duration_ms=step.duration_ms,
            tokens=step.total_tokens,
            step_id=step.step_id,
        )
    graph.edges = [Edge(a.step_id, b.step_id) for a, b in flow.edges()]
    return graph


def aggregated(steps):
    """One node per task name, visits counted; edges counted by how often the run took them."""
    flow = Flow(steps)
    graph = Graph()
    graph.nodes = summarize_visits(flow.steps)
    counts = Counter((a.label, b.label) for a, b in flow.edges())
    graph.edges = [Edge(s, t, count=n) for (s, t), n in counts.items()]
    return graph


def summarize_visits(steps):
    """Nodes keyed by task name, in order of first visit. The latest visit gives status and link."""
    nodes = {}
    for step in steps:
        node = nodes.get(step.label)
        if node is None:
            node = nodes[step.label] = Node(key=step.label, name=step.label, type=step.type, status=None)
        node.visits += 1
        node.failures += step.status == "failed"
        node.status, node.type, node.step_id = step.status, step.type, step.step_id
        node.tokens += step.total_tokens
        if step.duration_ms is not None:
            node.duration_ms = (node.duration_ms or 0) + step.duration_ms
    return nodes


def declared(definition, steps, trace=(), run_status=None):
    """The declared workflow with this run laid over it; nodes the run never reached stay muted.

    Tasks match declared nodes by name (or id). A declared edge was taken when the run went from
    one to the other: in its task flow, from one step to the next, or in its checkpointed trace.
    """
    flow = Flow(steps)
    visits = summarize_visits(flow.steps)
    graph = Graph(declared=True)
    aliases = {}  # a task name -> the declared node it visits
    for item in definition_nodes(definition):
        key, name = item["id"], item.get("name") or item["id"]
        node = Node(key=key, name=name, type=item.get("type") or "", status=UNREACHED)
        for alias in (key, name):
            seen = visits.get(alias)
            if seen is not None and node.status is UNREACHED:
                node.status, node.visits, node.failures = seen.status, seen.visits, seen.failures
                node.duration_ms, node.tokens, node.step_id = seen.duration_ms, seen.tokens, seen.step_id
                node.type = node.type or seen.type
            aliases.setdefault(alias, key)
        node.type = node.type or "function"
        graph.nodes[key] = node
    overlay_trace(graph, aliases, trace, run_status)

    moves = Counter((a.label, b.label) for a, b in flow.edges())
    moves.update(pair for pair in ((a.label, b.label) for a, b in flow.successions()) if pair not in moves)
    for pair in pairwise(trace):
        moves.setdefault(pair, 1)
    taken = Counter()
    for (a, b), n in moves.items():
        if a in aliases and b in aliases:
            taken[(aliases[a], aliases[b])] += n
    for item in definition_edges(definition, graph.nodes):
        pair = (item["source"], item["target"])
        graph.edges.append(
            Edge(*pair, label=item.get("label") or "", taken=pair in taken, count=taken.get(pair, 0))
        )
    # A top-level task that holds declared nodes is where the workflow ran (an OTLP trace's root span,
    # around a LangGraph graph), not a task outside it.
    graph.outside = sum(1 for step in flow.roots if not flow.holds(step, aliases))
    return graph


def overlay_trace(graph, aliases, trace, run_status):
    """Nodes the trace names but no task recorded: passed through, the last one as the run stands."""
    last = len(trace) - 1
    for i, name in enumerate(trace):
        node = graph.nodes.get(aliases.get(name))
        if node is None or node.reached:
            continue
        node.visits = trace.count(name)
        node.status = "ok"
        if i == last:
            node.status = {"failed": "failed", "running": "running", "paused": "waiting"}.get(
                run_status, "ok"
            )


def definition_nodes(definition):
    """The declared nodes, tolerating what an engine writing to the table directly may have stored."""
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    seen = set()
    for item in nodes if isinstance(nodes, list) else ():
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] not in seen:
            seen.add(item["id"])
            yield {k: item.get(k) if isinstance(item.get(k), str) else None for k in ("id", "name", "type")}


def definition_edges(definition, nodes):
    edges = definition.get("edges") if isinstance(definition, dict) else None
    seen = set()
    for item in edges if isinstance(edges, list) else ():
        if not isinstance(item, dict):
            continue
        pair = (item.get("source"), item.get("target"))
        if pair[0] in nodes and pair[1] in nodes and pair not in seen:
            seen.add(pair)
            label = item.get("label")
            yield {"source": pair[0], "target": pair[1], "label": label if isinstance(label, str) else ""}
