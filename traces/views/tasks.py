"""The Task page: one step of a run, its payloads, timings, place in the tree, model calls and events.

The same region (`task_detail.html#page`) is the detail pane of the run workspace (views/workspace.py),
built from the same context by `task_context`.
"""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.live import live_context, running_changes
from traces.models import Event, ModelCall, Task, TaskStatus
from traces.task_tree import LISTED_FIELDS

from .common import query_url, render_region, show_all
from .runs import get_run, mark_errors

# A task with more children, calls or events than this links to the run's tabs or the Model calls page
# for the rest.
SHOWN = 100


def get_task(run, task_id):
    """The task `task_id` (its step id) of a run already fetched within the workspace, with its parent."""
    return get_object_or_404(Task.objects.select_related("parent"), run=run, step_id=task_id)


def task_context(request, run, task):
    """What the task region shows, and its payloads by key for "show all". Three queries."""
    children = list(
        Task.objects.filter(parent=task).only(*LISTED_FIELDS).order_by("sequence", "id")[: SHOWN + 1]
    )
    calls = list(ModelCall.objects.filter(run=run, task=task).order_by("created_at", "id")[: SHOWN + 1])
    # Served by the event_by_run index; a run's events of one step are few.
    events = mark_errors(
        list(Event.objects.filter(run=run, step_id=task.step_id).order_by("timestamp", "id")[: SHOWN + 1])
    )
    payloads = {"input": task.input, "output": task.output, "error": task.error, "metadata": task.metadata}
    for call in calls:
        payloads.update({f"request-{call.pk}": call.request, f"response-{call.pk}": call.response})
        payloads[f"call-error-{call.pk}"] = call.error
    for event in events:
        payloads[f"event-{event.pk}"] = event.payload
    tasks_url = reverse("traces:run_tasks", args=[request.workspace.slug, run.run_id])
    context = {
        "task": task,
        "children": children[:SHOWN],
        "more_children": len(children) > SHOWN,
        "calls": calls[:SHOWN],
        "more_calls": len(calls) > SHOWN,
        "events": events[:SHOWN],
        "more_events": len(events) > SHOWN,
        # A running task refreshes while its run runs and still hears from the agent.
        **live_context(running_changes([run]) if task.status == TaskStatus.RUNNING else []),
        "task_url": reverse("traces:task_detail", args=[request.workspace.slug, run.run_id, task.step_id]),
        "tasks_url": tasks_url,
    }
    return context, payloads


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def task_detail(request, run_id, task_id):
    run = get_run(request, run_id)
    task = get_task(run, task_id)
    context, payloads = task_context(request, run, task)
    answer = show_all(request, payloads)
    if answer:
        return answer
    context.update(run=run, live_url=query_url(request))
    return render_region(request, "traces/task_detail.html", context, {"task-page": "page"})
