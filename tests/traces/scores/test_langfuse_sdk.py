"""The real Langfuse SDK (latest and 3.x, in the venvs the conformance recorder makes) giving scores
to the live test server: auth_check() passes, every score lands, and the SDK logs no error."""

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conformance.record import command_for
from tests.factories import make_run, make_score_config, make_task
from traces.models import Score

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = Path(__file__).with_name("langfuse_scores.py")
ROOT = SCRIPT.parents[3]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture
def scored_trace(keyed_workspace):
    workspace, _ = keyed_workspace
    run = make_run(workspace, run_id=TRACE_ID)
    make_task(run, step_id=SPAN_ID)
    make_score_config(workspace, name="helpfulness", min_value=1, max_value=5)
    make_score_config(
        workspace,
        name="tone",
        data_type="categorical",
        categories=[{"label": "ok", "value": 0}, {"label": "rude", "value": 1}],
    )
    make_score_config(workspace, name="hallucination", data_type="boolean")
    return run


@pytest.mark.parametrize("client", ["langfuse-latest", "langfuse-3"])
def test_the_sdk_gives_scores_with_no_error_logged(client, live_server, keyed_workspace, scored_trace):
    python, _ = command_for(client)
    environment = {
        **os.environ,
        "LANGFUSE_HOST": live_server.url,
        "LANGFUSE_BASE_URL": live_server.url,
        "LANGFUSE_PUBLIC_KEY": "pk-lf-tests",
        "LANGFUSE_SECRET_KEY": keyed_workspace[1],
        "TRACE_ID": TRACE_ID,
        "SPAN_ID": SPAN_ID,
    }
    done = subprocess.run(  # noqa: S603 - the SDK's interpreter running our script
        [python, str(SCRIPT)], env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "scored"
    assert "ERROR" not in done.stderr, done.stderr
    stored = {score.client_id: score for score in Score.objects.select_related("task")}
    assert sorted(stored) == ["lf-bool", "lf-cat", "lf-num", "lf-span"]
    assert (stored["lf-num"].value, stored["lf-num"].comment, stored["lf-num"].source) == (
        4.0,
        "clear",
        "sdk",
    )
    assert (stored["lf-cat"].string_value, stored["lf-bool"].string_value) == ("rude", "false")
    assert stored["lf-span"].task.step_id == SPAN_ID
    assert all(score.run_id == scored_trace.pk for score in stored.values())


def basic(key):
    return "Basic " + base64.b64encode(f"pk-lf-tests:{key}".encode()).decode()


def test_the_ingestion_endpoint_answers_each_event_in_a_multi_status(client, keyed_workspace, scored_trace):
    batch = [
        {
            "id": "e1",
            "type": "score-create",
            "body": {"traceId": TRACE_ID, "name": "helpfulness", "value": 2},
        },
        {
            "id": "e2",
            "type": "score-create",
            "body": {"traceId": TRACE_ID, "name": "helpfulness", "value": 9},
        },
        {"id": "e3", "type": "trace-create", "body": {"id": TRACE_ID}},
    ]
    response = client.post(
        "/api/public/ingestion",
        json.dumps({"batch": batch}),
        content_type="application/json",
        headers={"Authorization": basic(keyed_workspace[1])},
    )
    assert response.status_code == 207
    answer = response.json()
    assert answer["successes"] == [{"id": "e1", "status": 201}]
    assert [(error["id"], error["status"]) for error in answer["errors"]] == [("e3", 400), ("e2", 400)]
    assert "value: 9 is above the maximum" in answer["errors"][1]["message"]


def test_the_scores_endpoint_names_the_langfuse_field_and_needs_a_key(client, keyed_workspace, scored_trace):
    headers = {"Authorization": basic(keyed_workspace[1])}
    one = {"traceId": "f" * 32, "name": "helpfulness", "value": 3}
    response = client.post(
        "/api/public/scores", json.dumps(one), content_type="application/json", headers=headers
    )
    assert (response.status_code, response.json()["message"]) == (
        400,
        "traceId: no run of this workspace has that id",
    )
    many = [{**one, "traceId": TRACE_ID}, one]
    response = client.post(
        "/api/public/scores", json.dumps(many), content_type="application/json", headers=headers
    )
    assert response.status_code == 207
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 1)
    assert client.get("/api/public/projects").status_code == 401
    assert (
        client.get("/api/public/projects", headers=headers).json()["data"][0]["id"] == keyed_workspace[0].slug
    )
