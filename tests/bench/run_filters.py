"""The Runs list's filters and sorts, and the list API: the first page and a page well into the list of
every filter combination the figures name, and a list API page of 1,000 runs."""

from django.http import QueryDict

from traces.models import Agent, Run
from traces.run_filters import RunFilterForm, matching

from .measure import page_figure

LIST_MS, API_MS = 100, 200
# How far into the list the later page starts (rows).
LATER = 500
SORTS = ["-time", "time", "-duration", "duration", "-tokens", "tokens", "-cost", "cost"]
FILTERS = [
    "agent=support-bot",
    "status=failed",
    "user={user}",
    "tag=bench",
    "meta=plan%3Dpro",
    "model=gpt-4o",
    "step=plan",
    "failed_step=plan",
    "error=on",
    "min_duration=30",
    "min_tokens=5000",
    "min_cost=0.05",
    "period=7d",
    "status=failed&sort=-cost",
    "agent=support-bot&sort=-duration",
    "model=gpt-4o&sort=-tokens&period=30d",
    "error=on&agent=support-bot&period=30d",
]


def later_cursor(workspace, agents, query):
    """The cursor of the row LATER rows into the list, or None when the list is shorter."""
    form = RunFilterForm(QueryDict(query), agents)
    if not form.is_valid():
        raise ValueError(f"{query}: {form.errors.as_text()}")
    rows = matching(workspace, form, agents).order_by(*form.keyset.ordering())
    row = next(iter(rows.only(form.keyset.field)[LATER : LATER + 1]), None)
    return form.keyset.cursor(row) if row else None


def run_filter_figures(workspace, client, api_headers, repeats):
    agents = list(Agent.objects.filter(workspace=workspace))
    user = Run.objects.filter(workspace=workspace).values_list("user_id", flat=True).first()
    queries = [f"sort={sort}" for sort in SORTS] + [query.format(user=user) for query in FILTERS]
    path = f"/w/{workspace.slug}/runs/"
    figures = []
    for query in queries:
        figures.append(
            page_figure(f"Runs page, first, {query}", client, f"{path}?{query}", repeats, LIST_MS, None)
        )
        cursor = later_cursor(workspace, agents, query)
        if cursor:
            figures.append(
                page_figure(
                    f"Runs page, {LATER} rows in, {query}",
                    client,
                    f"{path}?{query}&after={cursor}",
                    repeats,
                    LIST_MS,
                    None,
                )
            )
    for query in ("limit=1000", "limit=1000&sort=-time", "limit=1000&sort=-cost&status=completed"):
        figures.append(
            page_figure(
                f"GET /api/v1/runs?{query}",
                client,
                f"/api/v1/runs?{query}",
                repeats,
                API_MS,
                None,
                api_headers,
            )
        )
    return figures
