from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from backoffice.models import Role
from tests.factories import make_member, make_model_call, make_run, make_task, make_workspace

from .conftest import log_in


def seed(workspace):
    now = timezone.now()
    for day in range(6):
        for index in range(6):
            run = make_run(
                workspace,
                started_at=now - timedelta(days=day, hours=index),
                status="failed" if (day + index) % 5 == 0 else "completed",
                duration_ms=800 + 300 * index,
            )
            make_task(
                run, type="tool", name="lookup_order", status="failed" if (day * index) % 4 == 1 else "ok"
            )
            make_model_call(
                run, model="gpt-4o-mini" if index % 2 else "gpt-4o", total_tokens=400 + 50 * index
            )


def settle_and_take(page, screenshot, name):
    """Screenshots at 1280 and 390 px, each after the charts have followed the new width."""
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    screenshot(name, narrow=False)
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(600)
    screenshot(f"{name}-narrow", narrow=False)
    page.set_viewport_size(size)
    page.wait_for_timeout(300)


def test_an_admin_adds_a_rate_card_and_sees_it_drawn(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    admin = make_member(workspace, Role.ADMIN, username="grace")
    seed(workspace)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # CSP violations and failed requests show up as console errors.
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    log_in(page, live_server, admin.username)
    page.click("nav.nav >> text=Metrics")
    page.wait_for_selector("[data-chart] .main-svg")
    page.wait_for_load_state("networkidle")
    settle_and_take(page, screenshot, "metrics-dashboard")

    page.click("[data-action=add-card]")
    page.fill("input[name=title]", "Tool failure rate per day")
    page.select_option("select[name=source]", "tasks")
    page.select_option("select[name=kind]", "line")
    page.select_option("select[name=aggregation]", "rate")
    page.fill("input[name=filter_0_property]", "type")
    page.select_option("select[name=filter_0_operator]", "eq")
    page.fill("input[name=filter_0_value]", "tool")
    page.fill("input[name=condition_0_property]", "status")
    page.select_option("select[name=condition_0_operator]", "eq")
    page.fill("input[name=condition_0_value]", "failed")
    page.locator("label.swatch.colour-amber").click()
    page.fill("input[name=warning_threshold]", "20")
    # The live preview redraws as the form changes.
    page.wait_for_selector("#preview [data-chart] .main-svg")
    page.wait_for_function(
        "document.querySelector('#preview .metric-card-title').textContent.includes('Tool failure')"
    )
    settle_and_take(page, screenshot, "metrics-card-form")

    page.click("button[type=submit]")
    # The server thread shares the test database connection: read the result from the page, not the ORM.
    card = page.locator(".metric-card", has_text="Tool failure rate per day")
    card.locator("[data-chart] .scatterlayer .trace path.js-line").first.wait_for()
    assert card.get_attribute("class").split().count("colour-amber") == 1
    assert page.url.endswith(f"#{card.get_attribute('id')}")
    page.wait_for_load_state("networkidle")
    settle_and_take(page, screenshot, "metrics-dashboard-with-rate-card")

    # Drag the new card by its handle in front of the first one; the order is saved. (A tall window
    # keeps both in view: the drag does not scroll.)
    page.set_viewport_size({"width": 1280, "height": 1800})
    first = page.locator("#grid > .metric-card").first
    with page.expect_response("**/order/") as saved:
        card.locator(".drag-handle").drag_to(first, target_position={"x": 20, "y": 20})
    assert saved.value.status == 204
    page.reload()
    assert page.locator("#grid .metric-card-title").first.inner_text() == "Tool failure rate per day"
    assert errors == []


def test_a_viewer_reads_the_dashboard_without_edit_controls(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    viewer = make_member(workspace, Role.VIEWER, username="ada")
    seed(workspace)

    log_in(page, live_server, viewer.username)
    page.goto(f"{live_server.url}/w/acme/metrics/?range=30d")
    page.wait_for_selector("[data-chart] .main-svg")
    assert page.locator("[data-action=add-card]").count() == 0
    assert page.locator(".card-menu").count() == 0
    page.click("label:has-text('24h')")
    page.wait_for_url("**/metrics/overview/?range=24h")
    page.wait_for_selector("[data-chart] .main-svg")
    page.wait_for_load_state("networkidle")
    settle_and_take(page, screenshot, "metrics-dashboard-viewer")


def test_charts_follow_the_theme_without_a_reload(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    viewer = make_member(workspace, Role.VIEWER, username="ada")
    seed(workspace)
    light_muted, dark_muted = "rgb(95, 107, 122)", "rgb(155, 165, 179)"  # --muted in each theme

    log_in(page, live_server, viewer.username)
    page.emulate_media(color_scheme="light")
    page.goto(f"{live_server.url}/w/acme/metrics/?range=30d")
    tick = page.locator("[data-chart] .ytick text").first
    expect(tick).to_have_css("fill", light_muted)

    page.emulate_media(color_scheme="dark")  # the system's setting changes
    expect(tick).to_have_css("fill", dark_muted)
    grid = page.locator("[data-chart] .ygrid").first
    expect(grid).to_have_css("stroke", "rgb(31, 37, 46)")  # --surface-2, dark
    page.wait_for_load_state("networkidle")
    settle_and_take(page, screenshot, "metrics-dashboard-dark")

    page.click("[data-theme-toggle]")  # back to light with the button
    expect(tick).to_have_css("fill", light_muted)
