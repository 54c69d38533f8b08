"""Fuzz every operation of the JSON API from its own OpenAPI schema (/api/v1/openapi.json), served by
the live server and called with a real API key of a populated workspace (tests/world.py).

For each operation schemathesis generates requests that fit the schema, requests that do not, and
requests naming the workspace's real rows (run, session, review). Rules checked on every answer:
- no 5xx (schemathesis' `not_a_server_error`);
- the answer conforms to the documented schema where the schema documents its status
  (`response_schema_conformance`);
- a 4xx about the input names its field: a JSON Problem with a non-empty `field`, or a validation
  error whose every item has a `loc` (401, 404, 405, 409 and 429 are not about a field);
- afterwards every page of the workspace still answers as it did before.
"""

import pytest
import schemathesis
from django.test import override_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fuzz.harness import (
    FUZZ_HEADER,
    NOT_ABOUT_A_FIELD,
    Findings,
    exceptions_recorded,
    explore,
    names_its_field,
    next_number,
    walk_pages,
)
from tests.world import make_world
from traces.models import Review

pytestmark = pytest.mark.django_db(transaction=True)
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture
def world():
    return make_world()


def first_line(exc):
    """The titles of schemathesis' check failures (it raises a group), else the first line."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(sorted({first_line(inner) for inner in exc.exceptions}))
    title = getattr(exc, "title", "") or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return title[:160]


class Caller:
    def __init__(self, base_url, raw_key, findings, log):
        self.base_url, self.findings, self.log = base_url, findings, log
        self.auth = {"Authorization": f"Bearer {raw_key}"}
        self.sent = 0

    def sketch(self, case):
        parts = [case.formatted_path if hasattr(case, "formatted_path") else case.path]
        for name in ("path_parameters", "query", "body"):
            value = getattr(case, name, None)
            if value not in (None, {}, [], "") and type(value).__name__ != "NotSet":
                parts.append(f"{name}={value!r}"[:200])
        return " ".join(str(p) for p in parts)

    def __call__(self, case):
        number = next_number()
        response = case.call(base_url=self.base_url, headers={**self.auth, FUZZ_HEADER: number}, timeout=120)
        self.sent += 1
        exception, where = self.log.pop(number)
        method, path, status = case.method.upper(), case.path, response.status_code
        try:
            case.validate_response(response, checks=CHECKS, headers={**self.auth})
        except (AssertionError, BaseExceptionGroup) as exc:  # a check failure, or a group of them
            kind = "5xx" if status >= 500 else "schema"
            detail = exception if status >= 500 else first_line(exc)
            self.findings.add(kind, method, path, status, detail, where, self.sketch(case))
        if 400 <= status < 500 and status not in NOT_ABOUT_A_FIELD:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            if not names_its_field(payload):
                shape = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
                self.findings.add(
                    "unnamed 4xx", method, path, status, f"keys {shape}", "-", self.sketch(case)
                )


def strategy_for(operation, real):
    """Cases that fit the schema, cases that do not, and cases naming the workspace's real rows."""
    known = {name: value for name, value in real.items() if operation.get_parameter(name, "path")}
    choices = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if known:
        choices.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
        choices.append(operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=known))
    return st.one_of(choices)


def test_every_operation_answers_without_5xx_as_documented_and_names_the_bad_field(live_server, world):
    findings = Findings()
    target = world["target"]
    review = Review.objects.get(workspace=target)
    real = {
        "run_id": review.run.run_id,
        "session_id": review.run.session.session_id,
        "review_id": review.pk,
    }
    with override_settings(INGEST_RATE_PER_MINUTE=0), exceptions_recorded() as log:
        before = walk_pages(world["target_admin"], target, findings, log)
        schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
        caller = Caller(live_server.url, world["target_key"], findings, log)
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            explore(strategy_for(operation, real), caller, 20)
        walk_pages(world["target_admin"], target, findings, log, before)
    assert operations >= 12
    assert caller.sent >= operations * 5
    assert not findings, f"{len(findings.by_key)} distinct failures:\n{findings.report()}"
