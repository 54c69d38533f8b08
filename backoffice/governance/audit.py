from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import AuditEntry, Role
from traces.keyset import past
from traces.reviews.export import download, download_name

from .forms import AuditPageForm

PAGE = 50


def change_lines(changes):
    """(name, before, after, is_change) for each recorded field: [before, after] pairs or plain details."""
    if not isinstance(changes, dict):
        return [("details", None, changes, False)]
    lines = []
    for name, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            lines.append((name, value[0], value[1], True))
        else:
            lines.append((name, None, value, False))
    return lines


@require_GET
@vary_on_headers("HX-Request")
@workspace_view(Role.ADMIN)
def audit_list(request):
    form = AuditPageForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(f"after: {form.errors['after'][0]}")
    entries = AuditEntry.objects.filter(workspace=request.workspace).select_related("actor")
    if form.cleaned_data["after"]:
        when, pk = form.cleaned_data["after"]
        entries = entries.filter(past("created_at", when, pk, later=False))
    rows = list(entries.order_by("-created_at", "-id")[: PAGE + 1])
    page, more = rows[:PAGE], len(rows) > PAGE
    for entry in page:
        entry.change_lines = change_lines(entry.changes)
    context = {
        "section": "audit",
        "entries": page,
        "next_after": f"{page[-1].created_at.isoformat()}~{page[-1].pk}" if more else None,
    }
    template = "backoffice/governance/audit.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#rows"
    return render(request, template, context)


@require_GET
@workspace_view(Role.ADMIN)
def audit_export(request):
    """Every entry as JSON lines, oldest first, streamed; the export is itself an entry (the last)."""
    audit.record(request, "audit.exported", request.workspace.name)
    name = download_name("audit", request.workspace, "jsonl")
    return download(audit.jsonl(request.workspace), "application/jsonl", name)
