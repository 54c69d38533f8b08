"""The DAG and Timeline tabs of a run, and a workflow's DAG across the runs of a period."""

from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.graphs import across_runs, inference, svg, timeline
from traces.graphs.format import duration
from traces.graphs.forms import MODES, PERIODS, DagForm, TimelineForm, WorkflowDagForm
from traces.graphs.layout import NODE_HEIGHT, NODE_WIDTH, layout
from traces.models import Run, Task, TaskStatus

MAX_EXPANDED = 500  # one node per task stays readable up to here; past it, aggregate
MAX_STEPS = 20_000  # tasks read for an aggregated graph
WORKFLOW_NODE_HEIGHT = NODE_HEIGHT + 14  # room for the p50 / p95 line


def get_run(request, run_id):
    runs = Run.objects.filter(workspace=request.workspace).select_related("agent", "session")
    return get_object_or_404(runs, run_id=run_id)


def bad_request(form):
    problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
    return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")


def wants_fragment(request):
    return request.htmx and not request.htmx.history_restore_request


def load_steps(run, limit):
    """The run's tasks as graph steps, in sequence order: (steps, whether there were more)."""
    tasks = Task.objects.filter(run=run).order_by("sequence", "id")
    rows = list(tasks.values_list(*inference.STEP_FIELDS)[: limit + 1])
    return [inference.Step(*row) for row in rows[:limit]], len(rows) > limit


def panel_task(run, step_id):
    """The task shown in the side panel when the URL names one."""
    if not step_id:
        return None
    task = Task.objects.filter(run=run, step_id=step_id).first()
    if task is not None:
        task.run = run
    return task


def has_declared_graph(run):
    return any(True for _ in inference.definition_nodes(run.graph))


def build_graph(run, mode, steps):
    if mode == "workflow":
        return inference.declared(run.graph, steps, trace=run.trace or [], run_status=run.status)
    if mode == "expanded":
        return inference.expanded(steps)
    return inference.aggregated(steps)


def selected_key(graph, mode, steps, step_id):
    """The node that holds the task in the panel."""
    if not step_id:
        return None
    if mode == "expanded":
        return step_id
    label = next((s.label for s in steps if s.step_id == step_id), None)
    if mode == "aggregated":
        return label
    return next((k for k, n in graph.nodes.items() if label in (n.key, n.name)), None)


def summarize(graph, mode, steps):
    nodes = len(graph.nodes)
    if mode == "workflow":
        reached = sum(1 for node in graph.nodes.values() if node.reached)
        return f"{reached:,} of {nodes:,} steps reached"
    if mode == "aggregated":
        return f"{nodes:,} step{pluralize(nodes)} from {len(steps):,} task{pluralize(len(steps))}"
    return f"{nodes:,} task{pluralize(nodes)}"


def legend(across=False):
    if across:
        share = f"{across_runs.WARN_BELOW:.0%}"
        statuses = [
            ("ok", "No failures"),
            ("warn", f"Failed in under {share} of the runs that reached it"),
            ("failed", f"Failed in {share} of them or more"),
            (None, "Not reached in the period"),
        ]
    else:
        order = ["ok", "failed", "running", "waiting", "approved", "rejected", "skipped"]
        statuses = [(s, TaskStatus(s).label) for s in order] + [(None, "Not reached")]
    shapes = [
        ("function", "Function, LLM, tool, other step"),
        ("agent", "Agent"),
        ("condition", "Condition"),
        ("switch", "Switch"),
        ("foreach", "Foreach, parallel"),
        ("gate", "Approval gate"),
    ]
    return {
        "statuses": [(svg.legend_marker(status), label) for status, label in statuses],
        "shapes": [(svg.legend_shape(type_), label) for type_, label in shapes],
    }


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_dag(request, run_id):
    run = get_run(request, run_id)
    form = DagForm(request.GET)
    if not form.is_valid():
        return bad_request(form)
    declared = has_declared_graph(run)
    mode = form.cleaned_data["mode"] or ("workflow" if declared else "aggregated")
    if mode == "workflow" and not declared:
        mode = "aggregated"  # a run without a declared workflow: the inferred graph is all there is
    steps, truncated = load_steps(run, MAX_EXPANDED if mode == "expanded" else MAX_STEPS)
    graph = build_graph(run, mode, steps)
    placed = layout(list(graph.nodes), graph.pairs, sizes=svg.node_sizes(graph, NODE_WIDTH, NODE_HEIGHT))
    step_id = form.cleaned_data["task"]
    dag_url = reverse("traces:run_dag", args=[request.workspace.slug, run.run_id])

    def link(node):
        if not node.step_id:
            return None
        return {
            "href": reverse("traces:task_detail", args=[request.workspace.slug, run.run_id, node.step_id]),
            "push": f"{dag_url}?{urlencode({'mode': mode, 'task': node.step_id})}",
        }

    drawing = svg.render(
        graph,
        placed,
        link=link,
        selected=selected_key(graph, mode, steps, step_id),
        label=f"{dict(MODES)[mode]} graph of run {run.run_id}",
    )
    context = {
        "run": run,
        "mode": mode,
        "modes": [
            (
                value,
                label,
                f"{dag_url}?{urlencode({'mode': value, **({'task': step_id} if step_id else {})})}",
            )
            for value, label in MODES
            if value != "workflow" or declared
        ],
        "graph": graph,
        "summary": summarize(graph, mode, steps),
        "drawing": drawing,
        "truncated": truncated,
        "limit": MAX_EXPANDED if mode == "expanded" else MAX_STEPS,
        "legend": legend(),
        "has_steps": bool(steps) or graph.declared,
        "task": panel_task(run, step_id) if not wants_fragment(request) else None,
        "tab": "dag",
    }
    if wants_fragment(request):
        return render(request, "traces/run_dag.html#graph", context)
    return render(request, "traces/run_dag.html", context)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_timeline(request, run_id):
    run = get_run(request, run_id)
    form = TimelineForm(request.GET)
    if not form.is_valid():
        return bad_request(form)
    shape = timeline.skeleton(run)
    try:
        rows, next_after = timeline.page_after(shape, form.cleaned_data["after"])
    except LookupError:
        return HttpResponseBadRequest("after: this run has no such task", content_type="text/plain")
    timeline_url = reverse("traces:run_timeline", args=[request.workspace.slug, run.run_id])
    context = {
        "run": run,
        "bars": timeline.bars(run, shape, rows),
        "ticks": timeline.ticks(shape.span_ms),
        "total": len(shape.order),
        "span_label": duration(shape.span_ms),
        "after": form.cleaned_data["after"],
        "next_url": f"{timeline_url}?{urlencode({'after': next_after})}" if next_after else None,
        "timeline_url": timeline_url,
        "page_size": timeline.PAGE_SIZE,
        "task": panel_task(run, form.cleaned_data["task"]) if not wants_fragment(request) else None,
        "tab": "timeline",
    }
    if wants_fragment(request):
        return render(request, "traces/run_timeline.html#rows", context)
    return render(request, "traces/run_timeline.html", context)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def workflow_dag(request, workflow):
    form = WorkflowDagForm(request.GET)
    if not form.is_valid():
        return bad_request(form)
    period = form.cleaned_data["period"]
    end = timezone.now()
    start = end - PERIODS[period]
    graph, counted, capped = across_runs.workflow_graph(request.workspace, workflow, start, end)
    if not counted and not Run.objects.filter(workspace=request.workspace, workflow=workflow).exists():
        raise Http404("No runs of this workflow")
    drawing = None
    if graph.nodes:
        sizes = svg.node_sizes(graph, NODE_WIDTH, WORKFLOW_NODE_HEIGHT)
        placed = layout(list(graph.nodes), graph.pairs, sizes=sizes, height=WORKFLOW_NODE_HEIGHT)
        drawing = svg.render(graph, placed, label=f"Workflow {workflow} across runs")
    url = reverse("traces:workflow_dag", args=[request.workspace.slug, workflow])
    context = {
        "workflow": workflow,
        "graph": graph,
        "drawing": drawing,
        "counted": counted,
        "capped": capped,
        "max_runs": across_runs.MAX_RUNS,
        "period": period,
        "periods": [
            (value, label, f"{url}?{urlencode({'period': value})}")
            for value, label in form.fields["period"].choices
        ],
        "start": start,
        "end": end,
        "legend": legend(across=True),
    }
    if wants_fragment(request):
        return render(request, "traces/workflow_dag.html#graph", context)
    return render(request, "traces/workflow_dag.html", context)
