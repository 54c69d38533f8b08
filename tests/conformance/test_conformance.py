"""Replay what each real client package sent (recordings/<client>/) through the live test server and
compare the stored rows with what a user of that client expects (expected.py), client by client.

Needs only the project's dev lock: the recordings are the bytes the packages sent. Re-record with
`python -m tests.conformance.record`.
"""

import base64
import difflib
import json
import re
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conformance.expected import EXPECTED, FAILURE, GAPS
from tests.conformance.table import END, START, readme_table
from tests.factories import make_api_key, make_workspace
from traces.models import ChatMessage, ModelCall, Run, Task
from traces.views.graphs import MAX_STEPS, build_graph, has_declared_graph, load_steps

pytestmark = pytest.mark.django_db(transaction=True)

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def recorded_requests(client):
    folder = RECORDINGS / client
    for entry in json.loads((folder / "index.json").read_text()):
        yield entry, (folder / entry["file"]).read_bytes()


def replay(base_url, key, client):
    """POST every recorded request as it was sent, with this workspace's key. Returns the answers."""
    answers = []
    for entry, body in recorded_requests(client):
        headers = {"Content-Type": entry["content_type"]}
        if entry["content_encoding"]:
            headers["Content-Encoding"] = entry["content_encoding"]
        if entry["path"].startswith("/api/public/"):  # Langfuse: Basic auth, the key as the password
            headers["Authorization"] = (
                "Basic " + base64.b64encode(f"pk-lf-conformance:{key}".encode()).decode()
            )
        else:
            headers["Authorization"] = f"Bearer {key}"
        url = base_url + entry["path"]
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the live test server
                answers.append((entry["path"], response.status))
        except urllib.error.HTTPError as error:
            answers.append((entry["path"], error.code))
    return answers


def text_of(content):
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, sort_keys=True)


def cost_of(value):
    if value is None:
        return "unknown"
    return "priced" if value > 0 else "zero"


def stored_rows(workspace, expected):
    """The rows in the shape of the expectation, so a failure prints a readable diff."""
    runs = list(Run.objects.filter(workspace=workspace).select_related("session"))
    run = runs[0] if len(runs) == 1 else None
    rows = {"runs": len(runs)}
    if run is None:
        return rows
    rows["run"] = {
        "status": run.status,
        "session": run.session.session_id if run.session else None,
        "user": run.user_id or (run.session.user_id if run.session else None),
    }
    if "tags" in expected["run"]:
        rows["run"]["tags"] = sorted(run.tags or [])
    if "metadata" in expected["run"]:
        rows["run"]["metadata"] = {key: run.metadata.get(key) for key in expected["run"]["metadata"]}
    turns = ChatMessage.objects.filter(run=run).order_by("sequence", "created_at", "id")
    rows["turns"] = [[turn.role, text_of(turn.content)] for turn in turns]
    untyped = {task[0] for task in expected["tasks"] if task[1] is None}
    tasks = Task.objects.filter(run=run).select_related("parent")
    rows["tasks"] = sorted(
        (
            [
                task.name,
                None if task.name in untyped else task.type,
                task.parent.name if task.parent else None,
                "failed" if task.status == "failed" else "ok",
                error_piece(task.error),
            ]
            for task in tasks
        ),
        key=task_key,
    )
    calls = ModelCall.objects.filter(run=run)
    rows["model_calls"] = sorted(
        (
            split(call, expected_call(expected, call))
            | {
                "model": call.model,
                "prompt_tokens": call.prompt_tokens,
                "completion_tokens": call.completion_tokens,
                "cached_tokens": call.cached_tokens,
                "finish_reason": call.finish_reason,
                "status": "error" if call.status == "error" else "ok",
                "error": error_piece(call.error),
                "latency": call.latency_ms is not None,
                "ttft": call.ttft_ms is not None,
                "cost": exact_or_kind(call.cost, expected_call(expected, call).get("cost", "priced")),
            }
            for call in calls
        ),
        key=call_key,
    )
    if "graph" in expected:
        rows["graph"] = default_graph(run)
    return rows


def error_piece(error):
    """The expected piece of the error when the stored error holds it, else what is stored."""
    if error is None:
        return None
    text = text_of(error)
    return FAILURE if FAILURE in text else text[:120]


def default_graph(run):
    """The run's DAG as the Graph tab shows it first, by node name (a declared workflow, if any)."""
    declared = has_declared_graph(run)
    steps, _ = load_steps(run, MAX_STEPS)
    graph = build_graph(run, "workflow" if declared else "aggregated", steps)
    names = {key: node.name for key, node in graph.nodes.items()}
    edges = (
        [names.get(edge.source, edge.source), names.get(edge.target, edge.target)] for edge in graph.edges
    )
    # LangGraph's own __start__ and __end__ may be drawn or not: the graph is the agent's nodes
    return {
        "nodes": sorted(name for name in names.values() if not name.startswith("__")),
        "edges": sorted(edge for edge in edges if not any(name.startswith("__") for name in edge)),
    }


def task_key(task):
    return [("" if item is None else str(item)) for item in task]


def expected_call(expected, call):
    """The expected call this stored one stands for (same model and prompt tokens), or {}."""
    for wanted in expected["model_calls"]:
        if wanted["model"] == call.model and wanted["prompt_tokens"] == call.prompt_tokens:
            return wanted
    return {}


def split(call, wanted):
    """Input and output cost, where the expectation names them."""
    if "cost_split" not in wanted:
        return {}
    return {"cost_split": [exact_or_kind(call.input_cost, "exact"), exact_or_kind(call.output_cost, "exact")]}


def exact_or_kind(value, wanted):
    if wanted not in ("priced", "unknown", "zero") and value is not None:
        return format(Decimal(value).normalize(), "f")
    return cost_of(value)


def call_key(call):
    """Calls in a stable order on both databases: by model and tokens, then by everything."""
    return (call["model"], call["prompt_tokens"], call["completion_tokens"], json.dumps(call, sort_keys=True))


def wanted_rows(expected):
    return {
        "runs": 1,
        "run": expected["run"] | {"tags": sorted(expected["run"]["tags"])}
        if "tags" in expected["run"]
        else expected["run"],
        "turns": expected["turns"],
        "tasks": sorted(expected["tasks"], key=task_key),
        "model_calls": sorted(expected["model_calls"], key=call_key),
        **({"graph": expected["graph"]} if "graph" in expected else {}),
    }


def turns_match(stored, wanted):
    """Same roles in the same order, each stored turn containing its expected piece of text."""
    return len(stored) == len(wanted) and all(
        role == wanted_role and piece in text
        for (role, text), (wanted_role, piece) in zip(stored, wanted, strict=True)
    )


@pytest.mark.parametrize("client", sorted(EXPECTED))
def test_a_recorded_client_arrives_whole(live_server, client):
    workspace = make_workspace()
    _, key = make_api_key(workspace)
    answers = replay(live_server.url, key, client)

    expected = EXPECTED[client]
    stored, wanted = stored_rows(workspace, expected), wanted_rows(expected)
    stored["refused"] = [f"{path} {status}" for path, status in answers if not 200 <= status < 300]
    wanted["refused"] = []
    if turns_match(stored.get("turns", []), wanted["turns"]):
        stored["turns"] = wanted["turns"]  # matched piece by piece: show the pieces, not the texts
    gaps = GAPS.get(client, {})
    stored_text, wanted_text = as_text(without(stored, gaps)), as_text(without(wanted, gaps))
    diff = "\n".join(difflib.unified_diff(wanted_text, stored_text, "expected", "stored", lineterm="", n=2))
    assert stored_text == wanted_text, f"{client}: the stored rows differ from the expectation:\n{diff}"
    closed = [
        gap for gap in gaps if without(stored, gaps.keys() - {gap}) == without(wanted, gaps.keys() - {gap})
    ]
    assert not closed, f"{client}: {closed} now arrive as expected: take them off GAPS in expected.py"


def without(rows, gaps):
    """The rows less the known gaps: a whole section ("turns") or one field of it ("model_calls.cost")."""
    rows = dict(rows)
    for gap in gaps:
        section, _, field = gap.partition(".")
        value = rows.get(section)
        if not field:
            rows.pop(section, None)
        elif isinstance(value, dict):
            rows[section] = {key: item for key, item in value.items() if key != field}
        elif isinstance(value, list):
            items = ({key: item for key, item in row.items() if key != field} for row in value)
            rows[section] = sorted(items, key=lambda row: json.dumps(row, sort_keys=True))
    return rows


def as_text(rows):
    """Lines to diff: one per turn, task and model call, so a diff names the row that differs."""
    lines = []
    for key in sorted(rows):
        value = rows[key]
        if isinstance(value, list):
            lines.append(f"{key}:")
            lines.extend(f"  {json.dumps(item, sort_keys=True, ensure_ascii=False)}" for item in value)
        else:
            lines.append(f"{key}: {json.dumps(value, sort_keys=True, ensure_ascii=False)}")
    return lines


def test_the_readme_table_says_what_the_expectations_say():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    found = re.search(f"{re.escape(START)}\n(.*?)\n{re.escape(END)}", readme, re.S)
    assert found, "README.md has no conformance table between its markers"
    assert found.group(1) == readme_table(), "regenerate it: python -m tests.conformance.table"


def test_every_client_has_recordings_and_an_expectation():
    recorded = {path.name for path in RECORDINGS.iterdir() if (path / "index.json").exists()}
    assert recorded == set(EXPECTED)
