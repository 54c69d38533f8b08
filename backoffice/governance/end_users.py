"""Settings → End users: forget a person (backoffice.forget), after a preview of what goes."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from backoffice.access import workspace_view
from backoffice.forget import Forget, forget
from backoffice.models import Role

from .forms import ForgetUserForm


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def forget_user(request):
    """GET ?user=… previews the counts (one COUNT per kind of row); POST with the id typed twice
    deletes and answers with a redirect back here."""
    workspace = request.workspace
    bound = request.POST if request.method == "POST" else (request.GET if "user" in request.GET else None)
    form = ForgetUserForm(bound)
    valid = bound is not None and form.is_valid()
    if valid and request.method == "POST":
        removed = forget(workspace, form.cleaned_data["user"], request=request)
        messages.success(request, f"End user forgotten: {sum(removed.values())} rows removed.")
        return redirect("governance:forget_user", workspace=workspace.slug)
    context = {"section": "end_users", "form": form, "preview": None}
    # A confirmation typed wrong shows the preview again, with the error beside the confirm field.
    user_id = form.cleaned_data.get("user") if bound is not None else None
    if user_id:
        context["preview"] = Forget(workspace=workspace, user_id=user_id).estimate()
        context["preview_total"] = sum(context["preview"].values())
    status = 400 if bound is not None and not valid else 200
    return render(request, "backoffice/governance/forget_user.html", context, status=status)
