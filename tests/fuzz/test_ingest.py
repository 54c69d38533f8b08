"""Fuzz the ingest endpoints over HTTP: event batches of every type, `track` events, and OTLP trace
requests in protobuf and OTLP/JSON, valid and broken, plain and gzipped, posted to the live server.

Rules checked on every answer:
- no 5xx, ever;
- a 4xx about the input names its field. On /api/v1/ingest that is a JSON Problem with a non-empty
  `field`, or a results list whose every rejected event has a non-empty `field`; the rejected events
  of a 200/207 answer name their field too. On the OTLP endpoints the answer is a google.rpc.Status
  whose message starts with what was wrong ("body …", "traceId: …"). 401, 404, 405, 409 and 429 are
  not about a field and are left out;
- afterwards every page of the workspace, and every page of the runs, tasks and conversations the
  fuzz made, answers 200.

Each test sends all its examples and then reports every distinct failure at once (tests/fuzz/harness.py).
"""

import pytest
from django.test import override_settings

from tests.fuzz import budget, strategies
from tests.fuzz.harness import Findings, Sender, exceptions_recorded, explore, walk_pages
from tests.world import make_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world():
    return make_world()


def fuzz_then_walk(live_server, world, strategy, examples):
    findings = Findings()
    with override_settings(INGEST_RATE_PER_MINUTE=0), exceptions_recorded() as log:
        before = walk_pages(world["target_admin"], world["target"], findings, log)
        sender = Sender(live_server.url, world["target_key"], findings, log)
        try:
            explore(strategy, sender.send, examples)
        finally:
            # A kept-alive connection would hold a server thread, which the live server joins on exit.
            sender.session.close()
        after = walk_pages(world["target_admin"], world["target"], findings, log, before)
    assert sender.sent >= budget.examples(examples) // 2
    assert list(before.values()).count(200) > 20
    assert len(after) >= len(before)
    assert not findings, f"{len(findings.by_key)} distinct failures:\n{findings.report()}"


def test_event_batches_of_every_type_never_get_a_5xx_nor_an_unnamed_4xx(live_server, world):
    fuzz_then_walk(live_server, world, strategies.ingest_requests(), examples=300)


def test_track_events_never_get_a_5xx_nor_an_unnamed_4xx(live_server, world):
    fuzz_then_walk(live_server, world, strategies.track_requests(), examples=100)


def test_otlp_trace_requests_never_get_a_5xx_nor_an_unnamed_4xx(live_server, world):
    fuzz_then_walk(live_server, world, strategies.otlp_requests(), examples=200)


def test_otlp_log_requests_never_get_a_5xx_nor_an_unnamed_4xx(live_server, world):
    requests = strategies.otlp_requests(strategies.log_exports(), strategies.OTLP_LOG_PATHS)
    fuzz_then_walk(live_server, world, requests, examples=100)
