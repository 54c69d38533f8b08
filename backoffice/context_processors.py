from .access import role_allows, user_workspaces
from .models import Role


def workspace_nav(request):
    """The current workspace and role flags for the layout. The switcher list is lazy: one query, on use."""
    workspace = getattr(request, "workspace", None)
    if workspace is None:
        return {}
    role = getattr(request, "role", None)
    return {
        "workspace": workspace,
        "role": role,
        "can_review": role_allows(role, Role.REVIEWER),
        "can_admin": role_allows(role, Role.ADMIN),
        "switcher_workspaces": lambda: list(user_workspaces(request.user).only("slug", "name")),
    }
