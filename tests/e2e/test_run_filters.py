# Waits use URLs and locators, not page.wait_for_function: the CSP forbids evaluating strings.
import re
from decimal import Decimal

from playwright.sync_api import expect

from tests.factories import make_agent, make_member, make_run, make_workspace

from .conftest import log_in


def test_an_operator_filters_sorts_and_saves_a_view_of_the_runs(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, "viewer", username="ada")
    bot = make_agent(workspace, agent_id="support-bot", name="Support bot")
    make_run(workspace, run_id="cheap-vip", agent=bot, tags=["vip"], cost=Decimal("0.01"))
    make_run(workspace, run_id="dear-vip", agent=bot, tags=["vip", "eu"], cost=Decimal("4.20"))
    make_run(workspace, run_id="plain", status="failed", error="boom", cost=Decimal("9"))
    log_in(page, live_server, user.username)

    page.goto(f"{live_server.url}/w/acme/runs/")
    expect(page.locator(".list-count")).to_have_text("3 runs")
    page.click("summary >> text=More filters")
    page.fill("input[name=tag] >> nth=0", "vip")
    page.click("button >> text=Filter")
    page.wait_for_url(re.compile(r"[?&]tag=vip"))
    expect(page.locator(".list-count")).to_contain_text("2 runs match")
    expect(page.locator("#rows")).not_to_contain_text("plain")

    page.click("a.sort >> text=Cost")
    page.wait_for_url(re.compile(r"sort=-cost"))
    expect(page.locator("#rows tbody tr").first).to_contain_text("dear-vip")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Cost")
    page.select_option("select[name=status]", "completed")
    page.wait_for_url(re.compile(r"status=completed"))
    assert "sort=-cost" in page.url  # the sort the header chose stays with the filters
    screenshot("run-filters-1-filtered-sorted")

    page.click("summary >> text=Save this view")
    page.fill(".save-view input[name=name]", "Dear VIPs")
    page.click("button >> text=Save view")
    page.wait_for_url(re.compile(r"/runs/\?.*tag=vip"))
    page.click("summary >> text=Views")
    expect(page.locator("#saved-views-menu")).to_contain_text("Dear VIPs")
    screenshot("run-filters-2-views-menu", narrow=False)

    page.goto(f"{live_server.url}/w/acme/runs/")
    page.click("summary >> text=Views")
    page.click("#saved-views-menu >> text=Dear VIPs")
    page.wait_for_url(re.compile(r"sort=-cost"))
    expect(page.locator(".list-count")).to_contain_text("2 runs match")
