"""Search figures: a one-word search over 30 and 90 days, jump-to-id, and ingest with and without the
search index (the same events, in process, alternately, so both rates see the same machine)."""

import statistics
from unittest import mock

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from backoffice.models import ApiKey, Workspace
from traces.models import Run, SearchDocument
from traces.search import index

from .dataset import USER
from .events import EventStream
from .ingest import ClientPoster, drop_workspaces, ingest_outcome, post_all, scratch_workspace
from .measure import Figure, NotMeasured, median_ms, page_figure, timed

SEARCH_30_MS, SEARCH_90_MS, JUMP_MS = 300, 1000, 20
# A word of most payloads (tests.bench.payloads.WORDS), and one of a few.
COMMON_WORD, RARE_WORD = "refund", "customs"
# Events per ingest round (at most), and rounds of each: with and without the index, alternately.
INGEST_EVENTS = 5_000
INGEST_ROUNDS = 2


def ensure_documents(facts, out):
    """The data set is written straight into the tables: index it as `manage.py search_index` does,
    once (the documents stay with the data set). Returns the backfill's figure, or None when reused."""
    workspaces = list(Workspace.objects.filter(slug__in=facts.workspaces))
    if SearchDocument.objects.filter(workspace=workspaces[0]).exists():
        return None
    runs = Run.objects.filter(workspace__in=workspaces).count()
    seconds, _ = timed(lambda: [index.backfill(workspace) for workspace in workspaces])
    documents = SearchDocument.objects.filter(workspace__in=workspaces).count()
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # As after the data set's build: the pages measured next read fresh statistics.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) search_documents")
    out.write(f"  search index: {documents:,} documents of {runs:,} runs in {seconds:,.0f} s\n")
    return Figure(
        "Search backfill (manage.py search_index)",
        "—",
        f"{documents / seconds:,.0f} documents/s",
        None,
        note=f"{documents:,} documents of {runs:,} runs in {seconds:,.0f} s",
    )


def search_figures(facts, options, out):
    figures = []
    backfill = ensure_documents(facts, out)
    if backfill:
        backfill.ok = True
        figures.append(backfill)
    slug = facts.workspaces[0]
    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username=USER))
    base = f"/w/{slug}/search/?q="
    repeats = options.repeats
    for word in (COMMON_WORD, RARE_WORD):
        figures.append(
            page_figure(f"Search '{word}', last 30 days", client, base + word, repeats, SEARCH_30_MS, None)
        )
        days_90 = f"{base}{word}&range=90d"
        figures.append(
            page_figure(f"Search '{word}', last 90 days", client, days_90, repeats, SEARCH_90_MS, None)
        )
    runs = Run.objects.filter(workspace__slug=slug).order_by("-started_at")
    run = runs.values("run_id", "invocation_id")[0]
    figures.append(jump_figure("Jump to a run id", client, base + run["run_id"], repeats))
    prefix = base + run["invocation_id"][:7]
    figures.append(jump_figure("Jump to an invocation id prefix", client, prefix, repeats))
    if not options.skip_ingest:
        figures += ingest_with_and_without(min(options.events, INGEST_EVENTS), out)
    return figures


def jump_figure(name, client, path, repeats):
    target = f"≤ {JUMP_MS} ms"
    if client.get(path).status_code != 302:
        return Figure(name, target, "no redirect", False)
    server = median_ms([timed(lambda: client.get(path))[0] for _ in range(repeats)])
    return Figure(name, target, f"{server:,.1f} ms", server <= JUMP_MS)


def ingest_rate(with_index, events):
    workspace = scratch_workspace("search-on" if with_index else "search-off")
    _, key = ApiKey.issue(workspace, "bench")
    poster = ClientPoster(Client(HTTP_HOST="localhost"), key)
    stream = EventStream(prefix=workspace.slug)
    try:
        if with_index:
            seconds, accepted = post_all(poster, stream.batches(events), 1, ingest_outcome)
        else:
            # What ingest cost before the search index: the fold collects no text and writes none.
            with mock.patch.object(index.Batch, "write", lambda batch: None):
                seconds, accepted = post_all(poster, stream.batches(events), 1, ingest_outcome)
    finally:
        drop_workspaces([workspace])
    return accepted / seconds


def ingest_with_and_without(events, out):
    name = f"Ingest in process, {events:,} events"
    try:
        rates = {True: [], False: []}
        for _ in range(INGEST_ROUNDS):
            for with_index in (False, True):
                rates[with_index].append(ingest_rate(with_index, events))
    except NotMeasured as exc:
        return [Figure(name, "≥ 80 % of the rate without", "", None, note=str(exc))]
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    share = with_ / without
    out.write(f"  ingest without the search index {without:,.0f} events/s, with it {with_:,.0f} events/s\n")
    return [
        Figure(f"{name}, without the search index", "—", f"{without:,.0f} events/s", True),
        Figure(
            f"{name}, with the search index",
            "≥ 80 % of the rate without",
            f"{with_:,.0f} events/s ({share:.0%})",
            share >= 0.8,
        ),
    ]
