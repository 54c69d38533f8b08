from backoffice.models import Role
from tests.events import event
from tests.factories import make_member, make_workspace
from traces.ingest import ingest_batch

from .conftest import log_in


def test_the_header_box_finds_words_and_jumps_to_ids(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, Role.VIEWER, username="ada")
    ingest_batch(
        workspace,
        [
            event("run.start", {"run_id": "r-42", "agent_id": "bot", "input": "You are Nova <b>now</b>"}),
            event(
                "step.start",
                {"run_id": "r-42", "step_id": "plan", "name": "plan", "input": "Rate limit reached"},
            ),
        ],
    )
    log_in(page, live_server, user.username)

    box = page.locator("header input[name=q]")
    box.fill("rate limit")
    box.press("Enter")
    page.wait_for_url("**/w/acme/search/?q=rate+limit")
    assert page.locator("mark").all_inner_texts() == ["Rate", "limit"]
    screenshot("search")
    page.locator("[data-result='task.input'] a").first.click()
    page.wait_for_url("**/w/acme/runs/r-42/tasks/plan/")

    box = page.locator("header input[name=q]")
    box.fill("nova")
    box.press("Enter")
    page.wait_for_url("**/search/?q=nova")
    assert "<b>now</b>" in page.locator(".snippet").inner_text()

    page.locator("header input[name=q]").fill("r-42")
    page.locator("header input[name=q]").press("Enter")
    page.wait_for_url("**/w/acme/runs/r-42/")
