"""Review queues: admins name the queues and who works each; the page shows how far each one is."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role
from traces.models import ReviewQueue
from traces.reviews.queues import queues_with_progress

from .forms import ReviewQueueForm


def snapshot(queue):
    members = sorted(user.get_username() for user in queue.members.all())
    return {"name": queue.name, "description": queue.description, "members": members}


def get_queue(request, queue_id):
    queues = ReviewQueue.objects.filter(workspace=request.workspace).prefetch_related("members")
    return get_object_or_404(queues, pk=queue_id)


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def review_queue_list(request):
    form = ReviewQueueForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            data = form.cleaned_data
            queue = ReviewQueue.objects.create(
                workspace=request.workspace, name=data["name"], description=data["description"]
            )
            queue.members.set(data["members"])
        audit.record(request, "review_queue.created", queue.name, audit.diff({}, snapshot(queue)))
        messages.success(request, f"Queue “{queue.name}” added: rules can send reviews to it.")
        return redirect("governance:review_queues", workspace=request.workspace.slug)
    context = {"section": "review_queues", "queues": queues_with_progress(request.workspace), "form": form}
    return render(request, "backoffice/governance/review_queues.html", context)


@require_http_methods(["GET", "POST"])
@workspace_view(Role.ADMIN)
def review_queue_detail(request, queue_id):
    queue = get_queue(request, queue_id)
    initial = {"name": queue.name, "description": queue.description, "members": list(queue.members.all())}
    form = ReviewQueueForm(request.POST or None, workspace=request.workspace, queue=queue, initial=initial)
    if request.method == "POST" and form.is_valid():
        before = snapshot(queue)
        with transaction.atomic():
            data = form.cleaned_data
            queue.name, queue.description = data["name"], data["description"]
            queue.save(update_fields=["name", "description", "updated_at"])
            queue.members.set(data["members"])
        changes = audit.diff(before, snapshot(ReviewQueue.objects.get(pk=queue.pk)))
        if changes:
            audit.record(request, "review_queue.changed", queue.name, changes)
        messages.success(request, f"Queue “{queue.name}” saved.")
        return redirect("governance:review_queues", workspace=request.workspace.slug)
    context = {"section": "review_queues", "queue": queue, "form": form}
    return render(request, "backoffice/governance/review_queue.html", context)


@require_POST
@workspace_view(Role.ADMIN)
def review_queue_delete(request, queue_id):
    queue = get_queue(request, queue_id)
    audit.record(request, "review_queue.deleted", queue.name, audit.diff(snapshot(queue), {}))
    queue.delete()
    messages.success(request, f"Queue “{queue.name}” deleted; its reviews stay, in no queue.")
    return redirect("governance:review_queues", workspace=request.workspace.slug)
