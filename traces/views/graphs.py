"""The DAG and Timeline tabs of a run, and a workflow's DAG across the runs of a period.

A click on a node or a bar opens the Task page in the tab's side panel (its #task-page region) and
puts the task in the tab's URL, so that a reload or a copied link opens the same panel.
"""

from django.http import Http404
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.durations import duration
from traces.forms import TaskPageForm
from traces.graphs import across_runs, inference, svg, timeline
from traces.graphs.forms import MODES, PERIODS, DagForm, WorkflowDagForm
from traces.graphs.layout import NODE_HEIGHT, NODE_WIDTH, layout
from traces.models import Run, Task, TaskStatus
from traces.task_tree import TASKS_PER_PAGE, tree_page

from .common import bad_query, render_region
from .runs import get_run, query_url, render_run_tab

MAX_EXPANDED = 500  # one node per task stays readable up to here; past it, aggregate
MAX_STEPS = 20_000  # tasks read for an aggregated graph
WORKFLOW_NODE_HEIGHT = NODE_HEIGHT + 14  # room for the p50 / p95 line
TIMELINE_PAGE = TASKS_PER_PAGE  # bars a page, as many as the Tasks tab has rows


def load_steps(run, limit):
    """The run's tasks as graph steps, in sequence order: (steps, whether there were more)."""
    tasks = Task.objects.filter(run=run).order_by("sequence", "id")
    rows = list(tasks.values_list(*inference.STEP_FIELDS)[: limit + 1])
    return [inference.Step(*row) for row in rows[:limit]], len(rows) > limit


def task_url(request, run, step_id):
    return reverse("traces:task_detail", args=[request.workspace.slug, run.run_id, step_id])


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
    run = get_run(request, run_id, payloads=("graph",))
    form = DagForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    declared = has_declared_graph(run)
    mode = form.cleaned_data["mode"] or ("workflow" if declared else "aggregated")
    if mode == "workflow" and not declared:
        mode = "aggregated"  # a run without a declared workflow: the inferred graph is all there is
    steps, truncated = load_steps(run, MAX_EXPANDED if mode == "expanded" else MAX_STEPS)
    graph = build_graph(run, mode, steps)
    placed = layout(list(graph.nodes), graph.pairs, sizes=svg.node_sizes(graph, NODE_WIDTH, NODE_HEIGHT))
    step_id = form.cleaned_data["task"]

    def link(node):
        if not node.step_id:
            return None
        return {
            "href": task_url(request, run, node.step_id),
            "push": query_url(request, mode=mode, task=node.step_id),
        }

    drawing = svg.render(
        graph,
        placed,
        link=link,
        selected=selected_key(graph, mode, steps, step_id),
        label=f"{dict(MODES)[mode]} graph of run {run.run_id}",
    )
    context = {
        "mode": mode,
        "modes": [
            (value, label, query_url(request, mode=value))
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
        "panel_url": task_url(request, run, step_id) if step_id else None,
        "across_url": reverse("traces:workflow_dag", args=[request.workspace.slug, run.workflow])
        if run.workflow
        else None,
    }
    return render_run_tab(request, run, "dag", "traces/run_dag.html", context, {"dag-graph": "graph"})


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def run_timeline(request, run_id):
    """The waterfall, in the Tasks tab's pages: 500 tasks in tree order, more on demand."""
    run = get_run(request, run_id)
    form = TaskPageForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    page = tree_page(run, after=form.cleaned_data["after"], size=TIMELINE_PAGE)
    axis = timeline.axis(run)
    step_id = form.cleaned_data["task"]
    timeline_url = reverse("traces:run_timeline", args=[request.workspace.slug, run.run_id])
    context = {
        "bars": timeline.bars(run, axis, page.rows),
        "ticks": timeline.ticks(axis.span_ms),
        "span_label": duration(axis.span_ms),
        "continued": bool(form.cleaned_data["after"]),
        "more_url": query_url(request, after=page.next, task=None) if page.next else None,
        "timeline_url": timeline_url,
        "page_size": TIMELINE_PAGE,
        "panel_url": task_url(request, run, step_id) if step_id else None,
    }
    return render_run_tab(request, run, "timeline", "traces/run_timeline.html", context, {"tl-more": "rows"})


def runs_behind(request, workflow, start, end):
    """A function of Runs list filters → the URL of the workflow's runs in [start, end) that match."""
    base = reverse("traces:run_list", args=[request.workspace.slug])
    bounds = {"workflow": workflow, "start": start.isoformat(), "end": end.isoformat()}
    return lambda **filters: f"{base}?{urlencode({**bounds, **filters})}"


def figure_links(graph, behind):
    """The steps and moves of a graph across runs, each count with the URL of its runs: the same links
    as the drawing's, for the keyboard, and the edges' (too thin to click)."""
    steps = [
        {
            "name": node.name,
            "reached": node.stats["reached"],
            "failed": node.stats["failed"],
            "reached_url": behind(step=node.stats["label"]),
            "failed_url": behind(failed_step=node.stats["label"]) if node.stats["failed"] else None,
        }
        for node in graph.nodes.values()
        if node.stats and node.stats["reached"]
    ]
    names = {key: node.name for key, node in graph.nodes.items()}
    moves = [
        {
            "source": names[edge.source],
            "target": names[edge.target],
            "runs": edge.count,
            "url": behind(edge_from=edge.via[1], edge_to=edge.via[2], edge_kind=edge.via[0]),
        }
        for edge in graph.edges
        if edge.via and edge.count
    ]
    return {"steps": steps, "moves": moves}


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def workflow_dag(request, workflow):
    form = WorkflowDagForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    period = form.cleaned_data["period"]
    end = timezone.now()
    start = end - PERIODS[period]
    graph, counted, capped = across_runs.workflow_graph(request.workspace, workflow, start, end)
    if not counted and not Run.objects.filter(workspace=request.workspace, workflow=workflow).exists():
        raise Http404("No runs of this workflow")
    # The runs behind each figure: the Runs list of the workflow, bounded to the same instants. Past
    # the cap the figures count the latest runs only, so no list could show the same numbers.
    behind = None if capped else runs_behind(request, workflow, start, end)
    drawing = None
    if graph.nodes:
        sizes = svg.node_sizes(graph, NODE_WIDTH, WORKFLOW_NODE_HEIGHT)
        placed = layout(list(graph.nodes), graph.pairs, sizes=sizes, height=WORKFLOW_NODE_HEIGHT)

        def link(node):
            label = node.stats and node.stats["label"]
            return {"href": behind(step=label)} if behind and label else None

        drawing = svg.render(graph, placed, link=link, label=f"Workflow {workflow} across runs")
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
        "runs_url": reverse("traces:run_list", args=[request.workspace.slug])
        + "?"
        + urlencode({"workflow": workflow}),
        "figures": figure_links(graph, behind) if behind else None,
    }
    return render_region(request, "traces/workflow_dag.html", context, {"dag-graph": "graph"})
