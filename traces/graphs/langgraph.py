"""The graph of a LangGraph run, from the metadata its LangChain callbacks give every span.

Each span made inside a graph node carries the node's name (`langgraph_node`), the superstep it ran in
(`langgraph_step`) and what woke it (`langgraph_triggers`); OpenInference writes them into the span's
`metadata` JSON, OpenLLMetry into its association properties. The spans inside a node (its model call,
its tools_condition) carry the node's metadata too, so the graph's nodes are the distinct node names,
not the spans.

LangGraph runs in supersteps: a node runs in step n because a node of an earlier step wrote to it. The
edges go to each node from the nodes of the step before it, or only from those its triggers name when
they name some (older LangGraph triggers are the writing node's channel, `branch:<node>:…`; current ones,
`branch:to:<node>`, name only the target). Nodes of a subgraph (a checkpoint namespace with `|`) are
inside their parent's node and are not drawn; neither are LangGraph's own `__start__` and `__end__`.
"""

from collections import defaultdict

NODE, STEP, TRIGGERS, NAMESPACE = (
    "langgraph_node",
    "langgraph_step",
    "langgraph_triggers",
    "langgraph_checkpoint_ns",
)
SUBGRAPH_SEPARATOR = "|"
MAX_NODES = 10_000  # run.start's graph holds this many


def node_visit(metadata):
    """(step, node, triggers) of a span run inside a node of the top-level graph, or None."""
    node, step = metadata.get(NODE), metadata.get(STEP)
    if not isinstance(node, str) or not node.strip() or node.startswith("__"):
        return None
    if isinstance(step, str) and step.isdigit():
        step = int(step)  # association properties are strings
    if isinstance(step, bool) or not isinstance(step, int):
        return None
    if SUBGRAPH_SEPARATOR in str(metadata.get(NAMESPACE) or ""):
        return None
    triggers = metadata.get(TRIGGERS)
    return (
        step,
        node.strip(),
        [t for t in triggers if isinstance(t, str)] if isinstance(triggers, list) else [],
    )


def named_sources(triggers, candidates):
    """The nodes among candidates that the triggers name as the writer."""
    named = set()
    for trigger in triggers:
        parts = trigger.split(":")
        if trigger in candidates:
            named.add(trigger)
        elif len(parts) > 1 and parts[0] in ("branch", "start") and parts[1] in candidates:
            named.add(parts[1])
    return named


def graph_from_metadata(metadatas):
    """The run.start `graph` ({"nodes": [{"id"}], "edges": [{"source", "target"}]}) of the LangGraph
    nodes the spans' metadata name, or None when they name none."""
    steps, triggers = defaultdict(set), defaultdict(list)
    for metadata in metadatas:
        visit = node_visit(metadata)
        if visit is not None:
            step, node, woken_by = visit
            steps[step].add(node)
            triggers[(step, node)].extend(woken_by)
    if not steps:
        return None
    nodes, edges, previous = {}, {}, set()  # dicts: ordered sets
    for step in sorted(steps):
        for node in sorted(steps[step]):
            nodes.setdefault(node, None)
            sources = named_sources(triggers[(step, node)], previous) or previous
            edges.update(((source, node), None) for source in sorted(sources))
        previous = steps[step]
    kept = set(list(nodes)[:MAX_NODES])
    return {
        "nodes": [{"id": node} for node in nodes if node in kept],
        "edges": [{"source": a, "target": b} for a, b in edges if a in kept and b in kept],
    }
