"""Drill-through in a real browser: a click on a bar opens the list of the rows behind it."""

import re
from datetime import timedelta

from django.utils import timezone

from backoffice.models import Role
from metrics.models import Dashboard, DashboardCard
from tests.events import event, workflow_run
from tests.factories import make_member, make_run, make_workspace
from traces.ingest import ingest_batch

from .conftest import log_in


def test_a_click_on_a_bar_lands_on_the_runs_it_counted(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    viewer = make_member(workspace, Role.VIEWER, username="ada")
    now = timezone.now()
    # 1, 2 and 3 runs in three different hours: the tallest bar stands for 3.
    for hours, runs in ((2, 1), (4, 2), (7, 3)):
        for _ in range(runs):
            make_run(workspace, started_at=now - timedelta(hours=hours), status="completed")
    make_run(workspace, started_at=now - timedelta(days=3))  # outside the card's day
    dashboard = Dashboard.objects.create(workspace=workspace, slug="ops", name="Ops", is_default=True)
    DashboardCard.objects.create(
        dashboard=dashboard,
        title="Runs per hour",
        kind="bar",
        source="runs",
        aggregation="count",
        time_range="24h",
        bucket="hour",
        width=2,
    )
    DashboardCard.objects.create(
        dashboard=dashboard,
        title="Runs today",
        kind="number",
        source="runs",
        aggregation="count",
        time_range="24h",
    )
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    log_in(page, live_server, viewer.username)
    page.goto(f"{live_server.url}/w/acme/metrics/")
    page.wait_for_selector("[data-chart][data-drill-ready] .barlayer .point path", state="attached")
    page.wait_for_load_state("networkidle")
    screenshot("drill-dashboard")
    page.click("text=The runs behind the chart")
    assert page.locator(".drill-list a[data-drill]").count() == 3
    screenshot("drill-chart-links", narrow=False)
    page.click("[data-theme-toggle]")
    screenshot("drill-chart-links-dark", narrow=False)
    page.click("[data-theme-toggle]")
    page.click("text=The runs behind the chart")

    # The number is a plain link, reachable from the keyboard.
    value = page.locator("a.drill[data-drill]")
    assert value.inner_text().strip() == "6"

    bars = page.locator("[data-chart] .barlayer .point path")
    boxes = [bars.nth(index).bounding_box() for index in range(bars.count())]
    tallest = max((box for box in boxes if box), key=lambda box: box["height"])
    with page.expect_navigation():
        page.mouse.click(tallest["x"] + tallest["width"] / 2, tallest["y"] + tallest["height"] / 2)
    assert "/w/acme/runs/?" in page.url and "start=" in page.url and "end=" in page.url
    assert re.match(r"3 runs match", page.locator(".list-count").inner_text())
    assert page.locator("[data-time-bounds]").is_visible()
    screenshot("drill-runs-list")

    page.go_back()
    page.wait_for_selector("a.drill[data-drill]")
    page.locator("a.drill[data-drill]").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".list-count").inner_text().startswith("6 runs match")
    assert errors == []


def test_the_workflow_graph_and_the_events_list_open_their_rows(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    viewer = make_member(workspace, Role.VIEWER, username="ada")
    events = []
    for index in range(4):
        events += workflow_run(f"run-{index}", session_id=f"s-{index}", start=index * 10, fail=index == 3)
        body = {"name": "purchase", "properties": {"plan": "pro" if index % 2 else "free", "amount": index}}
        events.append(event("track", {**body, "run_id": f"run-{index}"}, at=index * 10 + 5))
    assert {result["status"] for result in ingest_batch(workspace, events)} == {"accepted"}

    log_in(page, live_server, viewer.username)
    page.goto(f"{live_server.url}/w/acme/workflows/validate_order/dag/?period=30d")
    page.click("text=The runs behind each step and move")
    screenshot("drill-workflow-figures")
    move = page.locator("a[data-edge]").first
    shown = move.inner_text()
    with page.expect_navigation():
        move.click()
    assert page.locator(".list-count").inner_text().startswith(f"{shown} run")

    page.goto(f"{live_server.url}/w/acme/events/?name=purchase&where=plan:eq:pro")
    assert page.locator(".list-count").inner_text().startswith("2 events match")
    screenshot("drill-events-list")
