"""Who may see which workspace, and with which role."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import ROLE_ORDER, Membership, Role, Workspace


def user_workspaces(user):
    """The workspaces a user may open: superusers see every one. Hits the database."""
    if user.is_superuser:
        return Workspace.objects.all()
    return Workspace.objects.filter(memberships__user=user)


def role_in(user, workspace):
    """The user's role in the workspace, or None. Superusers are admins everywhere. Hits the database."""
    if user.is_superuser:
        return Role.ADMIN
    return Membership.objects.filter(user=user, workspace=workspace).values_list("role", flat=True).first()


def role_allows(role, needed):
    return role is not None and ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed)


def workspace_view(role=Role.VIEWER):
    """Resolve the `workspace` URL slug into request.workspace and request.role.

    Someone who is not a member gets 404, as if the workspace did not exist; a member whose role
    is too low gets 403.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, workspace, *args, **kwargs):
            if request.user.is_superuser:
                found = Workspace.objects.filter(slug=workspace).first()
                member_role = Role.ADMIN if found else None
            else:
                membership = (
                    Membership.objects.select_related("workspace")
                    .filter(user=request.user, workspace__slug=workspace)
                    .first()
                )
                found = membership.workspace if membership else None
                member_role = membership.role if membership else None
            if found is None:
                raise Http404("No such workspace")
            if not role_allows(member_role, role):
                raise PermissionDenied(f"This needs the {role} role")
            request.workspace = found
            request.role = member_role
            return view(request, *args, **kwargs)

        wrapper.required_role = role
        return wrapper

    return decorator


def can(request, role):
    """For views and templates: may the current member act with this role?"""
    return role_allows(getattr(request, "role", None), role)


def personal_view(view):
    """Marks a page for any signed-in user that shows only their own things and names no workspace.

    Like `workspace_view`'s `required_role`, the mark is the access policy the URL walk test checks.
    """
    view.personal = True
    return view
