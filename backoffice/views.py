from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from traces.models import Run, RunStatus, Session

from .access import personal_view, user_workspaces, workspace_view


@require_GET
@personal_view
def root(request):
    """Send a user to their first workspace."""
    workspace = user_workspaces(request.user).order_by("name", "id").first()
    if workspace is None:
        return render(request, "backoffice/no_workspace.html")
    return redirect("home", workspace=workspace.slug)


@require_GET
@workspace_view()
def home(request):
    since = timezone.now() - timedelta(hours=24)
    runs = Run.objects.filter(workspace=request.workspace, started_at__gte=since)
    figures = runs.aggregate(
        runs=Count("id"),
        failed=Count("id", filter=Q(status=RunStatus.FAILED)),
        running=Count("id", filter=Q(status=RunStatus.RUNNING)),
        tokens=Sum("total_tokens"),
        cost=Sum("cost"),
    )
    figures["conversations"] = Session.objects.filter(
        workspace=request.workspace, last_activity_at__gte=since
    ).count()
    latest_failures = (
        Run.objects.filter(workspace=request.workspace, status=RunStatus.FAILED)
        .select_related("agent")
        .order_by("-started_at", "-id")[:10]
    )
    return render(
        request,
        "backoffice/home.html",
        {"figures": figures, "latest_failures": latest_failures, "since": since},
    )
