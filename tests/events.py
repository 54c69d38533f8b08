"""Building events for the ingest API in tests."""

import itertools
from datetime import UTC, datetime, timedelta

_ids = itertools.count(1)


def recent_morning():
    """09:00 UTC three days ago. Test data is timed from here rather than from a fixed date, so that it
    stays inside every page's default 7-day window whatever day the suite runs, while the offsets tests
    add (up to a day or two) stay in the past."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=3) + timedelta(hours=9)


BASE = recent_morning()


def event(type_, body, *, at=0.0, event_id=None):
    """One event; `at` is seconds after a fixed base time (microseconds kept)."""
    return {
        "id": event_id or f"ev-{next(_ids):08d}",
        "type": type_,
        "timestamp": (BASE + timedelta(seconds=at)).isoformat(),
        "body": body,
    }


def post_batch(client, raw_key, events, **extra):
    return client.post(
        "/api/v1/ingest",
        {"batch": events},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw_key}"},
        **extra,
    )


def workflow_run(run_id, *, session_id="s-1", agent_id="order-bot", start=0.0, steps=3, fail=False):
    """The events of one realistic run: nested steps, a tool call, model calls, a gate, chat turns,
    a checkpoint and the end of the run. Deterministic for its arguments."""
    t = start
    events = [
        event("agent.upsert", {"agent_id": agent_id, "name": "Order bot", "mode": "full"}, at=t),
        event(
            "run.start",
            {
                "run_id": run_id,
                "agent_id": agent_id,
                "session_id": session_id,
                "user_id": "u-7",
                "workflow": "validate_order",
                "input": {"order": 42},
                "tags": ["demo"],
            },
            at=t + 0.001,
        ),
        event(
            "message",
            {"session_id": session_id, "run_id": run_id, "role": "user", "content": "Is order 42 valid?"},
            at=t + 0.002,
        ),
    ]
    t += 0.01
    for n in range(steps):
        parent = f"{run_id}-step-{n}"
        events += [
            event(
                "step.start",
                {
                    "run_id": run_id,
                    "step_id": parent,
                    "name": f"check_{n}",
                    "type": "condition" if n == 0 else "function",
                    "input": {"n": n},
                },
                at=t,
            ),
            event(
                "tool.call",
                {
                    "run_id": run_id,
                    "step_id": f"{parent}-tool",
                    "tool": "lookup_order",
                    "args": {"id": 42},
                    "parent_id": parent,
                },
                at=t + 0.1,
            ),
            event(
                "tool.ok", {"run_id": run_id, "step_id": f"{parent}-tool", "result": {"ok": True}}, at=t + 0.2
            ),
            event(
                "llm.call",
                {
                    "run_id": run_id,
                    "step_id": parent,
                    "call_id": f"{parent}-llm",
                    "model": "gpt-4o",
                    "provider": "openai",
                    "prompt_tokens": 100 + n,
                    "completion_tokens": 20,
                    "latency_ms": 812.5,
                    "cost": "0.0011",
                },
                at=t + 0.3,
            ),
            event("step.ok", {"run_id": run_id, "step_id": parent, "output": {"valid": True}}, at=t + 0.4),
        ]
        t += 0.5
    events += [
        event("gate.waiting", {"run_id": run_id, "step_id": f"{run_id}-gate", "name": "approve"}, at=t),
        event("gate.approved", {"run_id": run_id, "step_id": f"{run_id}-gate", "approver": "kim"}, at=t + 1),
        event(
            "log",
            {
                "run_id": run_id,
                "step_id": f"{run_id}-log",
                "name": "note",
                "level": "info",
                "output": "approved by kim",
            },
            at=t + 1.1,
        ),
        event(
            "state.checkpoint",
            {
                "run_id": run_id,
                "state": {"approved": True},
                "trace": [f"check_{n}" for n in range(steps)] + ["approve"],
            },
            at=t + 1.2,
        ),
        event(
            "message",
            {
                "session_id": session_id,
                "run_id": run_id,
                "role": "assistant",
                "content": {"type": "text", "text": "Order 42 is valid."},
            },
            at=t + 1.3,
        ),
        event(
            "track",
            {
                "name": "order_validated",
                "properties": {"amount": 99.5, "currency": "EUR"},
                "session_id": session_id,
                "run_id": run_id,
            },
            at=t + 1.4,
        ),
    ]
    if fail:
        events.append(
            event("run.failed", {"run_id": run_id, "error": {"message": "payment declined"}}, at=t + 2)
        )
    else:
        events.append(event("run.complete", {"run_id": run_id, "output": {"valid": True}}, at=t + 2))
    return events
