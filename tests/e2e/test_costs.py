"""Costs as an operator reads them: a small cost keeps its digits, an unknown one is a dash, and the run
page says when its total leaves unpriced calls out. Screenshots at 1440 and 390 px."""

from decimal import Decimal

from tests.factories import make_member, make_model_call, make_run, make_workspace

from .conftest import log_in


def test_an_operator_reads_small_and_unknown_costs(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, "viewer", username="ada")
    priced = make_run(workspace, run_id="run-priced", workflow="triage", cost=Decimal("0.000435"))
    make_model_call(priced, cost=Decimal("0.000435"))
    make_model_call(priced, model="house-model-7", cost=None)
    unknown = make_run(workspace, run_id="run-unpriced", workflow="triage", cost=None)
    make_model_call(unknown, model="house-model-7", cost=None)
    make_run(workspace, run_id="run-big", workflow="report", cost=Decimal("1234.5"))
    log_in(page, live_server, user.username)
    page.set_viewport_size({"width": 1440, "height": 900})

    page.click("nav.nav >> text=Runs")
    page.wait_for_selector("#rows")
    rows = page.inner_text("#rows")
    assert "$0.000435" in rows
    assert "$1,234.50" in rows
    assert "—" in page.inner_text("#rows tr:has-text('run-unpriced')")
    screenshot("costs-1-runs")

    page.goto(f"{live_server.url}/w/acme/runs/run-priced/")
    page.wait_for_selector("#run-header")
    cost = page.locator("#run-header dd[title*='priced ones']")
    assert "$0.000435" in cost.inner_text()
    screenshot("costs-2-run-header")
