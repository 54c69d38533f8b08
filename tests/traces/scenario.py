"""Realistic run records built through the ingest fold, as agents would send them."""

import itertools
from datetime import timedelta

from tests.events import BASE as START
from traces.ingest import ingest_batch

_ids = itertools.count(1)


class Story:
    """Collects events at increasing times, then ingests them as one batch."""

    def __init__(self, workspace, start=START):
        self.workspace = workspace
        self.clock = start
        self.events = []

    def add(self, type_, body, *, after_ms=7):
        self.clock += timedelta(milliseconds=after_ms, microseconds=next(_ids) % 997)
        self.events.append(
            {"id": f"sc-{next(_ids):08d}", "type": type_, "timestamp": self.clock.isoformat(), "body": body}
        )

    def ingest(self):
        results = ingest_batch(self.workspace, self.events)
        rejected = [r for r in results if r["status"] == "rejected"]
        assert not rejected, rejected
        self.events = []


def support_turn(
    story,
    session_id,
    run_id,
    question,
    answer,
    *,
    agent_id="support-bot",
    fail=False,
    finish=True,
    user_id="customer-17",
):
    """One exchange: the user's message, a run that plans, retrieves, calls a model and a tool, the reply."""
    story.add("agent.upsert", {"agent_id": agent_id, "name": "Support bot", "mode": "full"})
    story.add("message", {"session_id": session_id, "role": "user", "content": question, "run_id": run_id})
    story.add(
        "run.start",
        {
            "run_id": run_id,
            "agent_id": agent_id,
            "session_id": session_id,
            "user_id": user_id,
            "workflow": "support",
            "input": {"question": question},
        },
    )
    story.add("step.start", {"run_id": run_id, "step_id": f"{run_id}-plan", "name": "plan", "type": "agent"})
    story.add(
        "step.start",
        {
            "run_id": run_id,
            "step_id": f"{run_id}-search",
            "name": "search_docs",
            "type": "retriever",
            "parent_id": f"{run_id}-plan",
            "input": {"query": question},
        },
    )
    story.add(
        "step.ok",
        {
            "run_id": run_id,
            "step_id": f"{run_id}-search",
            "output": {"documents": [{"id": "kb-12", "score": 0.82}, {"id": "kb-40", "score": 0.61}]},
        },
        after_ms=180,
    )
    story.add(
        "step.start",
        {
            "run_id": run_id,
            "step_id": f"{run_id}-llm",
            "name": "draft_answer",
            "type": "llm",
            "parent_id": f"{run_id}-plan",
            "input": {"messages": [{"role": "user", "content": question}]},
        },
    )
    story.add(
        "llm.call",
        {
            "run_id": run_id,
            "step_id": f"{run_id}-llm",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "prompt_tokens": 412,
            "completion_tokens": 96,
            "latency_ms": 840,
            "ttft_ms": 210,
            "cost": "0.000120",
            "finish_reason": "stop",
            "request": {"messages": [{"role": "user", "content": question}]},
            "response": {"content": answer},
        },
        after_ms=840,
    )
    story.add("step.ok", {"run_id": run_id, "step_id": f"{run_id}-llm", "output": {"text": answer}})
    story.add(
        "tool.call",
        {
            "run_id": run_id,
            "step_id": f"{run_id}-crm",
            "tool": "crm.lookup",
            "args": {"customer": user_id},
            "parent_id": f"{run_id}-plan",
        },
    )
    if fail:
        story.add(
            "tool.failed",
            {
                "run_id": run_id,
                "step_id": f"{run_id}-crm",
                "error": {"message": "CRM timed out after 30 s", "code": 504},
            },
            after_ms=300,
        )
        story.add(
            "step.failed", {"run_id": run_id, "step_id": f"{run_id}-plan", "error": "crm.lookup failed"}
        )
        story.add("run.failed", {"run_id": run_id, "error": {"message": "CRM timed out after 30 s"}})
        return
    if not finish:
        return
    story.add(
        "tool.ok",
        {"run_id": run_id, "step_id": f"{run_id}-crm", "result": {"plan": "pro", "since": 2021}},
        after_ms=120,
    )
    story.add("step.ok", {"run_id": run_id, "step_id": f"{run_id}-plan", "output": {"reply": answer}})
    story.add(
        "state.checkpoint",
        {
            "run_id": run_id,
            "state": {"question": question, "answer": answer, "turn": 1},
            "trace": ["plan", "search_docs", "draft_answer", "crm.lookup"],
        },
    )
    story.add("message", {"session_id": session_id, "role": "assistant", "content": answer, "run_id": run_id})
    story.add("run.complete", {"run_id": run_id, "output": {"reply": answer}})


def make_conversation(
    workspace, session_id="conv-refund", *, turns=2, fail_last=False, running_last=False, **kw
):
    """A support conversation of `turns` exchanges, one run each; returns the run ids."""
    story = Story(workspace, kw.pop("start", START))
    run_ids = []
    for turn in range(turns):
        run_id = f"{session_id}-run-{turn + 1}"
        last = turn == turns - 1
        support_turn(
            story,
            session_id,
            run_id,
            f"Question {turn + 1}: can I get a refund for order #{4400 + turn}?",
            f"Yes — order #{4400 + turn} is within 30 days, so a refund is on its way.",
            fail=fail_last and last,
            finish=not (running_last and last),
            **kw,
        )
        run_ids.append(run_id)
    story.ingest()
    return run_ids
