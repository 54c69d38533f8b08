"""Figures and how they are timed: medians of several runs; a page's server time against its raw SQL."""

import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve


class NotMeasured(Exception):
    """A figure that cannot be measured here; the message says why."""


@dataclass
class Figure:
    name: str
    target: str
    measured: str = ""
    ok: bool | None = None
    ratio: str = ""
    note: str = ""

    @property
    def result(self):
        if self.ok is None:
            return "not measured"
        return "pass" if self.ok else "MISS"


def not_measured(name, target, reason):
    return Figure(name, target, ok=None, note=reason)


def median_ms(seconds):
    return statistics.median(seconds) * 1000


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


@dataclass
class PageTiming:
    server_ms: float
    sql_ms: float
    queries: int

    @property
    def ratio(self):
        return self.server_ms / self.sql_ms if self.sql_ms else float("inf")


def require_route(path):
    try:
        resolve(urlsplit(path).path)
    except Resolver404:
        raise NotMeasured(f"{urlsplit(path).path} is not on this branch yet") from None


def measure_page(client, path, repeats, headers=None):
    """Median server time of GET `path` (in process: middleware, view, template), and the median time
    of the same SELECTs run raw on the cursor, read whole."""
    require_route(path)
    headers = headers or {}
    response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise NotMeasured(f"{path} answered {response.status_code}")
    server = [timed(lambda: client.get(path, headers=headers))[0] for _ in range(repeats)]
    with CaptureQueriesContext(connection) as captured:
        client.get(path, headers=headers)
    statements = [
        q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")
    ]
    raw = [timed(lambda: run_raw(statements))[0] for _ in range(repeats)]
    return PageTiming(median_ms(server), median_ms(raw), len(captured.captured_queries))


def run_raw(statements):
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            cursor.fetchall()


def page_figure(name, client, path, repeats, limit_ms, ratio_limit=3.0, headers=None):
    target = f"≤ {limit_ms:,} ms" + (f", ≤ {ratio_limit:g}× SQL" if ratio_limit else "")
    try:
        timing = measure_page(client, path, repeats, headers)
    except NotMeasured as exc:
        return not_measured(name, target, str(exc))
    ok = timing.server_ms <= limit_ms and (not ratio_limit or timing.ratio <= ratio_limit)
    return Figure(
        name,
        target,
        f"{timing.server_ms:,.1f} ms",
        ok,
        ratio=f"{timing.ratio:.1f}× ({timing.sql_ms:,.1f} ms, {timing.queries} q)",
    )


def print_table(figures, out):
    """One table: figure, measured, target, result, and server time ÷ raw SQL time for pages."""
    header = ("Figure", "Measured", "Target", "Result", "Server ÷ SQL")
    rows = [(f.name, f.measured, f.target, f.result, f.ratio) for f in figures]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out.write(line(header) + "\n")
    out.write("|" + "|".join("-" * (w + 2) for w in widths) + "|\n")
    for row in rows:
        out.write(line(row) + "\n")
    notes = [(f.name, f.note) for f in figures if f.note]
    for name, note in notes:
        out.write(f"  {name}: {note}\n")
