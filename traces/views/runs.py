"""Runs: the list, and the Run page with its tabs.

Extension point for new tabs (DAG, Timeline, Review, …): add a `Tab` to RUN_TABS (its `order` places
it), write a view that fetches the run with `get_run()` and answers with `render_run_tab()`, and a
template that extends "traces/run_base.html" and fills `{% block tab %}`. The header, the tab bar,
full page versus HTMX fragment and live refresh then come for free.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.forms import EventFilterForm
from traces.keyset import Keyset
from traces.live import live_context, running_changes
from traces.models import Agent, ChatMessage, Event, ModelCall, Run
from traces.run_filters import RunFilterForm, count_matches, matching
from traces.scores.queries import score_summaries

from .common import (
    PAGE_SIZE,
    bad_query,
    fragment_target,
    pager_urls,
    query_url,
    render_region,
    show_all,
    time_bounds,
)
from .saved_views import save_form_for

RUN_ROW_FIELDS = [
    *("run_id", "invocation_id", "workflow", "status", "started_at", "duration_ms", "total_tokens", "cost"),
    *("tags", "agent__name", "agent__agent_id", "agent__mode", "review__rating", "review__status"),
    "updated_at",
]
# The columns of the Runs list a viewer may hide (the run id always shows), and the sort key of those
# whose header sorts the list.
RUN_COLUMNS = [
    ("invocation", "Invocation"),
    ("agent", "Agent"),
    ("workflow", "Workflow"),
    ("status", "Status"),
    ("started", "Started"),
    ("duration", "Duration"),
    ("tokens", "Tokens"),
    ("cost", "Cost"),
    ("tags", "Tags"),
    ("review", "Review"),
    ("scores", "Scores"),
]
SORTED_BY = {"started": "time", "duration": "duration", "tokens": "tokens", "cost": "cost"}
NUMERIC_COLUMNS = {"started", "duration", "tokens", "cost"}
NARROW_HIDDEN = {"invocation", "workflow", "tokens", "cost", "tags", "review", "scores"}
EVENTS = Keyset("timestamp", descending=False)
EVENTS_PER_PAGE = 500
# Events that record a failure; other events count as errors when their payload carries one.
FAILURE_TYPES = ["run.failed", "step.failed", "tool.failed", "gate.rejected"]


@dataclass(frozen=True)
class Tab:
    slug: str
    label: str
    url_name: str
    order: int
    shown: Callable[[Run], bool] = lambda run: True


# The Run page's tabs; `order` follows DESIGN §5 (Tasks, DAG, Timeline, Chat, Events, State, Review).
RUN_TABS = [
    Tab("tasks", "Tasks", "traces:run_tasks", 10),
    Tab("dag", "DAG", "traces:run_dag", 20),
    Tab("timeline", "Timeline", "traces:run_timeline", 30),
    Tab("chat", "Chat", "traces:run_chat", 40, shown=lambda run: run.has_messages),
    Tab("events", "Events", "traces:run_events", 50),
    Tab("playback", "Playback", "traces:run_playback", 55),
    Tab("state", "State", "traces:run_state", 60),
    Tab("review", "Review", "traces:run_review", 70),
]


def get_run(request, run_id, *, payloads=()):
    """The run of the current workspace, with agent and session; 404 for any other. Hits the database.

    The large state and graph are loaded only when named in `payloads`.
    """
    replays = Run.objects.filter(workspace=OuterRef("workspace"), replay_of=OuterRef("run_id")).exclude(
        replay_of=""
    )
    runs = (
        Run.objects.filter(workspace=request.workspace)
        .select_related("agent", "session")
        .defer(*{"state", "graph"} - set(payloads))
        .annotate(
            has_messages=Exists(ChatMessage.objects.filter(run=OuterRef("pk"))),
            # The header says when its cost leaves out calls that have none (unknown model, no price).
            has_unpriced_calls=Exists(ModelCall.objects.filter(run=OuterRef("pk"), cost__isnull=True)),
            # The header links the latest replay of this run, and says how many there are. The
            # exclude matches the run_by_replay_of index's condition, so PostgreSQL can use it.
            latest_replay=Subquery(replays.order_by("-started_at", "-id").values("run_id")[:1]),
            replay_count=Subquery(
                replays.order_by().values("replay_of").annotate(n=Count("pk")).values("n")[:1]
            ),
        )
    )
    return get_object_or_404(runs, run_id=run_id)


def run_tabs(request, run):
    return [
        {
            "slug": tab.slug,
            "label": tab.label,
            "url": reverse(tab.url_name, args=[request.workspace.slug, run.run_id]),
        }
        for tab in sorted(RUN_TABS, key=lambda tab: tab.order)
        if tab.shown(run)
    ]


def render_run_tab(request, run, tab, template, context=None, regions=None):
    """A Run tab: the full page, the run region (header, tabs, this tab) for tab switches and live
    refresh, the header alone for a header-only refresh, or one of the tab's own `regions`."""
    context = {
        "run": run,
        "tabs": run_tabs(request, run),
        "tasks_url": reverse("traces:run_tasks", args=[request.workspace.slug, run.run_id]),
        "live_url": query_url(request),
        "current_tab": tab,
        **live_context(running_changes([run])),
        "run_layout": "base.html",
        **(context or {}),
    }
    target = fragment_target(request)
    if target is not None:
        if target == "run-header":
            context["live_target"] = "#run-header"
            return render(request, "traces/includes/run_header.html", context)
        if target in (regions or {}):
            return render(request, f"{template}#{regions[target]}", context)
        context["run_layout"] = "traces/run_fragment.html"
    return render(request, template, context)


class RunListForm(RunFilterForm):
    """The filters of the Runs page, and which columns it shows (all when none is named)."""

    col = forms.MultipleChoiceField(
        required=False, choices=RUN_COLUMNS, label="Columns", widget=forms.CheckboxSelectMultiple
    )

    def hidden_errors(self):
        """Errors of the parameters the bar has no visible input for (pages and sort come from links,
        exact time bounds, agent names and edges from dashboard cards and workflow graphs)."""
        hidden = (
            "sort",
            "after",
            "before",
            "start",
            "end",
            "agent_name",
            "edge_from",
            "edge_to",
            "edge_kind",
        )
        return [f"{name}: {error}" for name in hidden for error in self.errors.get(name, [])]


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_list(request):
    agents = list(Agent.objects.filter(workspace=request.workspace).only("agent_id", "name"))
    form = RunListForm(request.GET, agents)
    if not form.is_valid():
        if fragment_target(request) is not None:
            return bad_query(request, form)
        # The whole page comes back with the form's errors next to its fields, and no rows.
        context = {"form": form, "page": None, "save_form": save_form_for(request)}
        return render(request, "traces/run_list.html", context, status=400)
    data = form.cleaned_data
    runs = matching(request.workspace, form, agents)
    count, more = count_matches(runs)
    # Only the columns the rows show: every other column would cost a model field per row.
    runs = runs.select_related("agent", "review").only(*RUN_ROW_FIELDS)
    page = form.keyset.page(runs, after=data["after"], before=data["before"], size=PAGE_SIZE)
    shown = set(data["col"]) or {key for key, _ in RUN_COLUMNS}
    if "scores" in shown:
        summaries = score_summaries(page.rows)
        for run in page.rows:
            run.score_summary = summaries.get(run.pk, "")
    context = {
        "form": form,
        "page": page,
        "count": count,
        "more": more,
        "columns": shown,
        "save_form": save_form_for(request),
        "headers": run_headers(request, data["sort"], shown),
        **live_context(running_changes(page.rows)),
        **pager_urls(request, page, data),
        **time_bounds(request, form),
    }
    return render_region(request, "traces/run_list.html", context, {"rows": "rows"})


def run_headers(request, sort, shown):
    """The shown column headers; a sortable one links to the list sorted by it (highest first, or the
    other way when it is the current sort) and says how the list is sorted now."""
    headers = []
    for key, label in RUN_COLUMNS:
        if key not in shown:
            continue
        header = {
            "key": key,
            "label": label,
            "numeric": key in NUMERIC_COLUMNS,
            "narrow": key in NARROW_HIDDEN,
        }
        if key in SORTED_BY:
            name = SORTED_BY[key]
            header["sorted"] = {f"-{name}": "descending", name: "ascending"}.get(sort)
            header["url"] = query_url(request, sort=name if sort == f"-{name}" else f"-{name}")
        headers.append(header)
    return headers


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_chat(request, run_id):
    run = get_run(request, run_id)
    # A run's turns are few (one conversation exchange); the cap keeps a runaway run's page light.
    turns = list(ChatMessage.objects.filter(run=run).order_by("sequence", "id")[:1000])
    for turn in turns:
        turn.run = run  # every turn's run is this one: no need to fetch it again
    return render_run_tab(request, run, "chat", "traces/run_chat.html", {"turns": turns})


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_events(request, run_id):
    """The replay log: the run's events in time order, filtered by kind prefix and errors."""
    run = get_run(request, run_id)
    form = EventFilterForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    events = Event.objects.filter(run=run)
    full = request.GET.get("full", "")
    if full.startswith("event-") and full[6:].isdigit():
        answer = show_all(request, {full: lambda: get_object_or_404(events, pk=int(full[6:])).payload})
        if answer:
            return answer
    data = form.cleaned_data
    if data["kind"]:
        events = events.filter(type__startswith=data["kind"])
    if data["error"]:
        events = events.filter(
            Q(type__in=FAILURE_TYPES) | Q(payload__has_key="error") | Q(payload__status="error")
        )
    page = EVENTS.page(events, after=data["after"], size=EVENTS_PER_PAGE)
    mark_errors(page.rows)
    context = {
        "form": form,
        "events": page.rows,
        "started_at": run.started_at,
        "more_url": query_url(request, after=page.next) if page.next else None,
        "continued": bool(data["after"]),
        "first_url": query_url(request),
    }
    regions = {"events": "events", "event-more": "more"}
    return render_run_tab(request, run, "events", "traces/run_events.html", context, regions)


def mark_errors(events):
    """Flag the events that record a failure (`is_error`), for the replay log's red rows."""
    for event in events:
        event.is_error = event.type in FAILURE_TYPES or is_error_payload(event.payload)
    return events


def is_error_payload(payload):
    return isinstance(payload, dict) and (
        payload.get("error") is not None or payload.get("status") == "error"
    )


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_state(request, run_id):
    run = get_run(request, run_id, payloads=("state",))
    answer = show_all(
        request, {"state": run.state, "input": run.input, "output": run.output, "error": run.error}
    )
    return answer or render_run_tab(request, run, "state", "traces/run_state.html")
