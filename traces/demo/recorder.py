"""Writing the demo as an agent's client would: JSON events, one run at a time.

Every event is a plain dict of JSON values (ISO timestamps with microseconds, ints, floats,
strings), exactly what `POST /api/v1/ingest` receives, so the demo goes through the same fold.
"""

import random
import uuid
from collections import Counter
from datetime import timedelta


class Ids:
    """Identifiers for one seeding: the same seed and anchor give the same ids, another anchor new ones.

    They come from their own random stream that includes the anchor, so seeding again an hour later
    adds runs instead of colliding with the earlier ones.
    """

    def __init__(self, seed, anchor):
        self.rng = random.Random(f"ids:{seed}:{anchor.isoformat()}")

    def hex(self, length):
        return f"{self.rng.getrandbits(4 * length):0{length}x}"

    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


class Stream:
    """Every event of the demo, in the order it was written."""

    def __init__(self, ids):
        self.ids = ids
        self.events = []

    def add(self, type_, at, body):
        self.events.append(
            {
                "id": f"evt_{self.ids.hex(24)}",
                "type": type_,
                "timestamp": at.isoformat(timespec="microseconds"),
                "body": body,
            }
        )


class RunRecorder:
    """One run's events on its own clock: each call writes at `now`, `wait()` moves the clock on."""

    def __init__(self, stream, rng, run_id, at, *, agent_id, session_id=None):
        self.stream = stream
        self.rng = rng
        self.run_id = run_id
        self.agent_id = agent_id
        self.session_id = session_id
        self.now = at
        self.started_at = at
        self.step_names = Counter()

    # -- the clock --------------------------------------------------------------------------------

    def wait(self, low_ms, high_ms=None):
        self.now += timedelta(milliseconds=low_ms if high_ms is None else self.rng.randint(low_ms, high_ms))

    def emit(self, type_, **body):
        self.stream.add(type_, self.now, {"run_id": self.run_id, **body})
        # Events of one run never share a timestamp: their order stays the order they were written.
        self.now += timedelta(microseconds=self.rng.randint(300, 2500))

    # -- run lifecycle ----------------------------------------------------------------------------

    def start(self, **body):
        if self.session_id:
            body["session_id"] = self.session_id
        self.emit("run.start", agent_id=self.agent_id, **body)

    def complete(self, output=None):
        self.emit("run.complete", output=output)

    def fail(self, error):
        self.emit("run.failed", error=error)

    def pause(self, reason):
        self.emit("run.paused", reason=reason)

    def resume(self, reason):
        self.emit("run.resumed", reason=reason)

    def checkpoint(self, state, trace):
        self.emit("state.checkpoint", state=state, trace=list(trace))

    # -- steps ------------------------------------------------------------------------------------

    def step_id(self, name):
        """`name` for the first step of that name, then `name-2`, `name-3`…"""
        self.step_names[name] += 1
        count = self.step_names[name]
        return name if count == 1 else f"{name}-{count}"

    def step(self, name, type_, *, parent=None, input=None, attempt=None):
        step_id = self.step_id(name)
        body = {"step_id": step_id, "name": name, "type": type_}
        if parent:
            body["parent_id"] = parent
        if input is not None:
            body["input"] = input
        if attempt:
            body["attempt"] = attempt
        self.emit("step.start", **body)
        return step_id

    def ok(self, step_id, output=None):
        self.emit("step.ok", step_id=step_id, output=output)

    def failed(self, step_id, error):
        self.emit("step.failed", step_id=step_id, error=error)

    def tool(self, tool, args, *, parent=None):
        step_id = self.step_id(tool)
        body = {"step_id": step_id, "tool": tool, "args": args}
        if parent:
            body["parent_id"] = parent
        self.emit("tool.call", **body)
        return step_id

    def tool_ok(self, step_id, result):
        self.emit("tool.ok", step_id=step_id, result=result)

    def tool_failed(self, step_id, error):
        self.emit("tool.failed", step_id=step_id, error=error)

    def llm(self, body, latency_ms):
        """A model call made at `now` that answers `latency_ms` later."""
        self.emit("llm.call", **body)
        self.wait(latency_ms)

    def gate(self, outcome, step_id, **body):
        self.emit(f"gate.{outcome}", step_id=step_id, **body)

    def log(self, name, *, parent=None, **body):
        step_id = self.step_id(name)
        if parent:
            body["parent_id"] = parent
        self.emit("log", step_id=step_id, name=name, **body)
        return step_id

    # -- conversation and business events ---------------------------------------------------------

    def message(self, role, content, *, step_id=None):
        body = {"session_id": self.session_id, "run_id": self.run_id, "agent_id": self.agent_id}
        body.update(role=role, content=content)
        if step_id:
            body["step_id"] = step_id
        self.stream.add("message", self.now, body)
        self.now += timedelta(microseconds=self.rng.randint(300, 2500))

    def track(self, name, properties):
        body = {"name": name, "properties": properties, "run_id": self.run_id, "agent_id": self.agent_id}
        if self.session_id:
            body["session_id"] = self.session_id
        self.stream.add("track", self.now, body)
        self.now += timedelta(microseconds=self.rng.randint(300, 2500))
