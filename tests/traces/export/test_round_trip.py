"""The issue's test: runs exported to a second workspace of the live test server, through its /v1/traces
with that workspace's ingest key, give the same rows as the original."""

import pytest
from django.forms.models import model_to_dict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.trace import set_span_in_context

from tests.factories import make_api_key, make_exporter, make_workspace
from tests.otel import genai_turn, openinference_turn, recording_tracer
from traces.export.outbox import export_pending
from traces.ingest.otlp import ingest_spans
from traces.models import ChatMessage, Event, ExportItem, ModelCall, Run, Session, Task

pytestmark = pytest.mark.django_db(transaction=True)

# Internal keys, bookkeeping and the times a row was written here rather than what happened.
INTERNAL = {
    "id",
    "workspace",
    "run",
    "session",
    "agent",
    "task",
    "parent",
    "updated_at",
    "received_at",
    "stamps",
}
TABLES = [
    (Run, "run_id"),
    (Session, "session_id"),
    (Task, "step_id"),
    (ModelCall, "call_id"),
    (ChatMessage, "event_id"),
    (Event, "event_id"),
]


def rows(workspace, payloads=True):
    """Every row of the run record, by table, with its links as public ids. Without the events'
    payloads: a span sent alone after its trace's others names less than the whole trace sent again."""
    found = {}
    internal = INTERNAL if payloads else INTERNAL | {"payload"}
    for model, key in TABLES:
        found[model.__name__] = [
            {
                **{k: v for k, v in model_to_dict(row).items() if k not in internal},
                "links": [
                    getattr(getattr(row, name, None), "pk", None) is not None
                    for name in ("run", "session", "agent", "parent", "task")
                ],
            }
            for row in model.objects.filter(workspace=workspace).order_by(key)
        ]
    found["Task parents"] = sorted(
        Task.objects.filter(workspace=workspace).values_list(
            "run__run_id", "step_id", "parent__step_id", "type"
        )
    )
    found["Run sessions"] = sorted(
        Run.objects.filter(workspace=workspace).values_list(
            "run_id", "session__session_id", "agent__agent_id", "user_id"
        )
    )
    return found


def ingest(workspace, spans):
    assert not ingest_spans(workspace, encode_spans(spans)).rejected


def test_exported_runs_land_in_another_workspace_as_the_same_rows(live_server):
    original, copy = make_workspace(), make_workspace()
    _, key = make_api_key(copy, scopes=("ingest",))
    make_exporter(
        original, endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"}
    )
    tracer, recorded = recording_tracer()
    root = genai_turn(tracer, fail_tool=True)
    openinference_turn(tracer)
    with tracer.start_as_current_span(
        "failing", attributes={"gen_ai.operation.name": "invoke_agent"}
    ) as failing:
        failing.record_exception(RuntimeError("the agent gave up"))
        failing.set_status(2, "the agent gave up")
    ingest(original, recorded.get_finished_spans())

    assert export_pending() == {"queued": 3, "sent": 3, "failed": 0}
    assert not ExportItem.objects.exists()
    assert rows(copy) == rows(original)
    assert Run.objects.get(workspace=copy, run_id=format(failing.context.trace_id, "032x")).status == "failed"

    # A late span of the first run, after it was exported: the run goes again, and the copy follows.
    recorded.clear()
    with tracer.start_as_current_span(
        "late tool", context=set_span_in_context(root), attributes={"gen_ai.operation.name": "execute_tool"}
    ):
        pass
    ingest(original, recorded.get_finished_spans())
    assert export_pending() == {"queued": 1, "sent": 1, "failed": 0}
    assert Task.objects.filter(workspace=copy, name="late tool").exists()
    assert rows(copy, payloads=False) == rows(original, payloads=False)

    # Nothing new: nothing sent.
    assert export_pending() == {"queued": 0, "sent": 0, "failed": 0}
