"""The search box: an id jumps to what it names, anything else lists the matching texts."""

from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.forms import SearchForm
from traces.keyset import Keyset
from traces.models import ChatMessage, ModelCall, SearchKind
from traces.views.common import PAGE_SIZE, bad_query, pager_urls, render_region

from .query import jump, matching, since_for
from .text import snippet, terms

DOCUMENTS = Keyset("at")
JUMPS = {
    "run": lambda ws, value: reverse("traces:run_detail", args=[ws.slug, value]),
    "session": lambda ws, value: reverse("traces:session_detail", args=[ws.slug, value]),
    "review": lambda ws, value: reverse("traces:review_detail", args=[ws.slug, value]),
}
TASK_KINDS = {SearchKind.TASK_NAME, SearchKind.TASK_INPUT, SearchKind.TASK_OUTPUT, SearchKind.TASK_ERROR}
CALL_KINDS = {SearchKind.CALL_REQUEST, SearchKind.CALL_RESPONSE, SearchKind.CALL_ERROR}
LISTED_FIELDS = ("id", "kind", "ref", "at", "text", "run__run_id", "run__invocation_id", "run__status")


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def search(request):
    form = SearchForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    data = form.cleaned_data
    q = data["q"]
    paging = data["after"] or data["before"]
    if q and not paging and not request.htmx:
        found = jump(request.workspace, q)
        if found is not None:
            kind, value = found
            return redirect(JUMPS[kind](request.workspace, value))
    query_terms = terms(q)
    documents = matching(request.workspace, q, since_for(data["range"]))
    page = DOCUMENTS.page(
        documents.select_related("run").only(*LISTED_FIELDS),
        after=data["after"],
        before=data["before"],
        size=PAGE_SIZE,
    )
    results = [
        {"document": d, "snippet": snippet(d.text, query_terms), "label": SearchKind(d.kind).label}
        for d in page.rows
    ]
    link_results(request.workspace, results)
    context = {
        "form": form,
        "q": q,
        "search_q": q,
        "has_terms": bool(query_terms),
        "range": data["range"],
        "results": results,
        "page": page,
        **pager_urls(request, page, data),
    }
    return render_region(request, "traces/search_results.html", context, {"results": "results"})


def link_results(workspace, results):
    """Give each result the URL of the exact turn, task or model call it was found in. Two queries at
    most, whatever the page holds: the chat turns' places and the model calls' tasks."""
    turns = [r["document"].ref for r in results if r["document"].kind == SearchKind.MESSAGE]
    calls = [r["document"] for r in results if r["document"].kind in CALL_KINDS]
    turn_of = {}
    if turns:
        rows = ChatMessage.objects.filter(workspace=workspace, event_id__in=turns)
        turn_of = {m["event_id"]: m for m in rows.values("event_id", "pk", "session__session_id")}
    step_of = {}
    if calls:
        rows = ModelCall.objects.filter(run__in={d.run_id for d in calls}, call_id__in={d.ref for d in calls})
        step_of = {(c["run"], c["call_id"]): c["step_id"] for c in rows.values("run", "call_id", "step_id")}
    slug = workspace.slug
    for result in results:
        document = result["document"]
        run_id = document.run.run_id if document.run_id else None
        url = reverse("traces:run_detail", args=[slug, run_id]) if run_id else None
        if document.kind in TASK_KINDS:
            url = reverse("traces:task_detail", args=[slug, run_id, document.ref])
        elif document.kind in CALL_KINDS:
            step_id = step_of.get((document.run_id, document.ref))
            if step_id:
                url = reverse("traces:task_detail", args=[slug, run_id, step_id])
        elif document.kind == SearchKind.MESSAGE:
            turn = turn_of.get(document.ref)
            if turn and run_id:
                url = reverse("traces:run_chat", args=[slug, run_id]) + f"#turn-{turn['pk']}"
            elif turn:
                url = reverse("traces:session_detail", args=[slug, turn["session__session_id"]])
                url += f"#turn-{turn['pk']}"
        result["url"] = url
