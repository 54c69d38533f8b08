"""What the fuzz tests share: sending to the live server, telling one failure from another, the rule
for a 4xx that names its field, and the walk over every page afterwards.

A fuzz test does not stop at its first failure: it sends every example, keeps the smallest request of
each distinct failure (same method, path, status and exception raised at the same place), and fails
at the end with one line per failure, so one run reports everything it found.
"""

import itertools
import logging
import re
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests
from django.core.signals import got_request_exception
from django.test import Client
from google.rpc import status_pb2
from hypothesis import given, seed

from tests.fuzz.budget import SEED, fuzz_settings
from tests.urlwalk import fill, routes
from traces.models import Run, Session, Task

PROJECT = Path(__file__).resolve().parents[2]
FUZZ_HEADER = "X-Fuzz-Request"
_numbers = itertools.count(1)
# Statuses that are not about a field of the input: a key, a row, a method, a conflict, a rate.
NOT_ABOUT_A_FIELD = {401, 403, 404, 405, 409, 429}
# google.rpc.Status messages of the OTLP endpoint start with what was wrong: "body …", "traceId: …",
# "Content-Type …", "Content-Encoding …".
OTLP_NAMED = re.compile(r"^[A-Za-z_][\w.\-]*(:| )")


@dataclass
class Finding:
    kind: str  # "5xx" or "unnamed 4xx" or "page"
    method: str
    path: str
    status: int
    exception: str
    sketch: str
    count: int = 1

    def line(self):
        return (
            f"{self.kind}: {self.method} {self.path} -> {self.status} {self.exception} "
            f"(x{self.count}) body: {self.sketch}"
        )


def next_number():
    """A fresh value for the FUZZ_HEADER of one request, to find the exception it raised."""
    return str(next(_numbers))


class Findings:
    def __init__(self):
        self.by_key = {}

    def add(self, kind, method, path, status, exception, where, sketch):
        key = (kind, method, path, status, exception, where)
        found = self.by_key.get(key)
        if found is None:
            self.by_key[key] = Finding(kind, method, path, status, f"{exception} at {where}", sketch)
            return
        found.count += 1
        if len(sketch) < len(found.sketch):
            found.sketch = sketch

    def report(self):
        return "\n".join(sorted(f.line() for f in self.by_key.values()))

    def __bool__(self):
        return bool(self.by_key)


class ExceptionLog:
    """The exceptions the live server's views raised, by the fuzz request that raised them.

    The live server runs in a thread of this process, so Django's got_request_exception signal reaches
    us with the exception still being handled.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.raised = {}

    def receive(self, sender, request=None, **kwargs):
        kind, exc, tb = sys.exc_info()
        if request is None or kind is None:
            return
        where = "?"
        for frame in reversed(traceback.extract_tb(tb)):
            if frame.filename.startswith(str(PROJECT)) and "/.venv/" not in frame.filename:
                where = f"{Path(frame.filename).relative_to(PROJECT)}:{frame.name}"
                break
        message = str(exc).splitlines()[0][:120] if str(exc) else ""
        with self.lock:
            self.raised[request.headers.get(FUZZ_HEADER, "")] = (f"{kind.__name__}({message})", where)

    def pop(self, number):
        with self.lock:
            return self.raised.pop(number, ("no exception reached Django", "?"))


@contextmanager
def exceptions_recorded():
    log = ExceptionLog()
    got_request_exception.connect(log.receive, dispatch_uid="fuzz-exception-log")
    # The server logs each 500 with its traceback: the findings say it once, shorter.
    quiet = [logging.getLogger(name) for name in ("django.request", "django.server")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        yield log
    finally:
        got_request_exception.disconnect(dispatch_uid="fuzz-exception-log")
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def names_its_field(payload):
    """The API's rule for a 4xx about the input: a Problem with a non-empty `field`, a ninja
    validation error whose every item has a `loc`, or an ingest answer whose every rejected event
    has a `field`."""
    if not isinstance(payload, dict):
        return False
    if isinstance(payload.get("field"), str) and payload["field"].strip():
        return True
    detail = payload.get("detail")
    if isinstance(detail, list) and detail and all(isinstance(d, dict) and d.get("loc") for d in detail):
        return True
    results = payload.get("results")
    if isinstance(results, list):
        rejected = [r for r in results if isinstance(r, dict) and r.get("status") == "rejected"]
        return bool(rejected) and all(isinstance(r.get("field"), str) and r["field"] for r in rejected)
    return False


def rejected_without_field(payload):
    """Rejected events of a 200/207 answer that do not name their field."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
        return []
    return [
        r
        for r in payload["results"]
        if isinstance(r, dict) and r.get("status") == "rejected" and not (r.get("field") or "").strip()
    ]


def otlp_message(response):
    """The message of an OTLP error answer (google.rpc.Status), in either encoding."""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            return response.json().get("message", "")
        except ValueError:
            return ""
    status = status_pb2.Status()
    try:
        status.ParseFromString(response.content)
    except Exception:  # noqa: BLE001 - an unparseable answer has no message
        return ""
    return status.message


class Sender:
    """Posts fuzz requests to the live server and files what goes wrong."""

    def __init__(self, base_url, raw_key, findings, log):
        self.base_url = base_url
        self.session = requests.Session()
        self.auth = {"Authorization": f"Bearer {raw_key}"}
        self.findings = findings
        self.log = log
        self.sent = 0

    def send(self, request):
        number = next_number()
        headers = {**self.auth, **request.headers, FUZZ_HEADER: number}
        response = self.session.request(
            request.method, self.base_url + request.path, data=request.body, headers=headers, timeout=120
        )
        self.sent += 1
        exception, where = self.log.pop(number)
        status = response.status_code
        if status >= 500:
            self.findings.add("5xx", request.method, request.path, status, exception, where, request.sketch())
        elif request.path.startswith("/api/v1/"):
            self.check_api_answer(request, response)
        elif 400 <= status < 500 and status not in NOT_ABOUT_A_FIELD:
            message = otlp_message(response)
            if not OTLP_NAMED.match(message or ""):
                self.findings.add(
                    "unnamed 4xx",
                    request.method,
                    request.path,
                    status,
                    repr(message[:80]),
                    "-",
                    request.sketch(),
                )
        return response

    def check_api_answer(self, request, response):
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if 400 <= status < 500 and status not in NOT_ABOUT_A_FIELD and not names_its_field(payload):
            shape = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
            self.findings.add(
                "unnamed 4xx", request.method, request.path, status, f"keys {shape}", "-", request.sketch()
            )
        for result in rejected_without_field(payload)[:1]:
            self.findings.add(
                "unnamed rejection",
                request.method,
                request.path,
                status,
                repr(result.get("reason", ""))[:100],
                "-",
                request.sketch(),
            )


def explore(strategy, send, default_examples):
    """Send `default_examples` (scaled by FUZZ_EXAMPLES) drawn from `strategy` through `send`."""

    @fuzz_settings(default_examples)
    @given(strategy)
    def explore_one(value):
        send(value)

    if SEED:
        explore_one = seed(int(SEED))(explore_one)
    explore_one()


def page_urls(workspace, limit=25):
    """Every page of the workspace (the URL walk), then the pages of the runs, tasks and
    conversations the fuzz made, with their ids quoted into the path."""
    urls = []
    page_routes = [r for r in routes() if r.policy == "workspace"]
    for route in page_routes:
        url, real = fill(route, workspace)
        urls.append((url, real))
    rows = {
        "run_id": list(Run.objects.filter(workspace=workspace).values_list("run_id", flat=True)[:limit]),
        "session_id": list(
            Session.objects.filter(workspace=workspace).values_list("session_id", flat=True)[:limit]
        ),
        "task_id": list(
            Task.objects.filter(run__workspace=workspace).values_list("run__run_id", "step_id")[:limit]
        ),
    }
    for route in page_routes:
        params = set(route.params) - {"workspace"}
        if params == {"run_id"}:
            values = [{"run_id": run_id} for run_id in rows["run_id"]]
        elif params == {"session_id"}:
            values = [{"session_id": session_id} for session_id in rows["session_id"]]
        elif params == {"run_id", "task_id"}:
            values = [{"run_id": run_id, "task_id": step_id} for run_id, step_id in rows["task_id"]]
        else:
            continue
        for value in values:
            quoted = {name: quote(str(v), safe="") for name, v in value.items()}
            # An id holding "/" cannot be one path segment: such rows are only reachable through lists.
            reachable = not any("/" in str(v) for v in value.values())
            urls.append((route.url({"workspace": workspace.slug, **quoted}), reachable))
    return urls


def walk_pages(user, workspace, findings, log, before=None):
    """GET every page (full and HTMX fragment) as an admin of the workspace; returns {url: status}.

    With `before` (the statuses of a walk before the fuzz), a page that answered 200 then must answer
    200 now, and the pages of the fuzz's own rows must answer 200 (or 404 for an id holding "/", which
    cannot be one path segment). A 5xx is a finding on any walk. POST-only URLs answer 405 and the
    settings root redirects: those keep their status."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    statuses = {}
    for url, real in page_urls(workspace):
        for headers in ({}, {"HX-Request": "true"}):
            number = next_number()
            response = client.get(url, headers={**headers, FUZZ_HEADER: number})
            status = statuses[(url, bool(headers))] = response.status_code
            exception, where = log.pop(number)
            if before is None:
                wrong = status >= 500
            elif (url, bool(headers)) in before:
                was = before[(url, bool(headers))]
                wrong = status >= 500 or (was == 200 and status != 200)
            else:
                wrong = status not in ({200, 405} if real else {200, 404, 405})
            if wrong:
                path = re.sub(r"/w/[^/]+/", "/w/<ws>/", url.split("?")[0])
                findings.add("page", "GET", path, status, exception, where, url[:200])
    return statuses
