"""The real exporters against the live test server: OpenTelemetry's OTLP/HTTP exporter (protobuf,
gzip), OTLP/JSON, and the Langfuse SDK through its OTel endpoint. Then the rows are read back."""

import uuid

import pytest
from langfuse import Langfuse, propagate_attributes
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

from tests.factories import make_api_key, make_workspace
from tests.otel import JsonSpanExporter, genai_turn, openinference_turn, trace_id_of
from traces.models import ChatMessage, Event, ModelCall, Run, Task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def keyed_workspace():
    workspace = make_workspace()
    _, key = make_api_key(workspace)
    return workspace, key


def tracer_with(exporter, processor=BatchSpanProcessor, service="support-bot"):
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(processor(exporter))
    return provider


def read_back(workspace):
    run = Run.objects.select_related("session", "agent").get(workspace=workspace)
    tasks = {t.name: t for t in Task.objects.filter(run=run)}
    return run, tasks


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_otlp_exporter_sends_genai_spans_in_protobuf(live_server, keyed_workspace, compression):
    workspace, key = keyed_workspace
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"Authorization": f"Bearer {key}"},
        compression=compression,
    )
    provider = tracer_with(exporter)
    root = genai_turn(provider.get_tracer("app"), fail_tool=True)
    assert provider.force_flush()
    provider.shutdown()

    run, tasks = read_back(workspace)
    assert run.run_id == trace_id_of(root)
    assert (run.status, run.workflow, run.session.session_id) == ("completed", "support turn", "conv-1")
    assert tasks["execute_tool get_order"].status == "failed"
    assert ModelCall.objects.filter(run=run).count() == 2
    assert run.total_tokens == 362
    assert ChatMessage.objects.filter(run=run).count() == 5
    assert Event.objects.filter(run=run, type="log", payload__level="error").count() == 1


def test_spans_exported_one_by_one_children_first_land_in_one_run(live_server, keyed_workspace):
    workspace, key = keyed_workspace
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"}
    )
    # The simple processor exports each span as it ends: every child in its own request, before the root.
    provider = tracer_with(exporter, processor=SimpleSpanProcessor)
    genai_turn(provider.get_tracer("app"))
    provider.shutdown()

    run, tasks = read_back(workspace)
    assert (run.status, run.workflow, run.agent.agent_id) == ("completed", "support turn", "support-agent")
    root = tasks["support turn"]
    assert {t.parent_id for name, t in tasks.items() if name != "support turn"} == {root.pk}
    assert [m.role for m in ChatMessage.objects.filter(run=run).order_by("sequence")] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


def test_otlp_json_lands_like_protobuf(live_server, keyed_workspace):
    workspace, key = keyed_workspace
    exporter = JsonSpanExporter(f"{live_server.url}/v1/traces", {"Authorization": f"Bearer {key}"})
    provider = tracer_with(exporter, service="rag-service")
    openinference_turn(provider.get_tracer("app"))
    assert provider.force_flush()
    provider.shutdown()

    run, tasks = read_back(workspace)
    assert (run.agent.agent_id, run.session.session_id, run.output) == (
        "rag-service",
        "oi-session",
        "30 days.",
    )
    assert {name: t.type for name, t in tasks.items()} == {
        "RetrievalQA": "function",
        "retrieve": "retriever",
        "ChatAnthropic": "llm",
    }
    call = ModelCall.objects.get(run=run)
    assert (call.model, call.prompt_tokens, call.completion_tokens) == ("claude-sonnet-4", 50, 4)


def test_the_langfuse_sdk_sends_through_its_otel_endpoint(live_server, keyed_workspace):
    workspace, key = keyed_workspace
    provider = TracerProvider()
    public_key = f"pk-lf-{uuid.uuid4().hex}"  # anything: Backoffice reads the key from the password
    langfuse = Langfuse(
        public_key=public_key, secret_key=key, base_url=live_server.url, tracer_provider=provider
    )
    question = [{"role": "user", "content": "Can I change my delivery address?"}]
    with langfuse.start_as_current_observation(
        name="answer-question", as_type="agent", input=question
    ) as agent:
        with propagate_attributes(session_id="lf-session", user_id="lf-user", tags=["beta"]):
            with langfuse.start_as_current_observation(
                name="draft answer",
                as_type="generation",
                model="gpt-4o-mini",
                input=question,
                model_parameters={"temperature": 0},
                usage_details={"input": 12, "output": 5},
                cost_details={"input": 0.0003, "output": 0.0001},
            ) as generation:
                generation.update(output={"role": "assistant", "content": "Yes, until it ships."})
            with langfuse.start_as_current_observation(
                name="lookup order", as_type="tool", input={"order": "A-1"}
            ) as tool:
                tool.update(output={"status": "packing"})
            with langfuse.start_as_current_observation(name="policy check", level="ERROR") as check:
                check.update(status_message="policy service unavailable")
        agent.update(output="Yes, until it ships.")
    langfuse.flush()
    langfuse.shutdown()
    provider.shutdown()  # closes the exporter's HTTP connection, which holds a server thread

    run, tasks = read_back(workspace)
    assert (run.workflow, run.status) == ("answer-question", "completed")
    assert (run.session.session_id, run.user_id, run.tags) == ("lf-session", "lf-user", ["beta"])
    assert run.output == "Yes, until it ships."
    assert {name: t.type for name, t in tasks.items()} == {
        "answer-question": "agent",
        "draft answer": "llm",
        "lookup order": "tool",
        "policy check": "custom",
    }
    assert tasks["lookup order"].output == {"status": "packing"}
    assert (tasks["policy check"].status, tasks["policy check"].error) == (
        "failed",
        "policy service unavailable",
    )
    call = ModelCall.objects.get(run=run)
    assert (call.model, call.prompt_tokens, call.completion_tokens) == ("gpt-4o-mini", 12, 5)
    assert str(call.cost) == "0.0004000000"
    turns = ChatMessage.objects.filter(session=run.session).order_by("sequence")
    assert [(m.role, m.content) for m in turns] == [
        ("user", "Can I change my delivery address?"),
        ("assistant", "Yes, until it ships."),
    ]
