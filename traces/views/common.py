"""What every drill-down view shares: full page or HTMX fragment, bad query parameters, "show all"."""

from django.shortcuts import render

from traces.forms import of_agent
from traces.models import Agent

# Rows per keyset page of the lists.
PAGE_SIZE = 50


def fragment_target(request):
    """The id of the element HTMX will swap, or None when the whole page must be rendered.

    A history restore asks for the whole page even though it comes from HTMX.
    """
    if request.htmx and not request.htmx.history_restore_request:
        return request.htmx.target or ""
    return None


def render_region(request, template, context, regions):
    """The full page, or the partial of `template` that the HTMX target names (regions: target -> partial)."""
    partial = regions.get(fragment_target(request))
    return render(request, f"{template}#{partial}" if partial else template, context)


def agent_filtered(request, form_class, model, time_field):
    """A list's filter form, bound to the query and the workspace's agents, and the workspace's rows in
    its time range and of its agent; (form, None) when the query is bad."""
    agents = list(Agent.objects.filter(workspace=request.workspace).only("agent_id", "name"))
    form = form_class(request.GET, agents)
    if not form.is_valid():
        return form, None
    rows = model.objects.filter(workspace=request.workspace, **form.time_range(time_field))
    return form, of_agent(rows, form.cleaned_data["agent"], agents)


def bad_query(request, form):
    """400 naming each bad query parameter: a clear answer, never a 500."""
    return render(request, "traces/bad_query.html", {"form": form}, status=400)


def show_all(request, values):
    """Answer a "show all" request from a JSON view: the value named by ?full=, without limits.

    `values` maps each key the page shows to its value (or to a callable fetching it), so that an
    unknown key is ignored and the page renders as usual.
    """
    key = request.GET.get("full", "")
    if fragment_target(request) != f"json-{key}" or key not in values:
        return None
    value = values[key]
    value = value() if callable(value) else value
    return render(request, "traces/includes/json_full.html", {"value": value, "key": key})


def query_url(request, **changes):
    """The current URL with some query parameters changed (None removes one); pages reset."""
    query = request.GET.copy()
    for name in ("after", "before", "full", *changes):
        query.pop(name, None)
    for name, value in changes.items():
        if value is not None:
            query[name] = value
    return f"{request.path}?{query.urlencode()}" if query else request.path


def pager_urls(request, page, data):
    """Links to the newer, older and newest keyset pages of a list."""
    return {
        "newer_url": query_url(request, before=page.previous) if page.previous else None,
        "older_url": query_url(request, after=page.next) if page.next else None,
        "newest_url": query_url(request) if data["after"] or data["before"] else None,
    }


def time_bounds(request, form):
    """The exact time bounds a list was opened with (a dashboard card's drill-through link), for the
    note that shows them, and the URL of the same list without them; {} when there are none."""
    start, end = form.cleaned_data.get("start"), form.cleaned_data.get("end")
    if not start and not end:
        return {}
    return {"bounds": {"start": start, "end": end, "clear_url": query_url(request, start=None, end=None)}}
