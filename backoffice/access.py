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


def open_workspace(user, slug):
    """(workspace, role, the workspaces the user may switch to) for the workspace `slug`, or
    (None, None, …) when the user may not open it. Hits the database once for a member.

    A member's memberships are few: reading them all, with their workspaces, serves both the access
    check and the layout's switcher in one query. A superuser may open any of all the workspaces,
    which are not read unless the layout lists them (`switcher` is then a callable).
    """
    if user.is_superuser:
        found = Workspace.objects.filter(slug=slug).first()
        return found, Role.ADMIN if found else None, lambda: list(Workspace.objects.only("slug", "name"))
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by("workspace__name", "workspace__id")
    )
    current = next((m for m in memberships if m.workspace.slug == slug), None)
    switcher = [m.workspace for m in memberships]
    if current is None:
        return None, None, switcher
    return current.workspace, current.role, switcher


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
            found, member_role, switcher = open_workspace(request.user, workspace)
            if found is None:
                raise Http404("No such workspace")
            # Set before the role check, so that the 403 page shows the workspace's navigation.
            request.workspace = found
            request.role = member_role
            request.switcher_workspaces = switcher
            if not role_allows(member_role, role):
                raise PermissionDenied(f"This needs the {role} role")
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
