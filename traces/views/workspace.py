"""The run workspace: the Run page's Tasks tab, and its default.

The task tree on the left, the selected task's detail on the right (the Task page's own region,
`task_detail.html#page`, built by `task_context`), the run's own input and output above both.
The tree comes in the keyset pages of traces.task_tree (500 tasks, two queries), folded below its
first levels except on the path to the selected task; each row has a duration bar on the run's time
axis (traces.graphs.timeline, one aggregate query). `?task=<step id>` names the selected task, so a
reload or a copied link opens it; a click swaps the detail in by HTMX and pushes that URL. A selected
task beyond the first page opens the tree at its own page, and "load more" keeps `task` so that later
pages keep its path open as the first one did.
"""

from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.forms import TaskPageForm
from traces.graphs import timeline
from traces.task_tree import ancestor_chains, fold, tree_page

from .common import bad_query, fragment_target, query_url, show_all
from .runs import get_run, render_run_tab
from .tasks import get_task, task_context

# Tree levels shown open when the page loads: the run's steps and their direct children.
OPEN_LEVELS = 2


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_tasks(request, run_id):
    run = get_run(request, run_id)
    form = TaskPageForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    data = form.cleaned_data
    selected, pane, payloads, path = None, {}, {}, []
    if data["task"]:
        selected = get_task(run, data["task"])
        # "Load more" only appends rows: the pane it would render is not sent.
        if fragment_target(request) != "task-more":
            pane, payloads = task_context(request, run, selected)
        pane["selected_pk"] = selected.pk
        path = [pk for pk, _ in ancestor_chains([selected.pk]).get(selected.pk, [])]
    answer = show_all(request, {**payloads, "run-input": run.input, "run-output": run.output})
    if answer:
        return answer
    tree = tree_page(run, after=data["after"], showing=selected)
    fold(tree.rows, open_levels=OPEN_LEVELS, keep_open=path)
    axis = timeline.axis(run)
    context = {
        **pane,
        "tree": tree,
        "bars": [timeline.bar(row, axis, []) for row in tree.rows],
        "more_url": query_url(request, after=tree.next) if tree.next else None,
        "continued": bool(data["after"]) or tree.jumped,
    }
    return render_run_tab(request, run, "tasks", "traces/run_tasks.html", context, {"task-more": "more"})
