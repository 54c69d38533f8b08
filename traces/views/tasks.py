"""The Task page: one step of a run, its payloads, timings, place in the tree and model calls."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.models import ModelCall, Task, TaskStatus
from traces.task_tree import LISTED_FIELDS

from .common import query_url, render_region, show_all
from .runs import get_run

# A task with more children or calls than this links to the Tasks tab or the Model calls page for the rest.
SHOWN = 100


def get_task(run, task_id):
    """The task `task_id` (its step id) of a run already fetched within the workspace, with its parent."""
    return get_object_or_404(Task.objects.select_related("parent"), run=run, step_id=task_id)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def task_detail(request, run_id, task_id):
    run = get_run(request, run_id)
    task = get_task(run, task_id)
    children = list(
        Task.objects.filter(parent=task).only(*LISTED_FIELDS).order_by("sequence", "id")[: SHOWN + 1]
    )
    calls = list(ModelCall.objects.filter(run=run, task=task).order_by("created_at", "id")[: SHOWN + 1])
    payloads = {"input": task.input, "output": task.output, "error": task.error, "metadata": task.metadata}
    for call in calls:
        payloads.update({f"request-{call.pk}": call.request, f"response-{call.pk}": call.response})
        payloads[f"call-error-{call.pk}"] = call.error
    answer = show_all(request, payloads)
    if answer:
        return answer
    context = {
        "run": run,
        "task": task,
        "children": children[:SHOWN],
        "more_children": len(children) > SHOWN,
        "calls": calls[:SHOWN],
        "more_calls": len(calls) > SHOWN,
        "live": task.status == TaskStatus.RUNNING,
        "live_url": query_url(request),
        "tasks_url": reverse("traces:run_tasks", args=[request.workspace.slug, run.run_id]),
    }
    return render_region(request, "traces/task_detail.html", context, {"task-page": "page"})
