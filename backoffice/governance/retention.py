from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role

from .forms import RetentionForm


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def retention_edit(request):
    workspace = request.workspace
    before = workspace.retention_days
    form = RetentionForm(request.POST or None, instance=workspace)
    if request.method == "POST" and form.is_valid():
        form.save()
        if before != workspace.retention_days:
            audit.record(
                request, "retention.changed", workspace.name, {"days": [before, workspace.retention_days]}
            )
        messages.success(request, "Retention saved. The next purge applies it.")
        return redirect("governance:retention", workspace=workspace.slug)
    return render(request, "backoffice/governance/retention.html", {"section": "retention", "form": form})
