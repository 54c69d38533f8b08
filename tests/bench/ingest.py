"""Ingest figures: events/s through POST /api/v1/ingest served as deployed, against a raw COPY of the
same rows into the same tables, and the server's resident memory over the run."""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from backoffice.models import ApiKey, Workspace
from metrics.models import TrackedEvent
from traces.models import Agent, CallShape, ChatMessage, Event, ModelCall, Run, SearchDocument, Session, Task

from .events import EventStream
from .measure import Figure, NotMeasured, not_measured
from .tables import max_id, min_id, reset_sequences

# Child tables first: the order rows are deleted in, reversed for COPY.
WRITTEN = [SearchDocument, TrackedEvent, ChatMessage, ModelCall, Event, Task, Run, Session, Agent]
ROOT = Path(__file__).resolve().parents[2]
INGEST = "/api/v1/ingest"


class Server:
    """gunicorn serving the project as deployed: several workers, DEBUG off, on one port."""

    def __init__(self, port, workers):
        self.port, self.workers = port, workers
        self.process = None

    def __enter__(self):
        env = server_env()
        command = [sys.executable, "-m", "gunicorn", "backoffice.wsgi:application"]
        command += [
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NotMeasured(f"gunicorn exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                if len(self.worker_pids()) >= self.workers:
                    self.warm_up()
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise NotMeasured(f"gunicorn did not listen on port {self.port} within 60 s")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def warm_up(self, waves=2):
        """A worker imports the project's views and opens its database connection on its first request
        (~0.5 s of CPU): waves of as many concurrent GET /health as there are workers, so that a figure
        measures serving, not starting up. A busy worker leaves the next request to another."""

        def get():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                conn.request("GET", "/health")
                conn.getresponse().read()
            finally:
                conn.close()

        for _ in range(waves):
            threads = [threading.Thread(target=get) for _ in range(self.workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    def worker_pids(self):
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def resident_kib(self):
        """Resident memory of the master and its workers, in KiB."""
        return resident_kib([self.process.pid, *self.worker_pids()])


def resident_kib(pids):
    """Resident memory of these processes, in KiB (Linux)."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def server_env(**extra):
    """The environment of a process that serves (or reads) the same database, as deployed."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-secret",
        "DATABASE_URL": database_url(connection.settings_dict),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on the loopback, as behind a proxy that ends TLS: no redirect to https.
        "SECURE_SSL": "0",
        **extra,
    }


def growth(samples):
    """(growth, early, late) of memory samples: the first tenth after warm-up against the last tenth."""
    tenth = max(len(samples) // 10, 1)
    early, late = samples[tenth : 2 * tenth], samples[-tenth:]
    early, late = sorted(early)[len(early) // 2], sorted(late)[len(late) // 2]
    return late / early - 1, early, late


def database_url(database):
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    user, host = database.get("USER") or "postgres", database.get("HOST") or "127.0.0.1"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{database.get('PORT') or 5432}/{database['NAME']}"


class HttpPoster:
    """POSTs bodies to one path of the server, one keep-alive connection per client thread."""

    def __init__(self, port, key, path=INGEST, content_type="application/json"):
        self.port, self.path = port, path
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
        self.local = threading.local()

    def post(self, body):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        conn.request("POST", self.path, body=body, headers=self.headers)
        response = conn.getresponse()
        return response.status, response.read()


class ClientPoster:
    """The in-process test client, for the smoke run where no server can see the test database."""

    def __init__(self, client, key, path=INGEST, content_type="application/json"):
        self.client, self.path, self.content_type = client, path, content_type
        self.headers = {"Authorization": f"Bearer {key}"}

    def post(self, body):
        response = self.client.post(self.path, body, content_type=self.content_type, headers=self.headers)
        return response.status_code, response.content


def ingest_outcome(status, content):
    """Events stored by one answer of /api/v1/ingest; anything but all accepted stops the figure."""
    outcome = json.loads(content)
    if status != 200 or outcome["rejected"] or outcome["duplicates"]:
        raise NotMeasured(f"ingest answered {status}: {content[:300]!r}")
    return outcome["accepted"]


def post_all(poster, bodies, clients, stored, on_batch=lambda: None):
    """Post every body from `clients` threads; returns (seconds, items stored as `stored` counts them)."""
    lock = threading.Lock()
    total, errors = [0], []

    def work():
        while not errors:
            with lock:
                body = next(bodies, None)
            if body is None:
                return
            try:
                count = stored(*poster.post(body))
            except NotMeasured as exc:
                errors.append(exc)
                return
            with lock:
                total[0] += count
            on_batch()

    started = time.perf_counter()
    if clients == 1:
        work()  # in this thread: the in-process client must use this thread's database connection
    else:
        threads = [threading.Thread(target=work) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started, total[0]


def written_tables():
    return [model._meta.db_table for model in WRITTEN] + ["trace_rollups", "tracked_event_rollups"]


def scratch_workspace(label):
    stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
    return Workspace.objects.create(slug=f"bench-{label}-{stamp}", name=f"Bench {label}")


def drop_workspaces(workspaces):
    """Delete what ingest wrote for these workspaces, in bulk: the ORM would fetch every row first."""
    ids = [w.pk for w in workspaces]
    marks = ", ".join(["%s"] * len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        # Call shapes hang off their run alone, with no workspace column of their own.
        cursor.execute(
            f"DELETE FROM {CallShape._meta.db_table} WHERE run_id IN "  # noqa: S608
            f"(SELECT id FROM {Run._meta.db_table} WHERE workspace_id IN ({marks}))",
            ids,
        )
        for model in WRITTEN:
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE workspace_id IN ({marks})", ids)  # noqa: S608
        Workspace.objects.filter(pk__in=ids).delete()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # What autovacuum does after a delete this size (where it runs): the pages measured next read
        # clean tables and visibility maps, not a million dead rows.
        with connection.cursor() as cursor:
            for model in WRITTEN:
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


def ingest_figures(facts, *, events, clients, server=None, client=None, out=sys.stderr):
    """Ingest `events` events in batches of 1,000: through gunicorn when `server` is given, else the
    in-process `client`. Then COPY the same rows, and report the figures."""
    name = "Ingest, POST /api/v1/ingest, batches of 1,000"
    if server:
        name += f" (gunicorn, {server.workers} workers, {clients} clients)"
    rate_target, copy_target, memory_target = "≥ 5,000 events/s", "≥ 20 % of COPY", "growth ≤ 20 %"
    workspace = scratch_workspace("ingest")
    _, key = ApiKey.issue(workspace, "bench")
    copied = None
    try:
        poster = HttpPoster(server.port, key) if server else ClientPoster(client, key)
        stream = EventStream(prefix=workspace.slug)
        samples = []

        def sample():
            if server:
                samples.append(server.resident_kib())

        try:
            seconds, accepted = post_all(poster, stream.batches(events), clients, ingest_outcome, sample)
        except NotMeasured as exc:
            return [not_measured(name, rate_target, str(exc))]
        rate = accepted / seconds
        figures = [
            Figure(
                name,
                rate_target,
                f"{rate:,.0f} events/s",
                rate >= 5000,
                note=f"{accepted:,} events in {seconds:.1f} s",
            )
        ]
        copy_name = "Ingest rate ÷ raw COPY of the same rows"
        if connection.vendor != "postgresql":
            figures.append(not_measured(copy_name, copy_target, "COPY needs PostgreSQL"))
        else:
            copied = scratch_workspace("copy")
            copy_seconds, rows = copy_workspace(workspace, copied)
            share = copy_seconds / seconds
            figures.append(
                Figure(
                    copy_name,
                    copy_target,
                    f"{100 * share:.0f} %",
                    share >= 0.2,
                    note=f"COPY wrote the {rows:,} rows of those events in {copy_seconds:.2f} s "
                    f"({accepted / copy_seconds:,.0f} events/s)",
                )
            )
        figures.append(memory_figure(samples, accepted, memory_target, server))
        return figures
    finally:
        drop_workspaces([w for w in (workspace, copied) if w])


def memory_figure(samples, events, target, server):
    name = f"Ingest server resident memory over {events:,} events"
    if not server:
        return not_measured(name, target, "no server process in this run (--no-server)")
    if len(samples) < 10:
        return not_measured(name, target, "too few batches to tell (run more events)")
    grew, early, late = growth(samples)
    return Figure(
        name,
        target,
        f"{grew * 100:+.0f} %",
        grew <= 0.2,
        note=f"{early / 1024:,.0f} MiB after warm-up, {late / 1024:,.0f} MiB at the end, "
        f"peak {max(samples) / 1024:,.0f} MiB",
    )


# -- the raw COPY of the same rows -----------------------------------------------------------------


def copy_workspace(source, target):
    """Read every row ingest wrote for `source`, then time a COPY of the same rows into the same
    tables for `target` (new keys, same foreign-key links). Returns (seconds, rows)."""
    # The copies take the keys just past the table's last one. (Shifting by the last key alone doubled
    # the sequences with every run, since the rows copied carry keys near it: bigint overflowed after
    # a few dozen runs on one database.)
    offsets = {model: max_id(model) - min_id(model, source) + 1 for model in WRITTEN}
    tables = {model._meta.db_table: model for model in WRITTEN}
    loads = []
    for model in reversed(WRITTEN):
        fields = model._meta.concrete_fields
        columns = [f.column for f in fields]
        shifts = {}
        for index, field in enumerate(fields):
            if field.primary_key:
                shifts[index] = ("add", offsets[model])
            elif field.is_relation and field.related_model is Workspace:
                shifts[index] = ("set", str(target.pk).encode())
            elif field.is_relation and field.related_model._meta.db_table in tables:
                shifts[index] = ("add", offsets[tables[field.related_model._meta.db_table]])
        lines = read_rows(model._meta.db_table, columns, source.pk)
        loads.append(
            (model._meta.db_table, columns, b"".join(shift_line(line, shifts) for line in lines), len(lines))
        )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table, columns, data, _ in loads:
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write(data)
    seconds = time.perf_counter() - started
    reset_sequences(WRITTEN)
    return seconds, sum(n for *_, n in loads)


def read_rows(table, columns, workspace_pk):
    query = (
        f"COPY (SELECT {', '.join(columns)} FROM {table} WHERE workspace_id = {int(workspace_pk)}) TO STDOUT"  # noqa: S608
    )
    data = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(query) as copy:
        for chunk in copy:
            data += chunk
    return bytes(data).splitlines(keepends=True)


def shift_line(line, shifts):
    cells = line.rstrip(b"\n").split(b"\t")
    for index, (how, value) in shifts.items():
        if cells[index] == b"\\N":
            continue
        cells[index] = value if how == "set" else str(int(cells[index]) + value).encode()
    return b"\t".join(cells) + b"\n"
