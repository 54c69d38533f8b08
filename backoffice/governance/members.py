from django.contrib import messages
from django.core.mail import send_mail
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Invitation, Membership, Role

from .forms import InvitationForm, MemberCreateForm, MemberRoleForm

LAST_ADMIN = "A workspace needs at least one admin: make someone else an admin first."


@require_GET
@workspace_view(Role.ADMIN)
def settings_index(request):
    return redirect("governance:members", workspace=request.workspace.slug)


def get_membership(request, member_id):
    """A membership of the current workspace, with its user; 404 for any other id."""
    memberships = Membership.objects.filter(workspace=request.workspace).select_related("user")
    return get_object_or_404(memberships, pk=member_id)


def render_members(request, *, add_form=None, create_form=None, error=None, new_link=None, status=200):
    memberships = list(
        Membership.objects.filter(workspace=request.workspace)
        .select_related("user")
        .order_by("user__username", "id")
    )
    admins = sum(1 for m in memberships if m.role == Role.ADMIN)
    for membership in memberships:
        membership.is_last_admin = membership.role == Role.ADMIN and admins == 1
        membership.is_you = membership.user_id == request.user.pk
    context = {
        "section": "members",
        "memberships": memberships,
        "roles": Role.choices,
        "add_form": add_form or InvitationForm(workspace=request.workspace),
        "create_form": create_form or MemberCreateForm(),
        "invitations": Invitation.objects.filter(workspace=request.workspace)
        .pending()
        .select_related("invited_by"),
        "new_link": new_link,
        "error": error,
    }
    return render(request, "backoffice/governance/members.html", context, status=status)


@require_GET
@workspace_view(Role.ADMIN)
def member_list(request):
    return render_members(request)


@never_cache
@require_POST
@workspace_view(Role.ADMIN)
def member_add(request):
    """Invites someone: the link is shown in this response only (the token is stored hashed)."""
    form = InvitationForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return render_members(request, add_form=form)
    email, role = form.cleaned_data["email"], form.cleaned_data["role"]
    invitation, token = Invitation.issue(request.workspace, role, request.user, email=email)
    link = request.build_absolute_uri(reverse("invitation_accept", args=[token]))
    audit.record(request, "member.invited", email or "invitation link", {"role": [None, role]})
    if email:
        send_mail(
            f"Join {request.workspace.name} on Backoffice",
            f"{request.user.get_username()} invites you to {request.workspace.name} as {role}.\n\n"
            f"Sign in and accept at {link}\n\n"
            f"The link works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC.",
            None,
            [email],
        )
    new_link = {"url": link, "email": email, "role": role, "expires_at": invitation.expires_at}
    return render_members(request, new_link=new_link, status=201)


@require_POST
@workspace_view(Role.ADMIN)
def invitation_revoke(request, invitation_id):
    invitation = get_object_or_404(Invitation.objects.filter(workspace=request.workspace), pk=invitation_id)
    # Conditional, so an accepted or already withdrawn invitation stays as it is.
    pending = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True)
    if pending.update(revoked_at=timezone.now()):
        audit.record(
            request,
            "member.invitation_revoked",
            invitation.email or "invitation link",
            {"role": [invitation.role, None]},
        )
        messages.success(request, "Invitation withdrawn: its link no longer works.")
    return redirect("governance:members", workspace=request.workspace.slug)


@require_POST
@workspace_view(Role.ADMIN)
def member_create(request):
    form = MemberCreateForm(request.POST)
    if not form.is_valid():
        return render_members(request, create_form=form)
    role = form.cleaned_data["role"]
    with transaction.atomic():
        user = form.save()
        Membership.objects.create(user=user, workspace=request.workspace, role=role)
        audit.record(request, "member.created", user.get_username(), {"role": [None, role]})
    messages.success(
        request, f"Created {user.get_username()} as {role}. Share the password with them safely."
    )
    return redirect("governance:members", workspace=request.workspace.slug)


def keeps_an_admin(workspace, leaving):
    """Is there an admin other than `leaving`? Locks the admin rows, so two admins demoting each other
    at the same moment cannot both succeed. Call inside a transaction."""
    admins = Membership.objects.select_for_update().filter(workspace=workspace, role=Role.ADMIN)
    return any(pk != leaving.pk for pk in admins.values_list("pk", flat=True))


def after_change(request, membership, still_admin):
    """Back to the members page, or home when the admin has just given up their own admin role."""
    if membership.user_id == request.user.pk and not still_admin and not request.user.is_superuser:
        return redirect("home", workspace=request.workspace.slug)
    return redirect("governance:members", workspace=request.workspace.slug)


@require_POST
@workspace_view(Role.ADMIN)
def member_role(request, member_id):
    membership = get_membership(request, member_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        return render_members(request, error=f"Role: {form.errors['role'][0]}", status=400)
    role = form.cleaned_data["role"]
    if role == membership.role:
        return redirect("governance:members", workspace=request.workspace.slug)
    with transaction.atomic():
        if membership.role == Role.ADMIN and not keeps_an_admin(request.workspace, membership):
            return render_members(request, error=LAST_ADMIN, status=409)
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(request, "member.role_changed", membership.user.get_username(), {"role": [before, role]})
    messages.success(request, f"{membership.user.get_username()} is now {role}.")
    return after_change(request, membership, still_admin=role == Role.ADMIN)


@require_POST
@workspace_view(Role.ADMIN)
def member_remove(request, member_id):
    membership = get_membership(request, member_id)
    with transaction.atomic():
        if membership.role == Role.ADMIN and not keeps_an_admin(request.workspace, membership):
            return render_members(request, error=LAST_ADMIN, status=409)
        membership.delete()
        audit.record(
            request, "member.removed", membership.user.get_username(), {"role": [membership.role, None]}
        )
    messages.success(request, f"{membership.user.get_username()} no longer has access.")
    if membership.user_id == request.user.pk and not request.user.is_superuser:
        return redirect("root")
    return redirect("governance:members", workspace=request.workspace.slug)
