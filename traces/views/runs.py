"""Runs: the list, and the Run page with its tabs.

Extension point for new tabs (DAG, Timeline, Review, …): add a `Tab` to RUN_TABS (its `order` places
it), write a view that fetches the run with `get_run()` and answers with `render_run_tab()`, and a
template that extends "traces/run_base.html" and fills `{% block tab %}`. The header, the tab bar,
full page versus HTMX fragment and live refresh then come for free.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.forms import EventFilterForm, RunFilterForm, TaskPageForm
from traces.keyset import Keyset
from traces.models import ChatMessage, Event, ModelCall, Run, RunStatus
from traces.task_tree import tree_page

from .common import (
    PAGE_SIZE,
    agent_filtered,
    bad_query,
    fragment_target,
    pager_urls,
    query_url,
    render_region,
    show_all,
)

RUNS = Keyset("started_at")
RUN_ROW_FIELDS = [
    *("run_id", "invocation_id", "workflow", "status", "started_at", "duration_ms", "total_tokens", "cost"),
    *("agent__name", "agent__agent_id", "review__rating", "review__status"),
]
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
    Tab("state", "State", "traces:run_state", 60),
    Tab("review", "Review", "traces:run_review", 70),
]


def get_run(request, run_id, *, payloads=()):
    """The run of the current workspace, with agent and session; 404 for any other. Hits the database.

    The large state and graph are loaded only when named in `payloads`.
    """
    runs = (
        Run.objects.filter(workspace=request.workspace)
        .select_related("agent", "session")
        .defer(*{"state", "graph"} - set(payloads))
        .annotate(
            has_messages=Exists(ChatMessage.objects.filter(run=OuterRef("pk"))),
            # The header says when its cost leaves out calls that have none (unknown model, no price).
            has_unpriced_calls=Exists(ModelCall.objects.filter(run=OuterRef("pk"), cost__isnull=True)),
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
        "live": run.status == RunStatus.RUNNING,
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


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_list(request):
    form, runs = agent_filtered(request, RunFilterForm, Run, "started_at")
    if runs is None:
        return bad_query(request, form)
    data = form.cleaned_data
    if data["workflow"]:
        runs = runs.filter(workflow=data["workflow"])
    if data["status"]:
        runs = runs.filter(status=data["status"])
    if data["min_duration"] is not None:
        runs = runs.filter(duration_ms__gte=int(data["min_duration"] * Decimal(1000)))
    if data["error"]:
        runs = runs.filter(Q(status=RunStatus.FAILED) | Q(error__isnull=False))
    # Only the columns the rows show: every other column would cost a model field per row.
    runs = runs.select_related("agent", "review").only(*RUN_ROW_FIELDS)
    page = RUNS.page(runs, after=data["after"], before=data["before"], size=PAGE_SIZE)
    context = {
        "form": form,
        "page": page,
        "live": any(run.status == RunStatus.RUNNING for run in page.rows),
        **pager_urls(request, page, data),
    }
    return render_region(request, "traces/run_list.html", context, {"rows": "rows"})


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_tasks(request, run_id):
    """The Tasks tab, also the Run page's default: the task tree, 500 tasks a page."""
    run = get_run(request, run_id)
    form = TaskPageForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    tree = tree_page(run, after=form.cleaned_data["after"])
    context = {
        "tree": tree,
        "more_url": query_url(request, after=tree.next) if tree.next else None,
        "continued": bool(form.cleaned_data["after"]),
    }
    return render_run_tab(request, run, "tasks", "traces/run_tasks.html", context, {"task-more": "more"})


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
    for event in page.rows:
        event.is_error = event.type in FAILURE_TYPES or is_error_payload(event.payload)
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
