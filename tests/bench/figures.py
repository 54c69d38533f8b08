"""Every figure of the issue, measured against the data set, in the order of the table."""

from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from backoffice.models import ApiKey, Workspace

from .autovacuum import Autovacuum
from .budgets import budget_figure
from .dashboards import dashboard_figures
from .dataset import USER
from .export import export_figure
from .follow import follow_figure
from .ingest import Server, ingest_figures, written_tables
from .measure import NotMeasured, not_measured, page_figure
from .monitors import monitors_figure
from .otlp import otlp_figure
from .otlp_logs import otlp_logs_figure
from .run_filters import run_filter_figures
from .scores import score_figures
from .search import search_figures

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LIST_MS, RUN_PAGE_MS, TASKS_API_MS, DAG_MS = 100, 200, 150, 300
# Not one of the issue's: ours, so a scrape every 15 s stays a small part of the database's time.
SCRAPE_MS = 500
# Enough 1,000-event batches for a memory trend; the follower polls between them.
FOLLOW_EVENTS = 20_000


def cursor_at(when, pk=2**62):
    """A keyset cursor (microseconds since the epoch, id) that starts a page at `when`."""
    return f"{(when - EPOCH) // timedelta(microseconds=1)}.{pk}"


def list_pages(facts, slug):
    """(figure name, path) for the three lists: first page and a page 60 days back, each with and
    without a filter."""
    deep = cursor_at(facts.anchor_time - timedelta(days=60))
    lists = [
        ("Conversations", f"/w/{slug}/conversations/", "agent=support-bot"),
        ("Runs", f"/w/{slug}/runs/", "status=failed"),
        ("Model calls", f"/w/{slug}/model-calls/", "model=gpt-4o"),
    ]
    for title, path, filter_ in lists:
        yield f"{title} page, first", path
        yield f"{title} page, 60 days back", f"{path}?after={deep}"
        yield f"{title} page, first, {filter_}", f"{path}?{filter_}"
        yield f"{title} page, 60 days back, {filter_}", f"{path}?{filter_}&after={deep}"


def read_figures(facts, repeats):
    slug = facts.workspaces[0]
    workspace = Workspace.objects.get(slug=slug)
    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username=USER))
    figures = [page_figure(name, client, path, repeats, LIST_MS) for name, path in list_pages(facts, slug)]
    figures.append(
        page_figure(
            f"Run page of the {facts.big_run.split('-')[2]}-task run (header + first 500 tasks)",
            client,
            f"/w/{slug}/runs/{facts.big_run}/",
            repeats,
            RUN_PAGE_MS,
            ratio_limit=None,
        )
    )
    api_key, raw_key = ApiKey.issue(workspace, "bench reads")
    try:
        figures.append(
            page_figure(
                f"GET /api/v1/runs/…/tasks?limit=1000 ({facts.api_run.split('-')[2]}-task run)",
                client,
                f"/api/v1/runs/{facts.api_run}/tasks?limit=1000",
                repeats,
                TASKS_API_MS,
                ratio_limit=None,
                headers={"Authorization": f"Bearer {raw_key}"},
            )
        )
        figures += run_filter_figures(workspace, client, {"Authorization": f"Bearer {raw_key}"}, repeats)
    finally:
        api_key.delete()
    figures.append(
        page_figure(
            "DAG tab of the 10,000-task run",
            client,
            f"/w/{slug}/runs/{facts.big_run}/dag/",
            repeats,
            DAG_MS,
            ratio_limit=None,
        )
    )
    figures.append(
        page_figure(
            f"DAG tab of the {facts.workflow_run.split('-')[2]}-node workflow",
            client,
            f"/w/{slug}/runs/{facts.workflow_run}/dag/",
            repeats,
            DAG_MS,
            ratio_limit=None,
        )
    )
    # Scraped as deployed: with the bearer token /metrics asks for outside DEBUG.
    with override_settings(METRICS_TOKEN="bench-scrape"):
        figures.append(
            page_figure(
                "GET /metrics (a Prometheus scrape)",
                client,
                "/metrics",
                repeats,
                SCRAPE_MS,
                ratio_limit=None,
                headers={"Authorization": "Bearer bench-scrape"},
            )
        )
    return figures


def export_size(facts):
    """A resolved review for a fifth of the runs, at most 10,000: enough lines to see memory move, and
    a stream that ends within gunicorn's default 30 s worker timeout."""
    return min(max(1_000, facts.counts["runs"] // 5), 10_000)


def all_figures(facts, options, out):
    figures = []
    if not options.skip_ingest:
        with Autovacuum(written_tables()) as autovacuum:
            figures += write_figures(facts, options, out)
        if autovacuum.summary():
            out.write(f"  {autovacuum.summary()} during the writes\n")
    figures += read_figures(facts, options.repeats)
    figures += dashboard_figures(facts, options.repeats)
    figures.append(monitors_figure(facts))
    figures.append(budget_figure(facts, options.repeats))
    figures += search_figures(facts, options, out)
    return figures


def write_figures(facts, options, out):
    if options.no_server:
        client = Client(HTTP_HOST="localhost")
        return [
            *ingest_figures(facts, events=options.events, clients=1, client=client, out=out),
            otlp_figure(spans=options.spans, clients=1, client=client),
            otlp_logs_figure(spans=options.spans, clients=1, client=client),
            follow_figure(events=FOLLOW_EVENTS, committed=False),
            export_figure(facts, reviews=export_size(facts), server=None),
            *score_figures(facts, options, client=client),
        ]
    figures = []
    try:
        with Server(options.port, options.workers) as server:
            figures += ingest_figures(
                facts, events=options.events, clients=options.clients, server=server, out=out
            )
            figures.append(otlp_figure(spans=options.spans, clients=options.clients, server=server))
            figures.append(otlp_logs_figure(spans=options.spans, clients=options.clients, server=server))
            figures.append(export_figure(facts, reviews=export_size(facts), server=server))
            figures += score_figures(facts, options, server=server)
        figures.append(follow_figure(events=FOLLOW_EVENTS, committed=True))
    except NotMeasured as exc:
        figures.append(not_measured("Ingest through gunicorn", "≥ 5,000 events/s", str(exc)))
    return figures
