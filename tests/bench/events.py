"""A stream of realistic ingest events (~25 per run, ~1 KB payloads), in batches of 1,000.

The shapes are those of tests/events.py; the payloads come from the data set's pools. Runs straddle
batch boundaries, as they do when a client flushes every 50 events or 2 s.
"""

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

from .payloads import Payloads

AGENTS = ["support-bot", "order-bot", "refund-flow"]
TOOLS = ["lookup_order", "search_kb", "fetch_invoice", "crm_update"]


class EventStream:
    def __init__(self, prefix, seed=7):
        self.prefix = prefix
        self.rng = random.Random(seed)
        pay = Payloads(seed)
        self.inputs = [json.loads(p) for p in pay.task_inputs[:32]]
        self.outputs = [json.loads(p) for p in pay.task_outputs[:32]]
        self.requests = [json.loads(p) for p in pay.requests[:32]]
        self.responses = [json.loads(p) for p in pay.responses[:32]]
        self.properties = [json.loads(p) for p in pay.properties[:64]]
        self.asks, self.answers = pay.user_texts, pay.assistant_texts
        self.ids = itertools.count(1)
        self.clock = datetime.now(UTC) - timedelta(hours=1)

    def event(self, type_, body, at):
        return {
            "id": f"{self.prefix}-{next(self.ids)}",
            "type": type_,
            "timestamp": at.isoformat(),
            "body": body,
        }

    def run(self, number):
        """The events of one run: start, turns, steps with tools and model calls, business events, end."""
        rng, pick = self.rng, self.rng.choice
        run_id = f"{self.prefix}-run-{number}"
        session_id = f"{self.prefix}-conv-{number // 4}"
        at = self.clock = self.clock + timedelta(milliseconds=rng.uniform(50, 500))

        def tick(ms=None):
            nonlocal at
            at += timedelta(milliseconds=ms or rng.uniform(5, 400))
            return at

        base = {"run_id": run_id}
        events = [
            self.event(
                "run.start",
                {
                    **base,
                    "agent_id": pick(AGENTS),
                    "session_id": session_id,
                    "user_id": f"u-{number % 97}",
                    "workflow": "answer_ticket",
                    "input": pick(self.inputs),
                    "tags": ["bench"],
                },
                at,
            ),
            self.event(
                "message",
                {"session_id": session_id, **base, "role": "user", "content": pick(self.asks)},
                tick(),
            ),
        ]
        for n in range(rng.randint(3, 5)):
            step = f"{run_id}-s{n}"
            events.append(
                self.event(
                    "step.start",
                    {**base, "step_id": step, "name": f"step_{n}", "input": pick(self.inputs)},
                    tick(),
                )
            )
            tool = f"{step}-t"
            events.append(
                self.event(
                    "tool.call",
                    {**base, "step_id": tool, "tool": pick(TOOLS), "args": {"id": n}, "parent_id": step},
                    tick(),
                )
            )
            events.append(
                self.event("tool.ok", {**base, "step_id": tool, "result": pick(self.outputs)}, tick())
            )
            if n % 2 == 0:
                events.append(
                    self.event(
                        "llm.call",
                        {
                            **base,
                            "step_id": step,
                            "call_id": f"{step}-llm",
                            "model": "gpt-4o",
                            "provider": "openai",
                            "prompt_tokens": rng.randint(200, 4000),
                            "completion_tokens": rng.randint(20, 800),
                            "latency_ms": rng.uniform(300, 6000),
                            "request": pick(self.requests),
                            "response": pick(self.responses),
                        },
                        tick(),
                    )
                )
            events.append(
                self.event("step.ok", {**base, "step_id": step, "output": pick(self.outputs)}, tick())
            )
        events.append(
            self.event("state.checkpoint", {**base, "state": {"step": 4, "approved": True}}, tick())
        )
        events.append(
            self.event(
                "message",
                {"session_id": session_id, **base, "role": "assistant", "content": pick(self.answers)},
                tick(),
            )
        )
        for _ in range(2):
            events.append(
                self.event(
                    "track",
                    {
                        "name": "ticket_resolved",
                        "properties": pick(self.properties),
                        "session_id": session_id,
                        **base,
                    },
                    tick(),
                )
            )
        if rng.random() < 0.08:
            events.append(self.event("run.failed", {**base, "error": {"message": "carrier timeout"}}, tick()))
        else:
            events.append(self.event("run.complete", {**base, "output": pick(self.outputs)}, tick()))
        return events

    def batches(self, total, size=1000):
        """JSON bodies of `size` events each, `total` events in all."""
        pending, sent, number = [], 0, 0
        while sent < total:
            while len(pending) < size:
                pending += self.run(number)
                number += 1
            take = min(size, total - sent)
            batch, pending = pending[:take], pending[take:]
            sent += take
            yield json.dumps({"batch": batch}).encode()
