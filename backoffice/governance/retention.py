from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role

from .forms import RetentionForm


def tiers(workspace):
    return {
        "payload_days": workspace.payload_retention_days,
        "days": workspace.retention_days,
        "rollup_days": workspace.rollup_retention_days,
        "audit_days": workspace.audit_retention_days,
    }


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def retention_edit(request):
    workspace = request.workspace
    before = tiers(workspace)
    form = RetentionForm(request.POST or None, instance=workspace)
    if request.method == "POST" and form.is_valid():
        form.save()
        after = tiers(workspace)
        if before != after:
            audit.record(request, "retention.changed", workspace.name, audit.diff(before, after))
        messages.success(request, "Retention saved. The next purge applies it.")
        return redirect("governance:retention", workspace=workspace.slug)
    return render(request, "backoffice/governance/retention.html", {"section": "retention", "form": form})
