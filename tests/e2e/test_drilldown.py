# Waits use URLs and locators, not page.wait_for_function: the CSP forbids evaluating strings.
import re

from playwright.sync_api import expect

from tests.factories import make_member, make_workspace
from tests.traces.scenario import make_conversation

from .conftest import log_in


def test_an_operator_drills_down_from_conversations_to_a_task(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, "viewer", username="ada")
    make_conversation(workspace, "conv-refund", turns=3)
    make_conversation(workspace, "conv-broken", turns=2, fail_last=True, user_id="customer-9")
    log_in(page, live_server, user.username)

    page.click("nav.nav >> text=Conversations")
    page.wait_for_selector("table.conversations")
    assert "conv-refund" in page.inner_text("#rows")
    page.fill("input[name=user]", "customer-9")
    page.wait_for_url(re.compile(r"[?&]user=customer-9"))
    expect(page.locator("#rows")).not_to_contain_text("conv-refund")
    assert "conv-broken" in page.inner_text("#rows")
    screenshot("drilldown-1-conversations-filtered")

    page.click("#rows >> text=conv-broken")
    page.wait_for_selector(".bubble.assistant")
    assert page.locator(".bubble.user").count() == 2
    screenshot("drilldown-2-conversation")

    page.click(".bubble.user >> nth=1 >> a.chip")
    page.wait_for_selector("#run-panel .badge.failed")
    assert page.url.endswith("?run=conv-broken-run-2")
    assert "crm.lookup" in page.inner_text("#run-panel")
    screenshot("drilldown-3-run-panel")

    page.click("#run-panel >> text=Open the run page")
    page.wait_for_selector("#run-header")
    assert "CRM timed out after 30 s" in page.inner_text("#run-header")
    screenshot("drilldown-4-run")

    page.click("#tab-events")
    page.wait_for_url(re.compile(r"/runs/conv-broken-run-2/events/$"))
    page.check("input[name=error]")
    page.wait_for_url(re.compile(r"[?&]error=on"))
    expect(page.locator(".event-log .event")).to_have_count(3)
    first_event = page.locator(".event-log .event").first
    first_event.locator("summary").first.click()
    assert "CRM timed out" in first_event.inner_text()
    screenshot("drilldown-5-run-events-errors")

    page.go_back()
    page.wait_for_url(re.compile(r"/events/$"))
    page.go_back()
    page.wait_for_selector("#tab-tasks[aria-current=page]")
    page.click("[data-fold]")
    assert not page.is_visible("text=search_docs")
    page.click("[data-fold]")
    page.click("[data-workspace-tree] >> text=draft_answer")
    page.wait_for_selector("#task-page >> text=gpt-4o-mini")
    assert "first token 210 ms" in page.inner_text("#task-page")
    screenshot("drilldown-6-task")

    page.click("nav.nav >> text=Model calls")
    page.wait_for_selector("table.rollup")
    screenshot("drilldown-7-model-calls")


def test_a_running_run_updates_itself_and_stops_when_it_ends(transactional_db, live_server, page, screenshot):
    from tests.events import BASE
    from traces.ingest import ingest_batch

    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, "viewer", username="ada")
    run_id = make_conversation(workspace, "conv-live", turns=1, running_last=True, start=BASE)[0]
    log_in(page, live_server, user.username)
    page.goto(f"{live_server.url}/w/acme/runs/{run_id}/")
    page.wait_for_selector("#run-live", state="attached")
    page.click("[data-fold]")  # fold the plan step: the operator's choice must survive refreshes
    ingest_batch(
        workspace,
        [
            {
                "id": "finish",
                "type": "run.complete",
                "timestamp": BASE.replace(minute=5).isoformat(),
                "body": {"run_id": run_id},
            }
        ],
    )
    page.wait_for_selector("#run-header .badge.completed", timeout=15_000)
    assert page.locator("#run-live").count() == 0
    assert not page.is_visible("text=search_docs")
    screenshot("drilldown-8-run-finished-live", narrow=False)
