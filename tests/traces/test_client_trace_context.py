"""W3C trace context in the Python client: a run that crosses services is one run, whether the other
service uses this client or OpenTelemetry, checked against the live test server."""

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tests.otel import span_id_of, trace_id_of
from traces import client as backoffice
from traces.models import ModelCall, Run, Task

pytestmark = pytest.mark.django_db(transaction=True)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


class Billing:
    """A second service behind HTTP, instrumented with its own client: it continues the caller's run
    from the request's headers."""

    def __init__(self, client, fail=False):
        self.client, self.fail, self.seen = client, fail, None
        billing = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                billing.seen = self.headers.get("traceparent")
                status = 200
                try:
                    billing.handle(self.headers.get("traceparent"), self.headers.get("tracestate"))
                except RuntimeError:
                    status = 502
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/refund"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, traceparent, tracestate):
        client = self.client
        with client.run(
            "billing", traceparent=traceparent, tracestate=tracestate, input={"amount": 42}
        ) as part:
            with client.span("charge card", type="tool") as charge:
                client.model_call("gpt-4o-mini", prompt_tokens=10, completion_tokens=2)
                self.outgoing = client.inject({})
                if self.fail:
                    raise RuntimeError("card declined")
                charge.output = {"charged": 42}
            part.output = "refunded"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def call(url, headers):
    request = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def billing(make_client):
    services = []

    def start(fail=False, **options):
        service = Billing(make_client(agent_id="billing-bot", **options), fail=fail)
        services.append(service)
        return service

    yield start
    for service in services:
        service.stop()


def tasks_of(run_id):
    return {t.name: t for t in Task.objects.filter(run__run_id=run_id).select_related("parent")}


def test_a_run_that_calls_another_service_is_one_run(make_client, billing, keyed_workspace):
    support, service = make_client(), billing()
    with support.run("support", session_id="conv-1") as run, support.span("refund", type="tool") as refund:
        headers = support.inject({"Content-Type": "application/json"})
        assert call(service.url, headers) == 200
    assert support.flush() and service.client.flush()

    assert headers["traceparent"] == f"00-{run.run_id}-{refund.step_id}-01"
    assert service.seen == headers["traceparent"]
    assert Run.objects.filter(workspace=keyed_workspace[0]).count() == 1
    stored = Run.objects.select_related("agent").get(run_id=run.run_id)
    assert (stored.status, stored.workflow, stored.agent.agent_id) == ("completed", "support", "support-bot")
    tasks = tasks_of(run.run_id)
    assert set(tasks) == {"refund", "billing", "charge card"}
    assert tasks["billing"].parent == tasks["refund"]
    assert (tasks["billing"].type, tasks["billing"].status) == ("agent", "ok")
    assert (tasks["billing"].input, tasks["billing"].output) == ({"amount": 42}, "refunded")
    assert tasks["billing"].metadata == {"agent_id": "billing-bot"}
    assert tasks["charge card"].parent == tasks["billing"]
    assert ModelCall.objects.get(run=stored).task == tasks["charge card"]
    # Further on, the second service names its own step.
    assert service.outgoing == {"traceparent": f"00-{run.run_id}-{tasks['charge card'].step_id}-01"}


def test_a_failure_in_the_called_service_fails_its_step_not_the_callers_run(make_client, billing):
    support, service = make_client(), billing(fail=True)
    with support.run("support") as run, support.span("refund", type="tool") as refund:
        refund.output = {"billing": call(service.url, support.inject({}))}
    assert support.flush() and service.client.flush()
    assert Run.objects.get(run_id=run.run_id).status == "completed"
    tasks = tasks_of(run.run_id)
    assert (tasks["refund"].status, tasks["refund"].output) == ("ok", {"billing": 502})
    assert (tasks["billing"].status, tasks["billing"].error["message"]) == ("failed", "card declined")
    assert tasks["charge card"].status == "failed"


def test_tracestate_is_passed_on_unchanged(make_client):
    client = make_client()
    with client.run(traceparent=f"00-{TRACE}-{PARENT}-01", tracestate="congo=t61rcWkgMzE,rojo=00f067aa"):
        assert client.inject({})["tracestate"] == "congo=t61rcWkgMzE,rojo=00f067aa"
    with client.run():
        assert "tracestate" not in client.inject({})


def test_outside_a_run_there_is_no_trace_context(make_client):
    client = make_client()
    assert client.traceparent() is None
    assert client.inject({"Accept": "*/*"}) == {"Accept": "*/*"}
    # A run id that is not a W3C trace id cannot travel in the header.
    with client.run(run_id="nightly-2026-12-01"):
        assert client.traceparent() is None


def test_in_a_run_outside_any_span_the_header_names_the_run(make_client):
    client = make_client()
    with client.run() as run:
        header = client.traceparent()
    assert header == f"00-{run.run_id}-{run.step_id}-01"
    assert not Task.objects.filter(step_id=run.step_id).exists()


def test_a_span_with_a_custom_step_id_is_named_by_its_run(make_client):
    client = make_client()
    with client.run(traceparent=f"00-{TRACE}-{PARENT}-01") as part, client.span("lookup", step_id="lookup-1"):
        assert client.traceparent() == f"00-{TRACE}-{part.step_id}-01"


def test_a_client_that_sends_nothing_still_passes_the_run_on_unrecorded():
    client = backoffice.Client("", "", flush_at_exit=False)
    with client.run(traceparent=f"00-{TRACE}-{PARENT}-01"), client.span("charge") as charge:
        assert client.traceparent() == f"00-{TRACE}-{charge.step_id}-00"


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TRACE}-{PARENT}-01",
        f" 00-{TRACE}-{PARENT}-01\t",  # optional whitespace around a header value
        f"00-{TRACE}-{PARENT}-03",  # flags this version does not know are ignored
        f"01-{TRACE}-{PARENT}-01-what-the-future-adds",  # a later version is read as far as 00 goes
    ],
)
def test_valid_headers_are_continued(header):
    assert backoffice.parse_traceparent(header) == (TRACE, PARENT, True)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        f"00-{TRACE}-{PARENT}",
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has exactly four fields
        f"ff-{TRACE}-{PARENT}-01",  # version ff is invalid
        f"00-{TRACE.upper()}-{PARENT}-01",  # lowercase only
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE[:-1]}-{PARENT}-01",
        f"00-{TRACE}-{PARENT}-0x",
        f"00_{TRACE}_{PARENT}_01",
        f"01-{TRACE}-{PARENT}-01.future",
        f"00-{TRACE}-{PARENT}-01,00-{TRACE}-{PARENT}-01",  # two headers folded into one
    ],
)
def test_invalid_headers_are_ignored(header):
    assert backoffice.parse_traceparent(header) is None


def test_the_sampled_flag_is_read():
    assert backoffice.parse_traceparent(f"00-{TRACE}-{PARENT}-00") == (TRACE, PARENT, False)
    assert backoffice.parse_traceparent(f"00-{TRACE}-{PARENT}-02") == (TRACE, PARENT, False)


def test_an_invalid_header_starts_a_new_run(make_client):
    client = make_client()
    with client.run("billing", traceparent=f"00-{TRACE}-{'0' * 16}-01") as run:
        pass
    assert client.flush()
    assert run.run_id != TRACE
    assert Run.objects.get(run_id=run.run_id).workflow == "billing"
    assert not Run.objects.filter(run_id=TRACE).exists()


def test_a_run_the_caller_records_is_kept_whatever_the_sample_rate(make_client):
    client = make_client(sample_rate=0)
    with client.run("billing", traceparent=f"00-{TRACE}-{PARENT}-01"), client.span("charge"):
        assert client.traceparent().endswith("-01")
    other = "a" * 32
    with client.run("billing", traceparent=f"00-{other}-{PARENT}-00"), client.span("charge"):
        assert client.traceparent().endswith("-00")
    assert client.flush()
    assert sorted(Task.objects.filter(run__run_id=TRACE).values_list("name", flat=True)) == [
        "billing",
        "charge",
    ]
    assert not Run.objects.filter(run_id=other).exists()
    assert client.stats["sampled_out"] == 4


def test_a_failing_part_is_kept_even_when_sampling_leaves_its_run_out(make_client):
    client = make_client(sample_rate=0)
    with pytest.raises(RuntimeError), client.run("billing", traceparent=f"00-{TRACE}-{PARENT}-00"):
        with client.span("charge"):
            pass
        raise RuntimeError("card declined")
    assert client.flush()
    tasks = tasks_of(TRACE)
    assert (tasks["billing"].status, tasks["charge"].parent) == ("failed", tasks["billing"])
    assert client.stats["sampled_out"] == 0


def test_parallel_parts_of_a_recorded_run_are_all_kept(make_client):
    """A caller may call the same service twice at once: the first part to end does not make the
    other one's later steps subject to sampling."""
    client = make_client(sample_rate=0)
    header = f"00-{TRACE}-{PARENT}-01"
    second_open, first_done = threading.Event(), threading.Event()

    def first():
        with client.run("billing", traceparent=header):
            second_open.wait(5)
        first_done.set()

    worker = threading.Thread(target=first)
    worker.start()
    with client.run("billing", traceparent=header):
        second_open.set()
        first_done.wait(5)
        with client.span("after the first part ended"):
            pass
    worker.join()
    assert client.flush()
    names = sorted(Task.objects.filter(run__run_id=TRACE).values_list("name", flat=True))
    assert names == ["after the first part ended", "billing", "billing"]
    assert client.stats["sampled_out"] == 0


def test_a_run_left_out_by_its_own_sampling_tells_the_callee(make_client):
    client = make_client(sample_rate=0)
    with client.run("support"):
        assert client.traceparent().endswith("-00")


def otel_provider(live_server, key, service):
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"}
    )
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_a_run_continued_from_an_opentelemetry_service_merges_with_its_trace(
    live_server, keyed_workspace, make_client
):
    workspace, key = keyed_workspace
    provider = otel_provider(live_server, key, "gateway")
    tracer, client = provider.get_tracer("gateway"), make_client(agent_id="billing-bot")
    with (
        tracer.start_as_current_span("POST /refund") as root,
        tracer.start_as_current_span("call billing") as call,
    ):
        carrier = {}
        TraceContextTextMapPropagator().inject(carrier)
        with client.run("billing", traceparent=carrier["traceparent"]), client.span("charge card"):
            pass
    provider.shutdown()
    assert client.flush()

    run = Run.objects.get(workspace=workspace)
    assert (run.run_id, run.workflow, run.status) == (trace_id_of(root), "POST /refund", "completed")
    tasks = tasks_of(run.run_id)
    assert tasks["call billing"].step_id == span_id_of(call)
    assert tasks["billing"].parent == tasks["call billing"]
    assert tasks["charge card"].parent == tasks["billing"]


def test_an_opentelemetry_service_continues_a_run_of_the_client(live_server, keyed_workspace, make_client):
    workspace, key = keyed_workspace
    provider = otel_provider(live_server, key, "billing")
    tracer, client = provider.get_tracer("billing"), make_client()
    with client.run("support") as run, client.span("refund") as refund:
        context = TraceContextTextMapPropagator().extract(client.inject({}))
        with (
            tracer.start_as_current_span("POST /refund", context=context),
            tracer.start_as_current_span("charge card"),
        ):
            pass
    provider.shutdown()
    assert client.flush()

    stored = Run.objects.get(workspace=workspace)
    assert (stored.run_id, stored.workflow, stored.status) == (run.run_id, "support", "completed")
    tasks = tasks_of(run.run_id)
    assert tasks["POST /refund"].parent.step_id == refund.step_id
    assert tasks["charge card"].parent == tasks["POST /refund"]
