"""`manage.py logs --follow` keeps constant memory while a long run streams in."""

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from traces.ingest import ingest_batch

from .ingest import ROOT, drop_workspaces, growth, resident_kib, scratch_workspace, server_env
from .measure import Figure, not_measured
from .payloads import Payloads

TARGET = "growth ≤ 20 %"


def step_events(run_id, count, batch=1000):
    """Batches of step.start / step.ok pairs of one run, ~1 KB payloads, a millisecond apart."""
    pay = Payloads(5)
    start = datetime.now(UTC) - timedelta(hours=1)
    events = []
    for n in range(count // 2):
        at = (start + timedelta(milliseconds=n)).isoformat()
        body = {"run_id": run_id, "step_id": f"s{n}"}
        events.append(
            {
                "id": f"{run_id}-{n}-a",
                "type": "step.start",
                "timestamp": at,
                "body": {**body, "name": f"step_{n % 50}", "input": json.loads(pay.task_inputs[n % 256])},
            }
        )
        events.append(
            {
                "id": f"{run_id}-{n}-b",
                "type": "step.ok",
                "timestamp": at,
                "body": {**body, "output": json.loads(pay.task_outputs[n % 256])},
            }
        )
        if len(events) >= batch:
            yield events
            events = []
    if events:
        yield events


def follow_figure(*, events, committed):
    name = f"logs --follow over {events:,} events of one run"
    if not committed:
        return not_measured(
            name, TARGET, "the follower is another process: it needs committed data (a server run)"
        )
    workspace = scratch_workspace("follow")
    run_id = f"{workspace.slug}-run"
    follower = None
    try:
        ingest_batch(workspace, [start_event(run_id)])
        command = [sys.executable, "manage.py", "logs", "--run", run_id, "--workspace", workspace.slug]
        command += ["--until-done", "--json", "--interval", "0.2"]
        follower = subprocess.Popen(command, cwd=ROOT, env=server_env(), stdout=subprocess.DEVNULL)  # noqa: S603
        samples = []
        for batch in step_events(run_id, events):
            ingest_batch(workspace, batch)
            time.sleep(0.3)  # a poll or so: the follower reads what was just committed
            samples.append(resident_kib([follower.pid]))
        ingest_batch(workspace, [end_event(run_id)])
        follower.wait(timeout=300)
        if len(samples) < 10:
            return not_measured(name, TARGET, "too few batches to tell (run more events)")
        grew, early, late = growth(samples)
        note = f"{early / 1024:,.0f} MiB after warm-up, {late / 1024:,.0f} MiB at the end"
        note += f"; the follower exited {follower.returncode} when the run ended"
        return Figure(
            name, TARGET, f"{grew * 100:+.0f} %", grew <= 0.2 and follower.returncode == 0, note=note
        )
    finally:
        if follower and follower.poll() is None:
            follower.terminate()
            follower.wait(timeout=30)
        drop_workspaces([workspace])


def start_event(run_id):
    at = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    return {
        "id": f"{run_id}-start",
        "type": "run.start",
        "timestamp": at,
        "body": {"run_id": run_id, "agent_id": "bench"},
    }


def end_event(run_id):
    at = datetime.now(UTC).isoformat()
    return {"id": f"{run_id}-end", "type": "run.complete", "timestamp": at, "body": {"run_id": run_id}}
