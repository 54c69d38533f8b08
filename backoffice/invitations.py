"""Taking up an invitation: the invited person opens the link, signs in if needed, and accepts.

The link is a secret; it answers 404 when unknown, and says why when it is used, withdrawn, expired
or meant for another e-mail. The role applies only on acceptance.
"""

from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import audit
from .access import personal_view
from .models import Invitation, Membership


def get_invitation(token):
    invitation = Invitation.find(token)
    if invitation is None:
        raise Http404("No such invitation")
    return invitation


def render_invitation(request, invitation, refusal, status=200):
    context = {"invitation": invitation, "refusal": refusal}
    return render(request, "backoffice/invitation.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@personal_view
def invitation_accept(request, token):
    """GET shows the invitation; POST takes it up. Anonymous visitors are sent to log in first."""
    invitation = get_invitation(token)
    refusal = invitation.refusal(request.user)
    already = Membership.objects.filter(workspace=invitation.workspace, user=request.user).first()
    if refusal is None and already is not None:
        refusal = f"You are already a member of {invitation.workspace.name} ({already.role})."
    if refusal is not None:
        return render_invitation(
            request, invitation, refusal, status=410 if request.method == "POST" else 200
        )
    if request.method == "GET":
        return render_invitation(request, invitation, None)
    now = timezone.now()
    try:
        with transaction.atomic():
            # Conditional, so two clicks or two people racing use the invitation once.
            taken = Invitation.objects.filter(
                pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
            ).update(accepted_at=now, accepted_by=request.user)
            if not taken:
                return render_invitation(
                    request, invitation, "This invitation has already been used.", status=410
                )
            Membership.objects.create(user=request.user, workspace=invitation.workspace, role=invitation.role)
            audit.record(
                request,
                "member.joined",
                request.user.get_username(),
                {
                    "role": [None, invitation.role],
                    "invited_by": invitation.invited_by.get_username() if invitation.invited_by else None,
                },
                workspace=invitation.workspace,
            )
    except IntegrityError:  # joined by another way at the same moment
        return render_invitation(request, invitation, "You are already a member.", status=410)
    return redirect("home", workspace=invitation.workspace.slug)
