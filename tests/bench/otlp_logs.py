"""OTLP figure with logs interleaved: the agent traces of the OTLP figure, whose model calls send their
messages in GenAI log records and whose tools log a line (6 records a trace), posted to /v1/traces and
/v1/logs in turn, the records of every other request before their spans, then counted and read back."""

from django.test import Client

from backoffice.models import ApiKey
from tests.otel import PROTOBUF, protobuf_body, recording_tracer, trace_id_of
from tests.otel_logs import logs_protobuf_body, recording_logger
from traces.models import ChatMessage, Event, ModelCall, Task

from .ingest import ClientPoster, HttpPoster, drop_workspaces, post_all, scratch_workspace
from .measure import Figure, NotMeasured, not_measured
from .otlp import SPANS_PER_TRACE, TRACES_PER_REQUEST, agent_trace
from .payloads import Payloads

NAME, TARGET = "OTLP /v1/traces with /v1/logs interleaved, spans stored and readable", "≥ 1,500 spans/s"
GENAI_CALLS_PER_TRACE = 3  # the chat spans of otlp.agent_trace, whose messages come as records
RECORDS_PER_TRACE = GENAI_CALLS_PER_TRACE * 2  # its messages, and a tool's log line, per call


def request_bodies(traces):
    """[(path, protobuf body)] of TRACES_PER_REQUEST traces each, spans and their records in turn (the
    records first every other time), made before the clock starts; and the trace ids."""
    tracer, spans = recording_tracer()
    logger, records = recording_logger(scope="opentelemetry.instrumentation.openai_v2")
    text = Payloads(11)
    bodies, trace_ids = [], []
    for n in range(traces):
        trace_ids.append(trace_id_of(agent_trace(tracer, n, text, logger)))
        if len(trace_ids) % TRACES_PER_REQUEST == 0 or n == traces - 1:
            pair = [
                ("/v1/traces", protobuf_body(spans.get_finished_spans())),
                ("/v1/logs", logs_protobuf_body(records.get_finished_logs())),
            ]
            bodies += pair if len(bodies) % 4 == 0 else pair[::-1]
            spans.clear()
            records.clear()
    return bodies, trace_ids


class Routed:
    """Posts each (path, body) to its path."""

    def __init__(self, posters):
        self.posters = posters

    def post(self, routed):
        path, body = routed
        return self.posters[path].post(body)


def otlp_logs_figure(*, spans, clients, server=None, client=None):
    workspace = scratch_workspace("otlp-logs")
    _, key = ApiKey.issue(workspace, "bench")
    try:
        traces = max(spans // SPANS_PER_TRACE, 1)
        bodies, trace_ids = request_bodies(traces)
        paths = ("/v1/traces", "/v1/logs")
        poster = Routed(
            {
                path: HttpPoster(server.port, key, path, PROTOBUF)
                if server
                else ClientPoster(client, key, path, PROTOBUF)
                for path in paths
            }
        )

        def stored(status, content):
            if status != 200 or content:  # an empty answer: nothing rejected
                raise NotMeasured(f"an OTLP export answered {status}: {content[:300]!r}")
            return 0

        seconds, _ = post_all(poster, iter(bodies), clients, stored)
        counted = check_stored(workspace, traces)
        read = (client or Client(HTTP_HOST="localhost")).get(
            f"/api/v1/runs/{trace_ids[-1]}/tasks", headers={"Authorization": f"Bearer {key}"}
        )
        if read.status_code != 200 or len(read.json()["tasks"]) != SPANS_PER_TRACE:
            raise NotMeasured(f"reading a trace back answered {read.status_code}")
        rate = counted["spans"] / seconds
        note = (
            f"{counted['spans']:,} spans and {counted['records']:,} log records in {seconds:.1f} s; "
            f"{counted['turns']:,} turns from the records, every trace read back"
        )
        return Figure(NAME, TARGET, f"{rate:,.0f} spans/s", rate >= 1500, note=note)
    except NotMeasured as exc:
        return not_measured(NAME, TARGET, str(exc))
    finally:
        drop_workspaces([workspace])


def check_stored(workspace, traces):
    """Every span a task, every record in the event log, every GenAI call with its records' finish reason
    and messages: stored whole, not merely accepted."""
    counted = {
        "spans": Task.objects.filter(workspace=workspace).count(),
        "records": Event.objects.filter(workspace=workspace, type="log").count(),
        "finished": ModelCall.objects.filter(
            workspace=workspace, finish_reason="stop", response__isnull=False
        ).count(),
        "turns": ChatMessage.objects.filter(workspace=workspace).count(),
    }
    wanted = {
        "spans": traces * SPANS_PER_TRACE,
        "records": traces * RECORDS_PER_TRACE,
        "finished": traces * GENAI_CALLS_PER_TRACE,
    }
    for what, count in wanted.items():
        if counted[what] != count:
            raise NotMeasured(f"{counted[what]:,} {what} stored for {count:,}")
    return counted
