"""The standard-library client against the live test server: what lands, batching, overflow,
retries, flush (and flush at exit), sampling, the on_trace hook, event times, DataStorage and
TaskLogger, and the README's examples run as written. Trace context: test_client_trace_context."""

import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from metrics.models import TrackedEvent
from tests.events import BASE
from traces import client as backoffice
from traces.models import ChatMessage, ModelCall, Run, Task

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


class Relay:
    """A stand-in server in front of the live server: it can hold requests, or fail the first ones."""

    def __init__(self, target, *, fail_first=0, status=503, port=0):
        self.target, self.fail_left, self.status = target, fail_first, status
        self.release = threading.Event()
        self.release.set()
        self.requests = 0
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                relay.requests += 1
                relay.release.wait(10)
                if relay.fail_left:
                    relay.fail_left -= 1
                    self.send_response(relay.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                url = relay.target + self.path  # the live server, on the loopback
                forwarded = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
                try:
                    with urllib.request.urlopen(forwarded, timeout=10) as answer:  # noqa: S310
                        status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_run_with_spans_messages_and_a_model_call_lands_as_rows(make_client, keyed_workspace):
    client = make_client()
    with client.run("support", session_id="conv-7", user_id="u-1", input="Where is my order?") as run:
        client.message("user", "Where is my order?")
        with client.span("plan", type="agent") as plan:
            with client.span("lookup order", type="tool", input={"order": "A-1"}) as lookup:
                lookup.output = {"status": "shipped"}
            client.model_call(
                "gpt-4o-mini", provider="openai", prompt_tokens=40, completion_tokens=9, latency_ms=420
            )
            plan.output = "answer"
        client.message("assistant", {"type": "card", "title": "Shipped", "text": "It ships tomorrow."})
        client.track("order_lookup", {"found": True})
        run.output = "It ships tomorrow."
    assert client.flush()

    stored = Run.objects.select_related("session", "agent").get(run_id=run.run_id)
    assert (stored.status, stored.workflow, stored.agent.agent_id) == ("completed", "support", "support-bot")
    assert (stored.session.session_id, stored.user_id, stored.output) == (
        "conv-7",
        "u-1",
        "It ships tomorrow.",
    )
    tasks = {t.name: t for t in Task.objects.filter(run=stored).select_related("parent")}
    assert tasks["lookup order"].parent == tasks["plan"]
    assert (tasks["lookup order"].type, tasks["lookup order"].output) == ("tool", {"status": "shipped"})
    call = ModelCall.objects.get(run=stored)
    assert (call.task, call.total_tokens, call.latency_ms) == (tasks["plan"], 49, 420)
    turns = ChatMessage.objects.filter(session=stored.session).order_by("sequence")
    assert [m.role for m in turns] == ["user", "assistant"]
    assert TrackedEvent.objects.get(name="order_lookup").run == stored
    assert client.stats["dropped"] == client.stats["failed"] == 0


def test_an_exception_fails_the_span_and_the_run(make_client):
    client = make_client()
    with pytest.raises(KeyError), client.run("support") as run, client.span("fetch"):
        raise KeyError("order")
    client.flush()
    stored = Run.objects.get(run_id=run.run_id)
    assert stored.status == "failed"
    assert stored.error["type"] == "KeyError"
    assert Task.objects.get(run=stored).error["message"] == "'order'"


def test_it_sends_full_batches_of_fifty_and_the_rest_on_flush(make_client):
    client = make_client(flush_interval=60)
    for index in range(120):
        client.track("click", {"index": index})
    assert client.flush()
    assert client.stats["batches"] == 3
    assert client.stats["sent"] == 120
    assert TrackedEvent.objects.filter(name="click").count() == 120


def test_it_sends_a_partial_batch_after_the_interval(make_client):
    client = make_client(flush_interval=0.2)
    client.track("click")
    deadline = time.monotonic() + 5
    while not TrackedEvent.objects.filter(name="click").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert TrackedEvent.objects.filter(name="click").count() == 1


def test_a_full_queue_drops_and_counts_instead_of_blocking(make_client, live_server):
    relay = Relay(live_server.url)
    relay.release.clear()  # the server hangs: the first batch stays in flight
    try:
        client = make_client(relay.url, max_queue=10, batch_size=5)
        started = time.monotonic()
        for index in range(100):
            client.track("click", {"index": index})
        assert time.monotonic() - started < 1
        queued, dropped = client.stats["queued"], client.stats["dropped"]
        assert queued + dropped == 100
        assert dropped >= 85
        relay.release.set()
        assert client.flush()
        assert client.stats["sent"] == queued
        assert TrackedEvent.objects.filter(name="click").count() == queued
    finally:
        relay.stop()


def test_it_retries_a_503_with_backoff(make_client, live_server):
    relay = Relay(live_server.url, fail_first=2)
    try:
        client = make_client(relay.url)
        with client.run("support") as run:
            pass
        assert client.flush()
        assert relay.requests == 3
        assert client.stats["retries"] == 2
        assert client.stats["sent"] == 2
        assert Run.objects.get(run_id=run.run_id).status == "completed"
    finally:
        relay.stop()


def test_it_retries_while_the_server_is_unreachable(make_client, live_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", flush_interval=0, retry_backoff=0.2, max_retries=8)
    client.track("late")
    time.sleep(0.3)  # the first attempts meet a closed port
    relay = Relay(live_server.url, port=port)
    try:
        assert client.flush()
        assert client.stats["retries"] >= 1
        assert TrackedEvent.objects.filter(name="late").count() == 1
    finally:
        relay.stop()


def test_it_gives_up_after_its_retries_and_counts_the_loss(make_client, live_server):
    relay = Relay(live_server.url, fail_first=100, status=500)
    try:
        client = make_client(relay.url, max_retries=2, retry_backoff=0.01)
        client.track("lost")
        assert client.flush()
        assert (client.stats["failed"], client.stats["retries"], relay.requests) == (1, 2, 3)
    finally:
        relay.stop()


def test_a_batch_too_large_for_the_server_is_split(make_client, settings):
    settings.INGEST_MAX_BYTES = 1000
    client = make_client(flush_interval=60)
    for index in range(4):
        client.track("big", {"blob": f"{index}" * 200})
    assert client.flush()
    assert client.stats["sent"] == 4
    assert client.stats["batches"] == 2
    assert TrackedEvent.objects.filter(name="big").count() == 4


def test_a_copied_client_flushes_at_exit(live_server, keyed_workspace):
    """The module copied on its own, in a program that never calls flush()."""
    script = textwrap.dedent(
        f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("backoffice_client", {str(Path(backoffice.__file__))!r})
        bo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bo)
        bo.configure({live_server.url!r}, api_key={keyed_workspace[1]!r}, agent_id="script",
                     flush_interval=60)
        with bo.run("nightly", run_id="exit-run"):
            with bo.span("work"):
                pass
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)  # noqa: S603
    assert done.returncode == 0, done.stderr
    stored = Run.objects.get(run_id="exit-run")
    assert (stored.status, stored.agent.agent_id) == ("completed", "script")
    assert Task.objects.filter(run=stored).count() == 1


def test_sampling_leaves_out_runs_but_keeps_every_failed_one(make_client):
    client = make_client(sample_rate=0)
    with client.run("fine") as fine, client.span("step"):
        pass
    with pytest.raises(RuntimeError), client.run("broken") as broken:
        with client.span("ok step"):
            pass
        with client.span("bad step"):
            raise RuntimeError("boom")
    client.track("no run")
    assert client.flush()
    assert not Run.objects.filter(run_id=fine.run_id).exists()
    kept = Run.objects.get(run_id=broken.run_id)
    assert kept.status == "failed"
    assert sorted(Task.objects.filter(run=kept).values_list("name", "status")) == [
        ("bad step", "failed"),
        ("ok step", "ok"),
    ]
    assert client.stats["sampled_out"] == 4
    assert TrackedEvent.objects.filter(name="no run").exists()


def test_sampling_chooses_by_run_id_at_the_given_rate():
    sampler = backoffice._Sampler(0.3, 100, backoffice.Stats())
    kept = sum(sampler.keeps(f"run-{i}") for i in range(2000))
    assert 500 < kept < 700
    assert sampler.keeps("run-1") == sampler.keeps("run-1")


def test_track_takes_the_time_the_event_happened(make_client):
    client = make_client()
    paris = timezone(timedelta(hours=1))
    client.track("aware", timestamp=BASE.astimezone(paris))
    client.track("naive is utc", timestamp=BASE.replace(tzinfo=None))
    client.track("text in utc", timestamp=BASE.strftime("%Y-%m-%dT%H:%M:%SZ"))
    client.track("text with an offset", timestamp=(BASE + timedelta(hours=2)).astimezone(paris).isoformat())
    client.track("text without one", timestamp=BASE.replace(tzinfo=None).isoformat())
    client.track("now")
    assert client.flush()
    assert client.stats["sent"] == 6
    times = dict(TrackedEvent.objects.values_list("name", "timestamp"))
    assert (
        times["aware"] == times["naive is utc"] == times["text in utc"] == times["text without one"] == BASE
    )
    assert times["text with an offset"] == BASE + timedelta(hours=2)
    assert times["now"] > BASE + timedelta(days=2)


def test_a_timestamp_it_cannot_read_is_refused_at_the_call(make_client):
    client = make_client()
    with pytest.raises(ValueError, match="timestamp must be an ISO 8601 time"):
        client.track("x", timestamp="yesterday")
    with pytest.raises(TypeError, match="timestamp must be a datetime or an ISO 8601 string, not int"):
        client.track("x", timestamp=1_700_000_000)
    assert client.stats["queued"] == 0


def test_on_trace_can_change_or_drop_events(make_client):
    def redact(event):
        if event["type"] == "track":
            return None
        if event["type"] == "message":
            event["body"]["content"] = event["body"]["content"].replace("4111 1111", "[card]")
        return event

    client = make_client(on_trace=redact)
    with client.run("support", session_id="conv-9"):
        client.message("user", "My card is 4111 1111")
        client.track("secret")
    assert client.flush()
    assert ChatMessage.objects.get(session__session_id="conv-9").content == "My card is [card]"
    assert not TrackedEvent.objects.exists()
    assert client.stats["filtered"] == 1


def test_data_storage_keeps_runs_state_and_chat_history(make_client):
    client = make_client()
    storage = backoffice.DataStorage(client)
    storage.initialize_run("wf-1", workflow="refund", session_id="conv-3", input={"order": "A-1"})
    storage.save_state("wf-1", {"step": 2, "approved": False}, trace=["intake", "check"])
    assert storage.load_state("wf-1") == {"step": 2, "approved": False}
    storage.add_chat_message("conv-3", "user", "Refund please", run_id="wf-1")
    storage.add_chat_message("conv-3", "assistant", "Done.", run_id="wf-1")
    history = storage.get_chat_history("conv-3")
    assert [(m["role"], m["content"]) for m in history] == [("user", "Refund please"), ("assistant", "Done.")]
    assert storage.get_chat_history("conv-3", limit=1)[0]["content"] == "Done."
    # Another process (no local copy) reads the state back from the server.
    assert backoffice.DataStorage(client).load_state("wf-1") == {"step": 2, "approved": False}
    assert backoffice.DataStorage(client).load_state("no-such-run") is None
    assert backoffice.DataStorage(client).get_chat_history("no-such-session") == []
    storage.update_run("wf-1", "completed", output={"refunded": True})
    client.flush()
    run = Run.objects.get(run_id="wf-1")
    assert (run.status, run.output, run.trace) == ("completed", {"refunded": True}, ["intake", "check"])
    with pytest.raises(ValueError, match="status must be one of"):
        storage.update_run("wf-1", "exploded")


def test_task_logger_logs_nodes_and_model_calls(make_client):
    client = make_client()
    backoffice.DataStorage(client).initialize_run("wf-2", workflow="refund")
    logger = backoffice.TaskLogger("wf-2", client)
    logger.log_node("intake", "running", input={"order": "A-1"})
    intake = logger.log_node("intake", "ok", output={"valid": True})
    check = logger.log_node("check", "failed", error=ValueError("no receipt"), parent_id=intake)
    logger.log_model_call("gpt-4o-mini", step_id=intake, prompt_tokens=10, completion_tokens=2, cost=0.001)
    logger.close()
    tasks = {t.name: t for t in Task.objects.filter(run__run_id="wf-2").select_related("parent")}
    assert (tasks["intake"].step_id, tasks["intake"].status) == (intake, "ok")
    assert (tasks["intake"].input, tasks["intake"].output) == ({"order": "A-1"}, {"valid": True})
    assert (tasks["check"].step_id, tasks["check"].status, tasks["check"].parent) == (
        check,
        "failed",
        tasks["intake"],
    )
    assert tasks["check"].error["message"] == "no receipt"
    assert ModelCall.objects.get(run__run_id="wf-2").task == tasks["intake"]


def test_without_a_url_or_key_it_sends_nothing_and_never_fails():
    client = backoffice.Client("", "", flush_at_exit=False)
    with client.run("offline"):
        client.track("x")
    assert client.flush()
    assert client.stats["queued"] == 0


def test_the_readme_example_runs_against_a_backoffice(live_server, keyed_workspace):
    workspace, key = keyed_workspace
    example = Path(__file__).resolve().parents[2] / "examples" / "send_events.py"
    environment = {**os.environ, "BACKOFFICE_URL": live_server.url, "BACKOFFICE_API_KEY": key}
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(example)], capture_output=True, text=True, timeout=60, env=environment
    )
    assert done.returncode == 0, done.stderr
    assert "'failed': 0" in done.stdout
    runs = Run.objects.filter(workspace=workspace)
    assert sorted(runs.values_list("workflow", "status")) == [
        ("refund", "failed"),
        ("support", "completed"),
        ("support", "completed"),
    ]
    assert ChatMessage.objects.filter(workspace=workspace).count() == 4
    assert TrackedEvent.objects.filter(workspace=workspace, name="question_answered").count() == 2


def readme_client_code():
    """The Python blocks of the README's client section, in order: what a reader copies."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Python client\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"^```python\n(.*?)^```", section, re.DOTALL | re.MULTILINE))


IMPORT_FROM_CHECKOUT = "from traces import client as bo  # or: import backoffice_client as bo"


@pytest.mark.parametrize("copied", [False, True], ids=["in the checkout", "copied"])
def test_the_readme_client_section_runs_as_written(live_server, keyed_workspace, tmp_path, copied):
    workspace, key = keyed_workspace
    code = readme_client_code()
    assert "sample_rate" not in code
    assert IMPORT_FROM_CHECKOUT in code
    where = ROOT
    if copied:  # the client file on its own, beside an agent outside the checkout
        (tmp_path / "backoffice_client.py").write_text(Path(backoffice.__file__).read_text())
        code, where = code.replace(IMPORT_FROM_CHECKOUT, "import backoffice_client as bo"), tmp_path
    environment = {**os.environ, "BACKOFFICE_URL": live_server.url, "BACKOFFICE_API_KEY": key}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=environment, cwd=where
    )
    assert (done.returncode, done.stderr) == (0, "")  # nothing rejected, dropped or failed

    runs = {
        r.session.session_id: r for r in Run.objects.filter(workspace=workspace).select_related("session")
    }
    assert set(runs) == {"conv-1", "conv-2"}  # the called service joined the caller's run
    support = runs["conv-1"]
    assert (support.status, support.workflow, support.output) == (
        "completed",
        "support",
        "It ships tomorrow.",
    )
    assert Task.objects.get(run=support).output == {"status": "shipped"}
    assert ModelCall.objects.get(run=support).total_tokens == 204
    assert [m.role for m in ChatMessage.objects.filter(session=support.session).order_by("sequence")] == [
        "user",
        "assistant",
    ]
    assert TrackedEvent.objects.get(name="question_answered").run == support
    assert TrackedEvent.objects.get(name="order_shipped").timestamp == datetime(
        2026, 11, 20, 9, 30, tzinfo=UTC
    )
    tasks = {t.name: t for t in Task.objects.filter(run=runs["conv-2"]).select_related("parent")}
    assert tasks["billing"].parent == tasks["refund"]
    assert tasks["charge card"].parent == tasks["billing"]
    assert tasks["charge card"].output == {"charged": 42.0}
