"""Conversations: the list of sessions, and one conversation as chat bubbles with a run side panel."""

import json

from django.db.models import Exists, OuterRef, Q, Subquery, TextField
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.forms import SessionFilterForm, TurnsForm
from traces.keyset import Keyset, encode
from traces.live import live_context, running_changes
from traces.models import ChatMessage, Run, RunStatus, Session
from traces.task_tree import tree_page

from .common import (
    PAGE_SIZE,
    agent_filtered,
    bad_query,
    fragment_target,
    pager_urls,
    query_url,
    render_region,
)

SESSIONS = Keyset("last_activity_at")
TURNS = Keyset("sequence", kind="int")
TURNS_PER_PAGE = 200
# Text search looks through the messages of this many conversations per page, newest first, then
# offers to search further back. A whole-workspace LIKE over every message would grow with the
# table; this stays one index walk over the sessions plus their messages, whatever the data size.
SEARCH_WINDOW = 500
# The side panel shows the head of the run's task tree; the run page has the rest.
PANEL_TASKS = 50
# Only the columns the rows show (and the keyset's): every other column costs a model field per row.
SESSION_ROW_FIELDS = [
    *("session_id", "user_id", "last_activity_at", "has_error", "last_user_text", "last_assistant_text"),
    *("run_count", "message_count", "total_tokens", "cost", "agent__name", "agent__agent_id"),
]


def running_changed_at(session_ref):
    """When the running run of a session that changed last did so; NULL when none of its runs runs."""
    running = Run.objects.filter(session=session_ref, status=RunStatus.RUNNING)
    return Subquery(running.order_by("-updated_at").values("updated_at")[:1])


def get_session(request, session_id):
    """The conversation of the current workspace, with its agent; 404 for any other. Hits the database."""
    sessions = (
        Session.objects.filter(workspace=request.workspace)
        .select_related("agent")
        .annotate(running_changed_at=running_changed_at(OuterRef("pk")))
    )
    return get_object_or_404(sessions, session_id=session_id)


def mentions(text):
    """Messages whose content mentions `text`. Content is JSON: strings are matched in their JSON
    spelling, with non-ASCII escaped (as SQLite stores it) and as is (as PostgreSQL prints jsonb)."""
    spellings = {json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    match = Q()
    for spelling in spellings:
        match |= Q(content_text__icontains=spelling)
    return (
        ChatMessage.objects.filter(session=OuterRef("pk"))
        .annotate(content_text=Cast("content", TextField()))
        .filter(match)
    )


def search_page(sessions, text, after):
    """A page of conversations mentioning `text` among the next SEARCH_WINDOW ones. Two queries."""
    if after:
        sessions = sessions.filter(SESSIONS.beyond(after, True))
    window = list(
        sessions.order_by(*SESSIONS.ordering()).values_list("last_activity_at", "pk")[:SEARCH_WINDOW]
    )
    page = SESSIONS.page(
        sessions.filter(pk__in=[pk for _, pk in window]).filter(Exists(mentions(text))), size=PAGE_SIZE
    )
    if page.next is None and len(window) == SEARCH_WINDOW:
        last_time, last_pk = window[-1]
        page.next = f"{encode(last_time)}.{last_pk}"
    page.previous = None
    page.searched = len(window)
    return page


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def session_list(request):
    form, sessions = agent_filtered(request, SessionFilterForm, Session, "last_activity_at")
    if sessions is None:
        return bad_query(request, form)
    data = form.cleaned_data
    sessions = (
        form.narrow(sessions)
        .select_related("agent")
        .only(*SESSION_ROW_FIELDS)
        .annotate(running_changed_at=running_changed_at(OuterRef("pk")))
    )
    if data["q"]:
        page = search_page(sessions, data["q"], data["after"])
    else:
        page = SESSIONS.page(sessions, after=data["after"], before=data["before"], size=PAGE_SIZE)
    context = {
        "form": form,
        "page": page,
        **live_context(session.running_changed_at for session in page.rows),
        **pager_urls(request, page, data),
    }
    return render_region(request, "traces/session_list.html", context, {"rows": "rows"})


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def session_detail(request, session_id):
    """The conversation; ?run= opens that run in the side panel, ?before= shows earlier turns."""
    session = get_session(request, session_id)
    form = TurnsForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    data = form.cleaned_data
    target = fragment_target(request)
    context = {"session": session, "panel_url": request.path}
    if target != "run-panel":
        turns = (
            ChatMessage.objects.filter(session=session)
            .select_related("run")
            .defer(
                "run__input",
                "run__output",
                "run__error",
                "run__state",
                "run__graph",
                "run__trace",
                "run__metadata",
            )
        )
        page = TURNS.page(turns, after=data["before"], size=TURNS_PER_PAGE)
        page.rows.reverse()
        context.update(
            turns=page.rows,
            earlier_url=query_url(request, before=page.next) if page.next else None,
            live_url=query_url(request),
            **live_context([session.running_changed_at]),
            newer_turns=bool(data["before"]),
        )
    if data["run"] and target in (None, "run-panel"):
        runs = (
            Run.objects.filter(session=session)
            .select_related("agent")
            .defer("input", "output", "state", "graph")
        )
        run = get_object_or_404(runs, run_id=data["run"])
        context.update(
            panel_run=run,
            panel_tree=tree_page(run, size=PANEL_TASKS),
            panel_live=live_context(running_changes([run]))["live"],
            close_url=query_url(request, run=None),
        )
    return render_region(
        request,
        "traces/session_detail.html",
        context,
        {"turns": "turns", "turns-earlier": "earlier", "run-panel": "panel"},
    )
