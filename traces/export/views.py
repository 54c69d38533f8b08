"""Settings › Exporters: admins add, change and delete the workspace's trace exporters and see each
one's backlog, last success and last error. Every change goes to the audit log (header names only:
their values are secrets)."""

from django.contrib import messages
from django.db.models import Count, Max, Min
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role
from traces.models import Event, Exporter

from .forms import ExporterForm, masked


def exporters_in(workspace):
    return Exporter.objects.filter(workspace=workspace).annotate(
        backlog=Count("items"), oldest_at=Min("items__created_at")
    )


def get_exporter(request, exporter_id):
    return get_object_or_404(Exporter.objects.filter(workspace=request.workspace), pk=exporter_id)


def snapshot(exporter):
    return {
        "name": exporter.name,
        "endpoint": exporter.endpoint,
        "enabled": exporter.enabled,
        "headers": sorted(exporter.headers),
    }


def shown_headers(exporter):
    return [(name, masked(value)) for name, value in sorted(exporter.headers.items())]


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def exporter_list(request):
    form = ExporterForm(request.POST or None, instance=Exporter(workspace=request.workspace))
    if request.method == "POST" and form.is_valid():
        exporter = form.save(commit=False)
        # Runs that finish from now on: the events stored so far are behind the cursor.
        latest = Event.objects.filter(workspace=request.workspace).aggregate(latest=Max("id"))["latest"]
        exporter.cursor = latest or 0
        exporter.save()
        audit.record(request, "exporter.created", exporter.name, audit.diff({}, snapshot(exporter)))
        messages.success(request, f"Exporter “{exporter.name}” added: runs that finish from now on are sent.")
        return redirect("export:exporters", workspace=request.workspace.slug)
    exporters = list(exporters_in(request.workspace).order_by("name", "id"))
    for exporter in exporters:
        exporter.shown_headers = shown_headers(exporter)
    context = {"section": "exporters", "exporters": exporters, "form": form}
    return render(request, "traces/export/exporters.html", context)


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def exporter_edit(request, exporter_id):
    exporter = get_exporter(request, exporter_id)
    before = snapshot(exporter)
    old_headers = dict(exporter.headers)
    form = ExporterForm(request.POST or None, instance=exporter)
    if request.method == "POST" and form.is_valid():
        exporter = form.save()
        changes = audit.diff(before, snapshot(exporter))
        if exporter.headers != old_headers and "headers" not in changes:
            changes["headers"] = "values changed"
        if changes:
            audit.record(request, "exporter.changed", exporter.name, changes)
        messages.success(request, f"Exporter “{exporter.name}” saved.")
        return redirect("export:exporters", workspace=request.workspace.slug)
    context = {"section": "exporters", "exporter": exporter, "form": form, "headers": shown_headers(exporter)}
    return render(request, "traces/export/exporter_edit.html", context)


@require_POST
@workspace_view(Role.ADMIN)
def exporter_delete(request, exporter_id):
    exporter = get_exporter(request, exporter_id)
    audit.record(request, "exporter.deleted", exporter.name, audit.diff(snapshot(exporter), {}))
    exporter.delete()
    messages.success(request, f"Exporter “{exporter.name}” deleted; runs not yet sent will not be.")
    return redirect("export:exporters", workspace=request.workspace.slug)
