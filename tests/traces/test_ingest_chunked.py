"""Bodies sent with Transfer-Encoding: chunked (no Content-Length), as the OpenTelemetry JS exporter and
proxies send them, through gunicorn as deployed: Django's test client cannot send chunked bodies."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.events import event
from tests.factories import make_api_key, make_workspace
from tests.otel import protobuf_body, recording_tracer, trace_id_of
from tests.processes import database_url, free_port

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
LIMIT = 200_000


@pytest.fixture
def served(tmp_path):
    """(port, key): gunicorn on a free loopback port over the test database, with a key to send with."""
    workspace = make_workspace()
    _, key = make_api_key(workspace)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(tmp_path),
        "SECRET_KEY": "tests",
        "DEBUG": "0",
        "INGEST_MAX_BYTES": str(LIMIT),
    }
    command = [sys.executable, "-m", "gunicorn", "backoffice.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen([*command, "--workers", "1", "--log-level", "warning"], cwd=ROOT, env=env)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.2)
        yield port, key
    finally:
        process.terminate()
        process.wait(timeout=30)


def send_chunked(port, path, body, key, content_type="application/json", chunk=8192, method="POST"):
    """POST `body` in chunks with Transfer-Encoding: chunked and no Content-Length; (status, bytes)."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    chunks = (body[i : i + chunk] for i in range(0, len(body), chunk))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    client.request(method, path, body=chunks, headers=headers, encode_chunked=True)
    response = client.getresponse()
    answer = response.status, response.read()
    client.close()
    return answer


def get(port, path, key):
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    client.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = client.getresponse()
    answer = response.status, response.read()
    client.close()
    return answer


def test_both_ingest_routes_read_a_chunked_body_and_store_what_it_holds(served):
    port, key = served
    batch = [event("run.start", {"run_id": "chunked-run", "agent_id": "bot", "input": "x" * 30_000})]
    status, body = send_chunked(port, "/api/v1/ingest", json.dumps({"batch": batch}).encode(), key)
    assert status == 200, body
    assert json.loads(body)["accepted"] == 1
    assert get(port, "/api/v1/runs/chunked-run", key)[0] == 200

    tracer, exporter = recording_tracer()
    with tracer.start_as_current_span("job"):
        pass
    spans = exporter.get_finished_spans()
    status, body = send_chunked(
        port, "/v1/traces", protobuf_body(spans), key, "application/x-protobuf", chunk=7
    )
    assert status == 200, body
    assert get(port, f"/api/v1/runs/{trace_id_of(spans[0])}", key)[0] == 200


def test_a_chunked_body_past_the_size_limit_is_a_413(served):
    port, key = served
    too_big = json.dumps(
        {"batch": [event("track", {"name": "x", "properties": {"p": "y" * LIMIT}})]}
    ).encode()
    status, body = send_chunked(port, "/api/v1/ingest", too_big, key)
    assert status == 413, body
    assert json.loads(body)["field"] == "body"
