from django.urls import reverse

from .access import role_allows
from .models import Role


def workspace_nav(request):
    """The current workspace and role flags for the layout, and the switcher's list that opening the
    workspace read (see access.open_workspace)."""
    workspace = getattr(request, "workspace", None)
    if workspace is None:
        return {}
    role = getattr(request, "role", None)
    return {
        "workspace": workspace,
        "role": role,
        "can_review": role_allows(role, Role.REVIEWER),
        "can_admin": role_allows(role, Role.ADMIN),
        "switcher_workspaces": getattr(request, "switcher_workspaces", ()),
        # Prefixes of per-row links in long lists: `{{ runs_url }}{{ run.run_id|urlencode:'' }}/` costs
        # a fraction of a `{% url %}` tag per row (a 50-row list spent a third of its time reversing).
        "runs_url": reverse("traces:run_list", args=[workspace.slug]),
        "conversations_url": reverse("traces:session_list", args=[workspace.slug]),
        "workflows_url": reverse("traces:workflow_dag", args=[workspace.slug, "-"]).removesuffix("-/dag/"),
    }
