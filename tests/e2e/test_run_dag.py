from playwright.sync_api import expect

from backoffice.models import Role
from tests import workflows
from tests.conformance.test_conformance import replay
from tests.factories import make_api_key, make_member, make_workspace

from .conftest import log_in


def test_an_operator_follows_a_run_through_its_dag_and_timeline(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, Role.VIEWER, username="ada")
    workflows.ingest(workspace, workflows.order_validation("order-1", items=4))
    workflows.ingest(workspace, workflows.support_concierge("support-1", refund_fails=True))
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server, user.username)

    # The declared workflow, with the path the run took.
    page.goto(f"{live_server.url}/w/acme/runs/order-1/dag/")
    assert page.locator("svg.dag [data-node].s-unreached").count() == 3
    assert page.locator("[data-dag-zoom]").is_visible()  # pan and zoom are on
    screenshot("run-dag-workflow")

    # Zoom in, then back to the fitted view.
    svg = page.locator(".graph-frame svg.dag")
    before = float(svg.get_attribute("width"))
    page.click("[data-zoom=in]")
    assert float(svg.get_attribute("width")) > before
    page.click("[data-zoom=fit]")

    # Switch to one node per task: the graph is swapped in place and the URL says so.
    page.click("nav.segmented >> text=Expanded")
    page.wait_for_url("**mode=expanded**")
    assert page.locator("svg.dag [data-node]").count() == 14
    assert page.locator("nav.segmented a[aria-current]").inner_text() == "Expanded"

    # A click on a node opens its task beside the graph.
    page.click("svg.dag [data-node].t-diamond")
    page.wait_for_selector("#task-panel #task-page h1")
    assert "check_stock" in page.inner_text("#task-panel h1")
    assert "task=" in page.url
    assert page.locator("svg.dag [data-node].selected").count() == 1
    screenshot("run-dag-expanded-panel")

    # A loop in an agent run shows as a node visited three times, with edges back to it.
    page.goto(f"{live_server.url}/w/acme/runs/support-1/dag/")
    assert page.locator("svg.dag .edge.back").count() == 2
    assert "×3" in page.locator("svg.dag [data-node=plan]").text_content()
    screenshot("run-dag-loops")

    # The timeline: a bar tells its task when hovered, and opens it in the panel when clicked.
    page.goto(f"{live_server.url}/w/acme/runs/support-1/timeline/")
    bar = page.locator(".tl-link", has_text="issue_refund")
    bar.hover()
    tip = bar.locator(".tl-tip")
    assert tip.is_visible()
    assert "tool" in tip.inner_text() and "starts at +" in tip.inner_text()
    screenshot("run-timeline", narrow=False)
    bar.click()
    page.wait_for_selector("#task-panel #task-page h1")
    assert "issue_refund" in page.inner_text("#task-panel h1")
    screenshot("run-timeline-panel")

    # Back to the DAG through the tab bar: the graph comes with its zoom controls, the task stays open.
    page.click("#tab-dag")
    page.wait_for_url("**/runs/support-1/dag/")
    page.wait_for_selector("[data-dag-zoom]:not([hidden])")
    assert "issue_refund" in page.inner_text("#task-panel h1")

    # The workflow across its runs, reached from the run's DAG tab.
    page.goto(f"{live_server.url}/w/acme/runs/order-1/dag/")
    page.click("text=order_validation across runs →")
    page.wait_for_url("**/workflows/order_validation/dag/")
    assert "1 run from" in page.inner_text(".graph-summary")
    screenshot("workflow-dag")
    assert errors == []


def test_a_langgraph_run_shows_its_graphs_nodes_and_edges(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, Role.VIEWER, username="ada")
    _, key = make_api_key(workspace)
    replay(live_server.url, key, "openinference-langgraph")  # what the real instrumentation sent
    run = workspace.runs.get()
    log_in(page, live_server, user.username)

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/w/acme/runs/{run.run_id}/dag/")
    nodes = page.locator("svg.dag [data-node]")
    assert sorted(nodes.evaluate_all("nodes => nodes.map(n => n.dataset.node)")) == [
        "agent",
        "classify",
        "tools",
    ]
    assert page.locator("nav.segmented a[aria-current]").inner_text() == "Workflow"
    assert "3 of 3 steps reached" in page.inner_text("main")
    screenshot("run-dag-langgraph")


def test_back_and_forward_bring_the_panel_the_task_the_url_names(transactional_db, live_server, page):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, Role.VIEWER, username="ada")
    workflows.ingest(workspace, workflows.order_validation("order-1", items=2))
    log_in(page, live_server, user.username)
    heading = page.locator("#task-panel #task-page h1")
    marked = page.locator("svg.dag a.node.selected, .tl-link.selected")

    for tab, item in (("dag/?mode=expanded", "svg.dag a.node"), ("timeline/", ".tl-link")):
        page.goto(f"{live_server.url}/w/acme/runs/order-1/{tab}")
        page.locator(item, has_text="validate_order").click()
        page.wait_for_url("**task=**")
        first = page.url
        page.locator(item, has_text="check_stock").click()
        page.wait_for_url(lambda url, first=first: "task=" in url and url != first)
        expect(heading).to_contain_text("check_stock")
        page.go_back()
        page.wait_for_url(first)
        expect(heading).to_contain_text("validate_order")
        expect(marked).to_have_count(1)
        expect(marked).to_contain_text("validate_order")
        page.go_back()
        page.wait_for_url(f"{live_server.url}/w/acme/runs/order-1/{tab}")
        expect(page.locator("#task-panel #task-page")).to_contain_text("Select a node or a bar")
        expect(marked).to_have_count(0)
        page.go_forward()
        page.wait_for_url(first)
        expect(heading).to_contain_text("validate_order")
