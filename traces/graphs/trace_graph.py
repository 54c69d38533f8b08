"""The graph an OTLP trace declares, stored as its run's declared graph (run.start's `graph`) so that
the DAG tab draws it first, as it draws one sent with the event API.

Any client may declare it with the `backoffice.graph` attribute of the root span: JSON
`{"nodes": ["a", {"id": "b", "name": "…", "type": "…"}], "edges": [["a", "b"], {"source", "target",
"label"}]}`. Without one, a LangGraph run's graph comes from the metadata of its spans (see langgraph).
"""

import json

from .langgraph import MAX_NODES, graph_from_metadata

GRAPH_ATTRIBUTE = "backoffice.graph"
# What run.start's graph holds besides MAX_NODES (traces.ingest.schemas.Graph): more is left out.
MAX_EDGES, TEXT_CHARS = 50_000, 200


def declared_graph(root_attrs, metadatas):
    """The run's graph: the root span's declaration, else LangGraph's; None when neither says."""
    declared = root_attrs.get(GRAPH_ATTRIBUTE) if root_attrs is not None else None
    if declared is not None:
        return attribute_graph(declared)
    return graph_from_metadata(metadatas)


def attribute_graph(value):
    """The attribute in run.start's shape: node names become {"id"}, pairs {"source", "target"}. What
    is not a node or an edge is left out, and a graph without nodes is none: a bad declaration must not
    cost the run its start."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict) or not isinstance(value.get("nodes"), list):
        return None
    nodes = [node for node in map(as_node, value["nodes"][:MAX_NODES]) if node]
    edges = value.get("edges") if isinstance(value.get("edges"), list) else []
    edges = [edge for edge in map(as_edge, edges[:MAX_EDGES]) if edge]
    return {"nodes": nodes, "edges": edges} if nodes else None


def as_node(item):
    item = {"id": item} if isinstance(item, str) else item
    if not isinstance(item, dict) or not is_id(item.get("id")):
        return None
    return {key: item[key] for key in ("id", "name", "type") if is_text(item.get(key))}


def as_edge(item):
    if isinstance(item, list) and len(item) == 2:
        item = {"source": item[0], "target": item[1]}
    if not isinstance(item, dict) or not (is_id(item.get("source")) and is_id(item.get("target"))):
        return None
    return {key: item[key] for key in ("source", "target", "label") if is_text(item.get(key))}


def is_id(value):
    return is_text(value) and bool(value.strip())


def is_text(value):
    return isinstance(value, str) and len(value) <= TEXT_CHARS
