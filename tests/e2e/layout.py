"""What a page must hold at any width: nothing wider than the window, opened at its top, and no
serious or critical axe-core finding. axe-core is vendored beside this file (vendor/, with its
licence) and injected by the test driver, never served to users."""

from pathlib import Path
from urllib.parse import urlencode

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"
WIDTHS = (390, 1440)
BLOCKING = ("serious", "critical")

# The elements whose right edge passes the window (outside any scrolling box), to name the culprit.
WIDE_ELEMENTS = """() => {
  const limit = window.innerWidth;
  const wide = [];
  const clipped = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right > limit + 1 && clipped(el)) continue;
    if (box.right > limit + 1 && box.width > 0) {
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
        + (el.classList.length ? '.' + [...el.classList].join('.') : '');
      wide.push(name + ' (' + Math.round(box.right) + ' px)');
    }
  }
  return wide.slice(-5);
}"""


def width_problem(page):
    """None when the document fits the window, else what is wider and by how much."""
    scroll, window = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if scroll <= window:
        return None
    return f"{scroll} px wide in a {window} px window: {', '.join(page.evaluate(WIDE_ELEMENTS))}"


def axe_problems(page):
    """Serious and critical axe-core violations, one line each with the first offending nodes."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluate() runs through the DevTools protocol, which the page's CSP does not govern.
        page.evaluate(AXE.read_text())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def page_problems(page, url):
    """Open `url` at each width and list what is wrong, each line naming the URL and the width."""
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        page.wait_for_load_state("networkidle")
        found = width_problem(page)
        if found:
            problems.append(f"{url} at {width}: {found}")
        scrolled = page.evaluate("() => window.scrollY")
        if scrolled:
            problems.append(f"{url} at {width}: opens scrolled {scrolled} px down")
        problems.extend(f"{url} at {width}: {line}" for line in axe_problems(page))
    return problems


def workspace_pages(workspace):
    """Every page of `workspace` that answers GET, from the urlconf walk (first row of each kind), plus
    the rows that stretch a layout most: the run with the most tasks and the one with the longest id,
    their tabs and their last task, and each workflow's graph."""
    from django.db.models import Count
    from django.db.models.functions import Length

    from tests.urlwalk import fill, routes
    from traces.models import Run

    urls = [fill(route, workspace)[0] for route in routes() if route.policy == "workspace"]
    runs = Run.objects.filter(workspace=workspace)
    biggest = runs.annotate(n=Count("tasks")).order_by("-n", "pk").first()
    longest = runs.order_by(Length("run_id").desc(), "pk").first()
    base = f"/w/{workspace.slug}"
    for run in (biggest, longest):
        for tab in ("", "tasks/", "chat/", "events/", "state/", "dag/", "timeline/", "review/"):
            urls.append(f"{base}/runs/{run.run_id}/{tab}")
        task = run.tasks.order_by("-started_at", "-pk").first()
        if task is not None:
            urls.append(f"{base}/runs/{run.run_id}/tasks/{task.step_id}/")
            # The run workspace with that task open beside the tree.
            urls.append(f"{base}/runs/{run.run_id}/?{urlencode({'task': task.step_id})}")
        if run.session_id:
            urls.append(f"{base}/conversations/{run.session.session_id}/")
    workflows = runs.exclude(workflow="").values_list("workflow", flat=True)
    urls.extend(f"{base}/workflows/{name}/dag/" for name in sorted(set(workflows)))
    return list(dict.fromkeys(urls))
