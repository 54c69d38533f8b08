"""Event streams of runs shaped like the demo workflows, for the graph and timeline tests.

Each builder returns the events of one run; `ingest(workspace, events)` folds them like the API does.
"""

import itertools

from tests.events import event
from traces.ingest import ingest_batch

_runs = itertools.count(1)

ORDER_GRAPH = {
    "nodes": [
        {"id": "validate_order", "type": "function"},
        {"id": "check_stock", "type": "condition"},
        {"id": "backorder", "type": "function"},
        {"id": "route_by_region", "type": "switch"},
        {"id": "eu_fulfilment", "type": "function"},
        {"id": "us_fulfilment", "type": "function"},
        {"id": "reserve_items", "type": "foreach"},
        {"id": "payment_and_notify", "type": "parallel"},
        {"id": "manager_approval", "name": "manager_approval", "type": "gate"},
        {"id": "ship_order", "type": "function"},
        {"id": "cancel_order", "type": "function"},
    ],
    "edges": [
        {"source": "validate_order", "target": "check_stock"},
        {"source": "check_stock", "target": "route_by_region", "label": "in stock"},
        {"source": "check_stock", "target": "backorder", "label": "out of stock"},
        {"source": "route_by_region", "target": "eu_fulfilment", "label": "EU"},
        {"source": "route_by_region", "target": "us_fulfilment", "label": "US"},
        {"source": "eu_fulfilment", "target": "reserve_items"},
        {"source": "us_fulfilment", "target": "reserve_items"},
        {"source": "reserve_items", "target": "payment_and_notify"},
        {"source": "payment_and_notify", "target": "manager_approval"},
        {"source": "manager_approval", "target": "ship_order", "label": "approved"},
        {"source": "manager_approval", "target": "cancel_order", "label": "rejected"},
    ],
}


class Script:
    """Writes one run's events with a clock that moves forward."""

    def __init__(self, run_id, start=0.0):
        self.run_id = run_id
        self.at = start
        self.events = []
        self.steps = itertools.count(1)

    def add(self, type_, body, advance=0.05):
        self.at += advance
        self.events.append(event(type_, {"run_id": self.run_id, **body}, at=self.at))

    def step(self, name, type_, parent=None, seconds=0.2, fail=False, tokens=None):
        step_id = f"{self.run_id}-s{next(self.steps)}"
        self.add("step.start", {"step_id": step_id, "name": name, "type": type_, "parent_id": parent})
        if tokens:
            self.add(
                "llm.call",
                {
                    "step_id": step_id,
                    "model": "gpt-4o-mini",
                    "prompt_tokens": tokens,
                    "completion_tokens": 60,
                },
                advance=seconds * 0.8,
            )
        if fail:
            self.add(
                "step.failed", {"step_id": step_id, "error": {"message": f"{name} failed"}}, advance=seconds
            )
        else:
            self.add("step.ok", {"step_id": step_id, "output": {"done": name}}, advance=seconds)
        return step_id

    def open(self, name, type_, parent=None):
        step_id = f"{self.run_id}-s{next(self.steps)}"
        self.add("step.start", {"step_id": step_id, "name": name, "type": type_, "parent_id": parent})
        return step_id

    def close(self, step_id, fail=False):
        if fail:
            self.add("step.failed", {"step_id": step_id, "error": "failed"})
        else:
            self.add("step.ok", {"step_id": step_id})

    def tool(self, name, parent, fail=False, seconds=0.3):
        step_id = f"{self.run_id}-s{next(self.steps)}"
        self.add("tool.call", {"step_id": step_id, "tool": name, "args": {"q": name}, "parent_id": parent})
        if fail:
            self.add("tool.failed", {"step_id": step_id, "error": "timeout"}, advance=seconds)
        else:
            self.add("tool.ok", {"step_id": step_id, "result": {"ok": True}}, advance=seconds)
        return step_id


def new_run_id(prefix):
    return f"{prefix}-{next(_runs):05d}"


def support_concierge(run_id=None, *, refund_fails=False, start=0.0):
    """classify → concierge agent looping plan ⇄ tools → respond."""
    s = Script(run_id or new_run_id("support"), start)
    s.add("run.start", {"agent_id": "support-concierge", "workflow": "support_concierge", "input": "Refund?"})
    s.step("classify_intent", "llm", tokens=300)
    agent = s.open("concierge", "agent")
    s.step("plan", "llm", parent=agent, tokens=800)
    s.tool("lookup_order", agent)
    s.step("plan", "llm", parent=agent, tokens=900)
    s.tool("issue_refund", agent, fail=refund_fails)
    s.step("plan", "llm", parent=agent, tokens=950)
    s.close(agent)
    s.step("respond", "llm", tokens=400)
    s.add("run.complete", {"output": "Refunded."})
    return s.events


def order_validation(run_id=None, *, items=3, approve=True, declared=True, start=0.0):
    """validate → condition → switch → EU → foreach items → parallel pay + notify → gate → ship."""
    s = Script(run_id or new_run_id("order"), start)
    s.add(
        "run.start",
        {
            "agent_id": "order-bot",
            "workflow": "order_validation",
            "input": {"order": 42},
            **({"graph": ORDER_GRAPH} if declared else {}),
        },
    )
    s.step("validate_order", "function")
    s.step("check_stock", "condition", seconds=0.05)
    s.step("route_by_region", "switch", seconds=0.05)
    s.step("eu_fulfilment", "function")
    loop = s.open("reserve_items", "foreach")
    for _ in range(items):
        s.step("reserve_item", "tool", parent=loop, seconds=0.1)
    s.close(loop)
    fork = s.open("payment_and_notify", "parallel")
    pay = s.open("charge_payment", "tool", parent=fork)
    note = s.open("notify_warehouse", "tool", parent=fork)
    s.close(note)
    s.close(pay)
    s.close(fork)
    gate = f"{s.run_id}-gate"
    s.add("gate.waiting", {"step_id": gate, "name": "manager_approval"})
    if approve is None:
        s.add("run.paused", {"reason": "waiting for approval"})
        return s.events
    s.add("gate.approved" if approve else "gate.rejected", {"step_id": gate, "approver": "kim"}, advance=1.0)
    s.step("ship_order" if approve else "cancel_order", "function")
    s.add("run.complete", {"output": "done"})
    return s.events


def document_analysis(run_id=None, *, chunks=4, fail_at=None, start=0.0):
    """extract → split → foreach summarize (LLM) → combine → classify → entities → report."""
    s = Script(run_id or new_run_id("doc"), start)
    s.add(
        "run.start", {"agent_id": "doc-analyst", "workflow": "document_analysis", "input": {"doc": "a.pdf"}}
    )
    s.step("extract_text", "tool", seconds=0.4)
    s.step("split_chunks", "function", seconds=0.05)
    loop = s.open("summarize_chunks", "foreach")
    for _ in range(chunks):
        s.step("summarize_chunk", "llm", parent=loop, tokens=1200, seconds=0.6)
    s.close(loop)
    for name in ("combine_summaries", "classify_document", "extract_entities", "write_report"):
        failed = name == fail_at
        s.step(name, "llm", tokens=700, seconds=0.5, fail=failed)
        if failed:
            s.add("run.failed", {"error": {"message": f"{name} failed"}})
            return s.events
    s.add("run.complete", {"output": "report"})
    return s.events


def ingest(workspace, events):
    results = ingest_batch(workspace, events)
    rejected = [r for r in results if r["status"] == "rejected"]
    assert not rejected, rejected
    return results
