from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import ApiKey, Role

from .forms import ApiKeyForm


def render_keys(request, *, form=None, new_key=None, status=200):
    keys = list(ApiKey.objects.filter(workspace=request.workspace).select_related("created_by"))
    now = timezone.now()
    for key in keys:
        if key.revoked_at:
            key.state = "revoked"
        elif key.expires_at and key.expires_at <= now:
            key.state = "expired"
        else:
            key.state = "active"
    context = {"section": "keys", "keys": keys, "form": form or ApiKeyForm(), "new_key": new_key}
    return render(request, "backoffice/governance/keys.html", context, status=status)


@require_GET
@workspace_view(Role.ADMIN)
def key_list(request):
    return render_keys(request)


@never_cache
@require_POST
@workspace_view(Role.ADMIN)
def key_create(request):
    """The new key is shown in this response only: it is never stored, so there is no redirect."""
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return render_keys(request, form=form)
    api_key, raw_key = ApiKey.issue(
        request.workspace,
        form.cleaned_data["label"],
        scopes=form.cleaned_data["scopes"],
        created_by=request.user,
        expires_at=form.expires_at(),
    )
    changes = {"scopes": [None, api_key.scopes]}
    if api_key.expires_at:
        changes["expires"] = [None, api_key.expires_at.date().isoformat()]
    audit.record(request, "key.created", f"{api_key.label} ({api_key.prefix}…)", changes)
    new_key = {"label": api_key.label, "raw": raw_key, "scopes": api_key.scopes.replace(",", ", ")}
    return render_keys(request, new_key=new_key, status=201)


@require_POST
@workspace_view(Role.ADMIN)
def key_revoke(request, key_id):
    api_key = get_object_or_404(ApiKey.objects.filter(workspace=request.workspace), pk=key_id)
    # Conditional, so a double click revokes once and is audited once.
    if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        audit.record(request, "key.revoked", f"{api_key.label} ({api_key.prefix}…)")
    return redirect("governance:keys", workspace=request.workspace.slug)
