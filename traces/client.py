"""Send agent and workflow events to Backoffice from any Python program.

Standard library only, Python 3.9 or later: import it (`from traces import client`) or copy this
one file into an agent.

    import backoffice_client as bo              # this file, copied

    bo.configure("http://127.0.0.1:8000", api_key="bo_…", agent_id="support-bot")
    with bo.run("support", session_id="conv-1", input="Where is my order?") as run:
        bo.message("user", "Where is my order?")
        with bo.span("lookup order", type="tool", input={"order": "A-1"}) as step:
            step.output = {"status": "shipped"}
        bo.message("assistant", "It ships tomorrow.")
        run.output = "It ships tomorrow."
        bo.score("helpfulness", 4, comment="answered in one turn")  # sent at once, events first
    bo.flush()

Sending never blocks the agent: events wait in a bounded in-memory queue and a background thread
posts them to /api/v1/ingest in batches (50 events, or after 2 seconds), retrying with backoff on
network errors, 429 and 5xx. When the queue is full, new events are dropped and counted in
`stats`, never waited for. Everything queued is sent by `flush()` and at interpreter exit.

`sample_rate` (1.0: every run) keeps that share of runs, chosen by run id, and always keeps a run
that reports an error; `on_trace(event)` sees each event before it is queued and returns it (changed
or not), or None to drop it. `observability="minimal"` sends no payloads (inputs, outputs, messages,
model-call requests and responses) and `"standard"` cuts them at `max_payload_chars`; the agent's
mode on the server applies as well, and the stricter of the two wins. Times (`track(...,
timestamp=…)`) are datetimes or ISO 8601 strings; without a UTC offset they are UTC.

Before spending, `check_budget()` asks whether the agent (and the current run's workflow and end user)
is still within its budgets; it calls the server at once, and needs the key's `ingest` scope.

A run crosses services with W3C trace context: `inject(headers)` adds the current step's
`traceparent` to an outgoing request, and the service called continues the run with
`run(..., traceparent=request_headers.get("traceparent"))` (see RunContext).
"""

import atexit
import collections
import contextvars
import gzip
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

log = logging.getLogger("backoffice.client")

ERROR_TYPES = {"run.failed", "step.failed", "tool.failed", "gate.rejected"}
ERROR_LEVELS = {"error", "critical", "fatal"}
RUN_ENDS = {"run.complete", "run.failed"}
# Bodies larger than this are gzipped: the ingest API takes `Content-Encoding: gzip`.
COMPRESS_FROM = 4096
# Server-side limits of the ingest API.
MAX_BATCH_EVENTS = 1000
# What `observability` keeps of payloads before an event leaves the process: "full" everything,
# "standard" cuts them at `max_payload_chars`, "minimal" sends none (structure, timing, tokens and
# cost only). The server applies the agent's own mode too: the stricter of the two wins. The fields
# and the marks of what was cut are the server's (traces.ingest.policy), so it reads them as its own.
OBSERVABILITY = ("full", "standard", "minimal")
PAYLOAD_FIELDS = ("input", "args", "request", "state", "output", "result", "response", "error", "content")
OMITTED = "[omitted: minimal mode]"

_current_run = contextvars.ContextVar("backoffice_run", default=None)
_current_span = contextvars.ContextVar("backoffice_span", default=None)

# W3C Trace Context (https://www.w3.org/TR/trace-context/): version-trace id-parent id-flags, lowercase
# hex. Version ff is invalid; a later version than 00 may append fields after a dash.
TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL)
TRACE_ID = re.compile(r"[0-9a-f]{32}")
SPAN_ID = re.compile(r"[0-9a-f]{16}")
SAMPLED = 0x01
# Runs followed or left out by sampling are remembered this long (by count), so late events follow them.
SAMPLING_MEMORY = 10_000


# timezone.utc rather than datetime.UTC: a copied client may run on Pythons older than 3.11.
UTC = timezone.utc  # noqa: UP017


def now():
    return datetime.now(UTC)


def stamp(moment=None):
    """RFC 3339 with microseconds, from a datetime or an ISO 8601 string (now when None).

    A time without a UTC offset is taken as UTC, never as the machine's local time: the same call gives
    the same instant on every server. Raises TypeError or ValueError naming `timestamp`.
    """
    if moment is None:
        moment = now()
    elif isinstance(moment, str):
        text = moment.strip()
        # fromisoformat reads a trailing "Z" only from Python 3.11 on.
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"timestamp must be an ISO 8601 time such as 2026-11-20T09:30:00+00:00; got {moment!r}"
            ) from None
    elif not isinstance(moment, datetime):
        raise TypeError(f"timestamp must be a datetime or an ISO 8601 string, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="microseconds")


def parse_traceparent(header):
    """(trace id, parent id, sampled) from a `traceparent` header, or None when it is absent or not
    valid: a caller's broken header starts a new run rather than failing the request."""
    if not isinstance(header, str):
        return None
    match = TRACEPARENT.fullmatch(header.strip(" \t"))
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id, bool(int(flags, 16) & SAMPLED)


def is_trace_id(value):
    return isinstance(value, str) and bool(TRACE_ID.fullmatch(value)) and value != "0" * 32


def is_span_id(value):
    return isinstance(value, str) and bool(SPAN_ID.fullmatch(value)) and value != "0" * 16


def describe_error(error):
    """An exception (or text) as the error object the ingest API stores."""
    if isinstance(error, BaseException):
        return {
            "type": type(error).__name__,
            "message": str(error) or type(error).__name__,
            "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
        }
    return error


def truncated(value, limit):
    """A payload cut to `limit` characters, marked as the server marks what it cuts."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"… [truncated {len(value) - limit} chars]"
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return value
    return {"_truncated": True, "original_chars": len(text), "preview": text[:limit]}


def is_error(event):
    body = event["body"]
    if event["type"] in ERROR_TYPES:
        return True
    if event["type"] == "llm.call":
        return bool(body.get("error")) or body.get("status") in ("error", "failed")
    return event["type"] == "log" and str(body.get("level", "")).lower() in ERROR_LEVELS


class Stats:
    """Counters of what happened to events, for the agent's own monitoring. Thread-safe."""

    NAMES = (
        "queued",
        "sent",
        "rejected",
        "dropped",
        "failed",
        "filtered",
        "sampled_out",
        "retries",
        "batches",
    )

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.NAMES, 0)

    def add(self, name, n=1):
        with self._lock:
            self._counts[name] += n

    def __getitem__(self, name):
        with self._lock:
            return self._counts[name]

    def as_dict(self):
        with self._lock:
            return dict(self._counts)

    def __repr__(self):
        return f"Stats({self.as_dict()})"


class _Queue:
    """Bounded FIFO of events waiting to be sent, with the count of events not yet delivered."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.items = collections.deque()
        self.cond = threading.Condition()
        self.unsent = 0  # queued or in flight
        self.flushing = 0
        self.closed = False

    def put(self, event):
        with self.cond:
            if self.closed or len(self.items) >= self.capacity:
                return False
            self.items.append(event)
            self.unsent += 1
            self.cond.notify_all()
            return True

    def take(self, size, interval):
        """Up to `size` events once `size` are waiting, `interval` seconds after the first, on flush
        or on close. None once closed and empty."""
        with self.cond:
            deadline = None
            while True:
                if self.items:
                    if deadline is None:
                        deadline = time.monotonic() + interval
                    due = time.monotonic() >= deadline
                    if len(self.items) >= size or self.flushing or self.closed or due:
                        return [self.items.popleft() for _ in range(min(size, len(self.items)))]
                elif self.closed:
                    return None
                self.cond.wait(None if deadline is None else max(deadline - time.monotonic(), 0))

    def done(self, count):
        with self.cond:
            self.unsent -= count
            self.cond.notify_all()

    def wait_sent(self, timeout):
        with self.cond:
            self.flushing += 1
            self.cond.notify_all()
            try:
                return self.cond.wait_for(lambda: self.unsent == 0, timeout)
            finally:
                self.flushing -= 1

    def close(self):
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class _Sampler:
    """Holds back the events of runs left out by sampling until the run shows whether it failed."""

    def __init__(self, rate, capacity, stats):
        self.rate, self.capacity, self.stats = rate, capacity, stats
        self.lock = threading.Lock()
        self.held = {}  # run id -> events of an unsampled run, not yet known to fail
        self.held_count = 0
        self.failed = set()  # unsampled runs that reported an error: sent in full
        self.dropped = collections.OrderedDict()  # recently dropped runs, so late events follow them
        self.followed = collections.OrderedDict()  # continued runs the caller recorded: sent in full
        self.parts = collections.Counter()  # run id -> parts of continued runs open in this process

    def keeps(self, run_id):
        share = int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return share < self.rate

    def records(self, run_id):
        """Whether the run is sent whatever happens in it (the `sampled` flag of its traceparent)."""
        if self.rate >= 1 or self.keeps(run_id):
            return True
        with self.lock:
            return run_id in self.followed

    def start_part(self, run_id, recorded):
        """This service starts a part of a continued run. One its caller records is kept here too,
        whatever the rate."""
        with self.lock:
            self.parts[run_id] += 1
            if recorded:
                self.followed[run_id] = True
                while len(self.followed) > SAMPLING_MEMORY:
                    self.followed.popitem(last=False)

    def end_part(self, run_id):
        """A part of a continued run is over (the run ends at the caller). Once no part of it is open
        here (a caller may call in parallel), what is held of it is left out, as at a run's end, and
        a later part is judged afresh."""
        with self.lock:
            self.parts[run_id] -= 1
            if self.parts[run_id] > 0:
                return
            del self.parts[run_id]
            self.followed.pop(run_id, None)
            self.failed.discard(run_id)
            released = self.held.pop(run_id, [])
            self.held_count -= len(released)
            self.stats.add("sampled_out", len(released))

    def admit(self, event):
        """The events to queue now: [], [event], or a failed run's held events with this one."""
        run_id = event["body"].get("run_id")
        if self.rate >= 1 or not run_id or self.keeps(run_id):
            return [event]
        with self.lock:
            if run_id in self.followed:
                return [event]
            if run_id in self.failed:
                if event["type"] in RUN_ENDS:
                    self.failed.discard(run_id)
                return [event]
            if run_id in self.dropped:
                self.stats.add("sampled_out")
                return []
            if is_error(event):
                released = self.held.pop(run_id, [])
                self.held_count -= len(released)
                if event["type"] not in RUN_ENDS:
                    self.failed.add(run_id)
                return [*released, event]
            if event["type"] in RUN_ENDS:
                released = self.held.pop(run_id, [])
                self.held_count -= len(released)
                self.stats.add("sampled_out", len(released) + 1)
                self.dropped[run_id] = True
                while len(self.dropped) > SAMPLING_MEMORY:
                    self.dropped.popitem(last=False)
                return []
            if self.held_count >= self.capacity:
                self.stats.add("dropped")
                return []
            self.held.setdefault(run_id, []).append(event)
            self.held_count += 1
            return []

    def discard_held(self):
        """At close: runs that never ended and never failed stay left out."""
        with self.lock:
            self.stats.add("sampled_out", self.held_count)
            self.held.clear()
            self.held_count = 0


class Client:
    """Queues events and sends them from a background thread. See the module docstring."""

    def __init__(
        self,
        base_url=None,
        api_key=None,
        *,
        agent_id=None,
        batch_size=50,
        flush_interval=2.0,
        max_queue=10_000,
        max_retries=5,
        retry_backoff=0.5,
        max_backoff=30.0,
        timeout=10.0,
        sample_rate=1.0,
        on_trace=None,
        observability="full",
        max_payload_chars=4000,
        flush_at_exit=True,
    ):
        self.base_url = (base_url or os.environ.get("BACKOFFICE_URL", "")).rstrip("/")
        self.api_key = api_key or os.environ.get("BACKOFFICE_API_KEY", "")
        self.agent_id = agent_id or os.environ.get("BACKOFFICE_AGENT_ID", "") or "default"
        self.batch_size = max(1, min(batch_size, MAX_BATCH_EVENTS))
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.on_trace = on_trace
        if observability not in OBSERVABILITY:
            raise ValueError(
                f"observability must be one of {', '.join(OBSERVABILITY)}; got {observability!r}"
            )
        self.observability = observability
        self.max_payload_chars = max(1, max_payload_chars)
        self.stats = Stats()
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http:// or https:// URL; got {self.base_url!r}")
        self.enabled = bool(self.base_url and self.api_key)
        if not self.enabled:
            log.warning("Backoffice client has no base_url or api_key: events are not sent")
        self._queue = _Queue(max_queue)
        self._sampler = _Sampler(sample_rate, max_queue, self.stats)
        self._sender = None
        self._start_lock = threading.Lock()
        if flush_at_exit:
            atexit.register(self.close)

    # -- sending ----------------------------------------------------------------------------------

    def emit(self, event_type, body, *, timestamp=None, event_id=None):
        """Queue one event of the ingest vocabulary. Returns at once; never raises for delivery."""
        event = {
            "id": event_id or uuid.uuid4().hex,
            "type": event_type,
            "timestamp": stamp(timestamp),
            "body": self._captured({k: v for k, v in body.items() if v is not None}),
        }
        if not self.enabled:
            return
        if self.on_trace is not None:
            try:
                event = self.on_trace(event)
            except Exception:
                # A failing redaction hook must not let the unredacted event through.
                log.exception("on_trace raised; the event is dropped")
                event = None
            if event is None:
                self.stats.add("filtered")
                return
        for admitted in self._sampler.admit(event):
            if self._queue.put(admitted):
                self.stats.add("queued")
                self._ensure_sender()
            else:
                self.stats.add("dropped")

    def _captured(self, body):
        """The body as `observability` lets it leave the process."""
        if self.observability == "full":
            return body
        for name in PAYLOAD_FIELDS:
            if name in body:
                if self.observability == "minimal":
                    body[name] = OMITTED
                else:
                    body[name] = truncated(body[name], self.max_payload_chars)
        return body

    def flush(self, timeout=10.0):
        """Send everything queued so far. True when it was all delivered (or given up) in time."""
        if not self.enabled or self._sender is None:
            return True
        return self._queue.wait_sent(timeout)

    def close(self, timeout=5.0):
        """Flush, then stop the background thread. Called at interpreter exit."""
        self._sampler.discard_held()
        delivered = self.flush(timeout)
        self._queue.close()
        return delivered

    def _ensure_sender(self):
        if self._sender is None:
            with self._start_lock:
                if self._sender is None:
                    self._sender = threading.Thread(
                        target=self._send_loop, name="backoffice-sender", daemon=True
                    )
                    self._sender.start()

    def _send_loop(self):
        while True:
            batch = self._queue.take(self.batch_size, self.flush_interval)
            if batch is None:
                return
            try:
                self._deliver(batch)
            except Exception:  # the sender thread must survive anything
                log.exception("sending a batch of %s events failed", len(batch))
                self.stats.add("failed", len(batch))
            finally:
                self._queue.done(len(batch))

    def _deliver(self, batch):
        delay = self.retry_backoff
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.stats.add("retries")
            try:
                status, answer, headers = self._request("POST", "/api/v1/ingest", {"batch": batch})
            except OSError as exc:  # connection refused, reset, timeout, DNS
                log.info("ingest unreachable (%s); retrying", exc)
                wait = delay
            else:
                if status == 413 and len(batch) > 1:
                    half = len(batch) // 2
                    self._deliver(batch[:half])
                    self._deliver(batch[half:])
                    return
                if status != 429 and status < 500:
                    self._tally(batch, status, answer)
                    return
                wait = retry_after(headers, delay, self.max_backoff)
            if attempt < self.max_retries:
                time.sleep(wait * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security
                delay = min(delay * 2, self.max_backoff)
        log.warning("gave up on %s events after %s retries", len(batch), self.max_retries)
        self.stats.add("failed", len(batch))

    def _tally(self, batch, status, answer):
        self.stats.add("batches")
        if isinstance(answer, dict) and "results" in answer:
            rejected = answer.get("rejected", 0)
            self.stats.add("sent", len(batch) - rejected)
            self.stats.add("rejected", rejected)
            for result in answer["results"]:
                if result.get("status") == "rejected":
                    log.warning(
                        "event %s rejected: %s: %s",
                        result.get("id"),
                        result.get("field"),
                        result.get("reason"),
                    )
        elif 200 <= status < 300:
            self.stats.add("sent", len(batch))
        else:
            log.warning("ingest answered %s: %s", status, answer)
            self.stats.add("failed", len(batch))

    def _request(self, method, path, payload=None):
        """(status, decoded JSON or text, headers). Raises OSError when the server is unreachable."""
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload, default=str, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
            if len(data) > COMPRESS_FROM:
                data = gzip.compress(data)
                headers["Content-Encoding"] = "gzip"
        url = self.base_url + path  # an http(s) URL: checked in __init__
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, raw, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, raw, answer_headers = exc.code, exc.read(), exc.headers
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode("utf-8", "replace")
        return status, answer, answer_headers

    def read(self, path):
        """GET a read API path; the decoded JSON, or None for 404. Raises for other failures."""
        status, answer, _ = self._request("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError(f"Backoffice answered {status} to GET {path}: {answer}")
        return answer

    # -- the agent-facing API -----------------------------------------------------------------

    def run(self, workflow=None, **fields):
        """A run as a context manager: started on enter, completed (or failed) on exit.

        With the `traceparent` (and `tracestate`) headers of an incoming request, it continues the
        caller's run instead (see RunContext)."""
        return RunContext(self, workflow, **fields)

    def traceparent(self):
        """The W3C `traceparent` header naming the current span (or run) for a call to another service.

        None outside a run, or when the run id is not 32 lowercase hex characters (a custom run id:
        trace context cannot carry it). A span with a custom step id is named by its run instead."""
        run, span = _current_run.get(), _current_span.get()
        if span is not None:
            trace_id, parent_id = span.run_id, span.step_id
            if not is_span_id(parent_id) and run is not None and run.run_id == trace_id:
                parent_id = run.step_id
        elif run is not None:
            trace_id, parent_id = run.run_id, run.step_id
        else:
            return None
        if not (is_trace_id(trace_id) and is_span_id(parent_id)):
            return None
        sampled = self.enabled and self._sampler.records(trace_id)
        return f"00-{trace_id}-{parent_id}-{SAMPLED if sampled else 0:02x}"

    def inject(self, headers):
        """Add `traceparent` (and the `tracestate` the run was continued with) to a dict of outgoing
        request headers, in place; returns it. Outside a run, it is left as it was."""
        header = self.traceparent()
        if header is not None:
            headers["traceparent"] = header
            run = _current_run.get()
            if run and run.tracestate and run.run_id == header[3:35]:
                headers["tracestate"] = run.tracestate
        return headers

    def span(self, name, *, type="function", input=None, run_id=None, step_id=None, attempt=None):
        """A step as a context manager, the child of the span it runs in."""
        return SpanContext(
            self, name, type=type, input=input, run_id=run_id, step_id=step_id, attempt=attempt
        )

    def track(self, name, properties=None, *, session_id=None, run_id=None, agent_id=None, timestamp=None):
        """A business event for the metrics dashboards: a name and flat properties.

        `timestamp` (when it happened, now by default): a datetime or an ISO 8601 string; one without
        a UTC offset is UTC."""
        run = _current_run.get()
        self.emit(
            "track",
            {
                "name": name,
                "properties": properties or {},
                "session_id": session_id or (run.session_id if run else None),
                "run_id": run_id or (run.run_id if run else None),
                "agent_id": agent_id or (run.agent_id if run else None),
            },
            timestamp=timestamp,
        )

    def message(self, role, content, *, session_id=None, run_id=None, step_id=None, metadata=None):
        """A chat turn: text, or an object with a `type`. The session comes from the run if not given."""
        run, span = _current_run.get(), _current_span.get()
        session_id = session_id or (run.session_id if run else None)
        if not session_id:
            raise ValueError("message() needs a session_id, or a run(session_id=...) around it")
        self.emit(
            "message",
            {
                "session_id": session_id,
                "role": role,
                "content": content,
                "run_id": run_id or (run.run_id if run else None),
                "step_id": step_id or (span.step_id if span else None),
                "metadata": metadata,
            },
        )

    def model_call(self, model, *, run_id=None, step_id=None, **fields):
        """One model call (llm.call): tokens, latency, cost, request and response."""
        run, span = _current_run.get(), _current_span.get()
        run_id = run_id or (run.run_id if run else None)
        if not run_id:
            raise ValueError("model_call() needs a run_id, or a run() around it")
        self.emit(
            "llm.call",
            {
                "run_id": run_id,
                "step_id": step_id or (span.step_id if span else None),
                "model": model,
                **fields,
            },
        )

    def score(
        self,
        name,
        value,
        *,
        run_id=None,
        task_id=None,
        session_id=None,
        message_id=None,
        data_type=None,
        comment=None,
        metadata=None,
        source="api",
        score_id=None,
    ):
        """Give a score (POST /api/v1/scores) and return it as stored; ValueError when it is refused
        (a value its config does not allow, a run the workspace does not have).

        Unlike events it is sent at once: the events queued so far are flushed first, so that the run
        it names is stored. Inside a run (and a span) they are what is scored unless named. Sending
        again with the same `score_id` replaces the score instead of adding one."""
        run, span = _current_run.get(), _current_span.get()
        body = {
            "run_id": run_id or (run.run_id if run else None),
            "task_id": task_id or (span.step_id if span and not run_id else None),
            "session_id": session_id,
            "message_id": message_id,
            "name": name,
            "value": value,
            "data_type": data_type,
            "comment": comment,
            "metadata": metadata,
            "source": source,
            "id": score_id or uuid.uuid4().hex,
        }
        if not self.enabled:
            return None
        self.flush()
        delay = self.retry_backoff
        for attempt in range(self.max_retries + 1):
            try:
                status, answer, headers = self._request(
                    "POST", "/api/v1/scores", {k: v for k, v in body.items() if v is not None}
                )
            except OSError as exc:
                if attempt == self.max_retries:
                    raise
                log.info("scores API unreachable (%s); retrying", exc)
                wait = delay
            else:
                if status in (200, 201):
                    return answer
                if status != 429 and status < 500:
                    detail = answer.get("detail") if isinstance(answer, dict) else answer
                    raise ValueError(f"score {name!r} refused ({status}): {detail}")
                if attempt == self.max_retries:
                    raise RuntimeError(f"Backoffice answered {status} to a score: {answer}")
                wait = retry_after(headers, delay, self.max_backoff)
            # The same id each time: a score that did arrive is replaced, not doubled.
            time.sleep(wait * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, self.max_backoff)
        return None

    def check_budget(self, *, agent_id=None, workflow=None, user_id=None):
        """May the agent spend now? GET /api/v1/budgets/check, answered from what the server has stored
        (so not the events still queued here): {"allowed": bool, "budgets": [{"scope", "key",
        "period", "limit", "spent", "remaining", …}]}, amounts as decimal strings.

        The agent is the client's unless named, the workflow and end user the current run's. It asks
        once, at once: RuntimeError when it cannot (the server unreachable or refusing), so the caller
        chooses whether to go on without an answer. A client with no URL or key is always allowed."""
        run = _current_run.get()
        query = {
            "agent": agent_id or (run.agent_id if run else self.agent_id),
            "workflow": workflow or (run.workflow if run else None),
            "user": user_id or (run.user_id if run else None),
        }
        if not self.enabled:
            return {"allowed": True, "budgets": []}
        path = "/api/v1/budgets/check?" + urllib.parse.urlencode({k: v for k, v in query.items() if v})
        try:
            status, answer, _ = self._request("GET", path)
        except OSError as exc:
            raise RuntimeError(f"Backoffice is unreachable for the budget check: {exc}") from exc
        if status != 200:
            raise RuntimeError(f"Backoffice answered {status} to the budget check: {answer}")
        return answer


class RunContext:
    """A run: started on enter, completed or failed on exit.

    Given a valid W3C `traceparent` (a request from another service that passed its run on), it
    continues that run instead, as OpenTelemetry continues a trace: the run id is the header's trace
    id, and this service's part is one step (named after the workflow, type agent) under the calling
    step, holding the input, the output or the error; the run's start and end, its workflow, tags,
    metadata and graph stay the caller's. An absent or invalid header starts a new run. `run_id` is
    ignored when a valid header is given.
    """

    def __init__(
        self,
        client,
        workflow=None,
        *,
        run_id=None,
        session_id=None,
        user_id=None,
        agent_id=None,
        input=None,
        metadata=None,
        tags=None,
        graph=None,
        traceparent=None,
        tracestate=None,
    ):
        self.client = client
        caller = parse_traceparent(traceparent)
        self.continued = caller is not None
        if caller is None:
            self.run_id, self.caller_step_id, self.caller_records = run_id or uuid.uuid4().hex, None, False
            self.tracestate = None
        else:
            self.run_id, self.caller_step_id, self.caller_records = caller
            # Passed on unchanged to the services this one calls, as the W3C recommendation asks.
            self.tracestate = (tracestate.strip() or None) if isinstance(tracestate, str) else None
        # The step this service's part of a continued run is; in a run of its own, the id that
        # traceparent() names outside any span (no task has it: the callee's part is then top-level).
        self.step_id = uuid.uuid4().hex[:16]
        self.session_id, self.agent_id = session_id, agent_id or client.agent_id
        self.workflow, self.user_id = workflow, user_id
        self.output = None
        self._start = {
            "workflow": workflow,
            "session_id": session_id,
            "user_id": user_id,
            "input": input,
            "metadata": metadata,
            "tags": tags,
            "graph": graph,
        }
        self._tokens = None

    @property
    def parent_step_id(self):
        """The parent of the spans opened directly in the run."""
        return self.step_id if self.continued else None

    def __enter__(self):
        if self.continued:
            self.client._sampler.start_part(self.run_id, self.caller_records)
            self.client.emit(
                "step.start",
                {
                    "run_id": self.run_id,
                    "step_id": self.step_id,
                    "parent_id": self.caller_step_id,
                    "name": self.workflow or self.agent_id,
                    "type": "agent",
                    "input": self._start["input"],
                    "agent_id": self.agent_id,
                    "session_id": self.session_id,
                    "user_id": self._start["user_id"],
                },
            )
        else:
            self.client.emit("run.start", {"run_id": self.run_id, "agent_id": self.agent_id, **self._start})
        # A run opens with no span: one open around it belongs to another run, or to the caller.
        self._tokens = (_current_run.set(self), _current_span.set(None))
        return self

    def __exit__(self, exc_type, exc, tb):
        _current_span.reset(self._tokens[1])
        _current_run.reset(self._tokens[0])
        error = describe_error(exc) if exc is not None else None
        if self.continued:
            body = {"run_id": self.run_id, "step_id": self.step_id}
            body.update({"error": error} if error is not None else {"output": self.output})
            self.client.emit("step.failed" if error is not None else "step.ok", body)
            self.client._sampler.end_part(self.run_id)
        elif error is not None:
            self.client.emit("run.failed", {"run_id": self.run_id, "error": error})
        else:
            self.client.emit("run.complete", {"run_id": self.run_id, "output": self.output})
        return False

    def checkpoint(self, state, trace=None):
        """Save the run's state (and the node names visited so far)."""
        self.client.emit("state.checkpoint", {"run_id": self.run_id, "state": state, "trace": trace})


class SpanContext:
    def __init__(self, client, name, *, type, input, run_id, step_id, attempt):
        self.client, self.name, self.type, self.input, self.attempt = client, name, type, input, attempt
        self.run_id, self.step_id = run_id, step_id or uuid.uuid4().hex[:16]
        self.output = None
        self.error = None  # set it to fail the step without raising
        self._token = None

    def __enter__(self):
        run, parent = _current_run.get(), _current_span.get()
        self.run_id = self.run_id or (run.run_id if run else None)
        if not self.run_id:
            raise ValueError(f"span({self.name!r}) needs a run_id, or a run() around it")
        if parent is not None and parent.run_id == self.run_id:
            parent_id = parent.step_id
        elif run is not None and run.run_id == self.run_id:
            parent_id = run.parent_step_id
        else:
            parent_id = None
        self.client.emit(
            "step.start",
            {
                "run_id": self.run_id,
                "step_id": self.step_id,
                "name": self.name,
                "type": self.type,
                "parent_id": parent_id,
                "input": self.input,
                "attempt": self.attempt,
            },
        )
        self._token = _current_span.set(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        _current_span.reset(self._token)
        error = describe_error(exc) if exc is not None else self.error
        if error is not None:
            self.client.emit("step.failed", {"run_id": self.run_id, "step_id": self.step_id, "error": error})
        else:
            self.client.emit(
                "step.ok", {"run_id": self.run_id, "step_id": self.step_id, "output": self.output}
            )
        return False


def retry_after(headers, default, cap):
    """Seconds to wait before retrying: the server's Retry-After when it gives one in seconds."""
    value = headers.get("Retry-After") if headers else None
    try:
        return min(max(float(value), 0.0), cap)
    except (TypeError, ValueError):
        return default


# -- the engine-side interfaces ---------------------------------------------------------------


class DataStorage:
    """A workflow engine's run storage over the ingest and read APIs.

    Writes are queued like every event; `load_state` answers from the states this process saved,
    else from the server, and `get_chat_history` flushes first so it sees what was just added.
    """

    STATUS_EVENTS = {
        "completed": "run.complete",
        "failed": "run.failed",
        "paused": "run.paused",
        "running": "run.resumed",
        "resumed": "run.resumed",
    }

    def __init__(self, client=None, *, agent_id=None, cached_states=256):
        self.client = client or default_client()
        self.agent_id = agent_id or self.client.agent_id
        self._states = collections.OrderedDict()
        self._cached_states = cached_states

    def initialize_run(
        self,
        run_id,
        *,
        workflow=None,
        agent_id=None,
        session_id=None,
        user_id=None,
        input=None,
        metadata=None,
        tags=None,
        graph=None,
        invocation_id=None,
    ):
        self.client.emit(
            "run.start",
            {
                "run_id": run_id,
                "agent_id": agent_id or self.agent_id,
                "workflow": workflow,
                "session_id": session_id,
                "user_id": user_id,
                "input": input,
                "metadata": metadata,
                "tags": tags,
                "graph": graph,
                "invocation_id": invocation_id,
            },
        )

    def update_run(self, run_id, status, *, output=None, error=None, reason=None):
        """status: completed (with output), failed (with error), paused or resumed (with a reason)."""
        if status not in self.STATUS_EVENTS:
            raise ValueError(f"status must be one of {', '.join(self.STATUS_EVENTS)}; got {status!r}")
        event_type = self.STATUS_EVENTS[status]
        body = {"run_id": run_id}
        if event_type == "run.complete":
            body["output"] = output
        elif event_type == "run.failed":
            body["error"] = describe_error(error) or "failed"
        else:
            body["reason"] = reason
        self.client.emit(event_type, body)
        if event_type in RUN_ENDS:
            self._states.pop(run_id, None)

    def save_state(self, run_id, state, trace=None):
        # A JSON copy: later changes by the engine must not alter what was saved.
        self._states[run_id] = json.loads(json.dumps(state, default=str))
        self._states.move_to_end(run_id)
        while len(self._states) > self._cached_states:
            self._states.popitem(last=False)
        self.client.emit("state.checkpoint", {"run_id": run_id, "state": state, "trace": trace})

    def load_state(self, run_id):
        """The latest saved state, or None when the run has none."""
        if run_id in self._states:
            return json.loads(json.dumps(self._states[run_id]))
        self.client.flush()
        run = self.client.read(f"/api/v1/runs/{urllib.parse.quote(run_id, safe='')}")
        return run.get("state") if run else None

    def add_chat_message(self, session_id, role, content, *, run_id=None, metadata=None):
        self.client.message(role, content, session_id=session_id, run_id=run_id, metadata=metadata)

    def get_chat_history(self, session_id, limit=None):
        """The conversation's turns in order, oldest first: [{role, content, run_id, …}]."""
        self.client.flush()
        session = self.client.read(f"/api/v1/sessions/{urllib.parse.quote(session_id, safe='')}")
        messages = session["messages"] if session else []
        return messages[-limit:] if limit else messages


class TaskLogger:
    """A workflow engine's node and model-call logger for one run."""

    NODE_STATUSES = {
        "running": None,
        "ok": "step.ok",
        "completed": "step.ok",
        "success": "step.ok",
        "failed": "step.failed",
        "error": "step.failed",
        "waiting": "gate.waiting",
        "approved": "gate.approved",
        "rejected": "gate.rejected",
    }

    def __init__(self, run_id, client=None):
        self.run_id = run_id
        self.client = client or default_client()
        self._open = {}  # node name -> step id of a node logged as running and not yet finished
        self._started = set()

    def log_node(
        self,
        name,
        status="ok",
        *,
        step_id=None,
        type="function",
        input=None,
        output=None,
        error=None,
        parent_id=None,
        attempt=None,
        started_at=None,
        ended_at=None,
        metadata=None,
    ):
        """Log a node's start, its end, or both at once. Returns its step id."""
        if status not in self.NODE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(self.NODE_STATUSES)}; got {status!r}")
        step_id = step_id or self._open.pop(name, None) or uuid.uuid4().hex[:16]
        if step_id not in self._started:
            self._started.add(step_id)
            self.client.emit(
                "step.start",
                {
                    "run_id": self.run_id,
                    "step_id": step_id,
                    "name": name,
                    "type": type,
                    "input": input,
                    "parent_id": parent_id,
                    "attempt": attempt,
                    "metadata": metadata,
                },
                timestamp=started_at,
            )
        ending = self.NODE_STATUSES[status]
        if ending is None:
            self._open[name] = step_id
            return step_id
        body = {"run_id": self.run_id, "step_id": step_id}
        if ending == "step.ok":
            body["output"] = output
        elif ending == "step.failed":
            body["error"] = describe_error(error) or "failed"
        else:
            body["name"] = name
        self.client.emit(ending, body, timestamp=ended_at)
        return step_id

    def log_model_call(self, model, *, step_id=None, **fields):
        """provider, prompt_tokens, completion_tokens, cached_tokens, latency_ms, ttft_ms, cost,
        finish_reason, status, error, request, response, call_id."""
        self.client.model_call(model, run_id=self.run_id, step_id=step_id, **fields)

    def flush(self, timeout=10.0):
        return self.client.flush(timeout)

    def close(self, timeout=10.0):
        return self.flush(timeout)


# -- a module-level client, for short scripts -----------------------------------------------------

_default = None
_default_lock = threading.Lock()


def configure(base_url=None, api_key=None, **options):
    """Create the module's client (replacing an earlier one) and return it."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = Client(base_url, api_key, **options)
        return _default


def default_client():
    """The module's client; configured from BACKOFFICE_URL and BACKOFFICE_API_KEY when not yet."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def run(workflow=None, **fields):
    return default_client().run(workflow, **fields)


def span(name, **fields):
    return default_client().span(name, **fields)


def track(name, properties=None, **fields):
    default_client().track(name, properties, **fields)


def message(role, content, **fields):
    default_client().message(role, content, **fields)


def model_call(model, **fields):
    default_client().model_call(model, **fields)


def check_budget(**fields):
    return default_client().check_budget(**fields)


def score(name, value, **fields):
    return default_client().score(name, value, **fields)


def traceparent():
    return default_client().traceparent()


def inject(headers):
    return default_client().inject(headers)


def flush(timeout=10.0):
    return default_client().flush(timeout)
