"""Playback: a run's or a conversation's events one step at a time.

The list is a keyset page of events in time order, filtered on the server (turn, kind prefix, errors
only: all in the URL); one event is selected (`?at=<id>`, or the first of the page) and shown whole
beside the list. Previous and Next are links to the same page with the neighbour selected, or to the
neighbouring page at its ends, so stepping works without JavaScript; static/js/playback.js binds them
to j/k and the arrow keys. Each step swaps the #playback region.
"""

from django import forms
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Subquery
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.forms import EVENT_KINDS, PagedForm
from traces.keyset import Keyset
from traces.models import Event, Task
from traces.playback import ERRORS, turn_window

from .common import bad_query, fragment_target, query_url
from .conversations import get_session
from .runs import get_run, render_run_tab

EVENTS = Keyset("timestamp", descending=False)
PER_PAGE = 100


class PlaybackForm(PagedForm):
    turn = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
    kind = forms.ChoiceField(required=False, choices=EVENT_KINDS)
    error = forms.BooleanField(required=False, label="Errors only")
    at = forms.IntegerField(required=False, min_value=1)
    pos = forms.ChoiceField(required=False, choices=[("", "first"), ("last", "last")])


def playback(request, events, session_pk, form):
    """The context of a Playback page: the filtered page of events and the selected one (3 queries,
    one more with a turn), or None with the form holding the error."""
    data = form.cleaned_data
    if data["turn"]:
        if session_pk is None:
            form.add_error("turn", "This run is not part of a conversation: it has no turns.")
            return None
        window = turn_window(session_pk, data["turn"])
        events = events.filter(window) if window is not None else events.none()
    if data["kind"]:
        events = events.filter(type__startswith=data["kind"])
    if data["error"]:
        events = events.filter(ERRORS)
    step_names = Task.objects.filter(run=OuterRef("run"), step_id=OuterRef("step_id")).values("name")[:1]
    rows = events.defer("payload").annotate(
        step_name=Subquery(step_names), failed=ExpressionWrapper(ERRORS, output_field=BooleanField())
    )
    page = EVENTS.page(rows, after=data["after"], before=data["before"], size=PER_PAGE)
    ids = [event.pk for event in page.rows]
    index = ids.index(data["at"]) if data["at"] in ids else (len(ids) - 1 if data["pos"] == "last" else 0)
    selected = None
    if ids:
        # The selected event's payload, the only one the page shows whole.
        selected = page.rows[index]
        selected.payload = Event.objects.filter(pk=selected.pk).values_list("payload", flat=True).first()
    return {
        "form": form,
        "events": page.rows,
        "selected": selected,
        "position": index + 1,
        "filtered": bool(data["turn"] or data["kind"] or data["error"]),
        "previous_url": step_url(request, page, ids, index - 1),
        "next_url": step_url(request, page, ids, index + 1),
        # Whole pages: the filters stay, the selection goes back to the page's first event.
        "earlier_url": query_url(request, before=page.previous, at=None, pos=None) if page.previous else None,
        "later_url": query_url(request, after=page.next, at=None, pos=None) if page.next else None,
        "first_url": query_url(request, at=None, pos=None) if data["after"] or data["before"] else None,
    }


def step_url(request, page, ids, index):
    """The URL that selects the event at `index` of the page, or steps onto the neighbouring page."""
    if 0 <= index < len(ids):
        return query_url(request, at=ids[index], pos=None, **page_of(request))
    if index < 0 and page.previous:
        return query_url(request, before=page.previous, at=None, pos="last")
    if index >= len(ids) and page.next:
        return query_url(request, after=page.next, at=None, pos=None)
    return None


def page_of(request):
    """query_url drops the page cursors; a step within the page keeps them."""
    return {name: request.GET[name] for name in ("after", "before") if request.GET.get(name)}


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_playback(request, run_id):
    run = get_run(request, run_id)
    form = PlaybackForm(request.GET)
    context = (
        playback(request, Event.objects.filter(run=run), run.session_id, form) if form.is_valid() else None
    )
    if context is None:
        return bad_query(request, form)
    # While the run runs, only its header refreshes: a refresh of the whole tab would step back to
    # the event its URL named when the page was opened.
    context.update(started_at=run.started_at, live_target="#run-header")
    return render_run_tab(
        request, run, "playback", "traces/run_playback.html", context, {"playback": "playback"}
    )


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def session_playback(request, session_id):
    """Every event of the conversation's runs (as `manage.py logs --session` prints them)."""
    session = get_session(request, session_id)
    form = PlaybackForm(request.GET)
    events = Event.objects.filter(run__session=session)
    context = playback(request, events, session.pk, form) if form.is_valid() else None
    if context is None:
        return bad_query(request, form)
    context.update(
        session=session,
        started_at=session.started_at,
        conversation_url=reverse("traces:session_detail", args=[request.workspace.slug, session.session_id]),
    )
    template = "traces/session_playback.html"
    if fragment_target(request) == "playback":
        template += "#playback"
    return render(request, template, context)
