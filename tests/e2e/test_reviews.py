import csv
import io
import json
from pathlib import Path

from backoffice.models import Role
from tests.factories import make_agent, make_member, make_message, make_run, make_session, make_workspace
from traces.models import Review

from .conftest import log_in

WRONG = "Your order arrived yesterday."
RIGHT = "The carrier lists order 1042 as lost. I have opened a claim; you will hear from us within a day."


def make_conversation(workspace):
    agent = make_agent(workspace, agent_id="support-bot", name="Support bot")
    session = make_session(workspace, agent=agent)
    run = make_run(workspace, run_id="run-1042", session=session, agent=agent)
    make_message(session, run=run, role="system", content="You are Acme's support agent.", event_id="ev-1")
    make_message(session, run=run, role="user", content="Where is order 1042?", event_id="ev-2")
    make_message(session, run=run, role="assistant", content=WRONG, event_id="ev-3")
    make_message(session, run=run, role="user", content="It has not arrived.", event_id="ev-4")
    make_message(session, run=run, role="assistant", content="Sorry! Anything else?", event_id="ev-5")
    return run


def test_a_reviewer_files_from_a_bubble_resolves_with_a_correction_and_exports(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    reviewer = make_member(workspace, Role.REVIEWER, username="rita")
    make_conversation(workspace)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, live_server, reviewer.username)

    # File a review from the Chat tab's bubble of the wrong reply: it opens the Review tab aimed at it.
    page.goto(f"{live_server.url}/w/acme/runs/run-1042/chat/")
    screenshot("review-chat-tab")
    page.locator("[data-turn=ev-3] >> text=Review this reply").click()
    page.wait_for_url("**/runs/run-1042/review/?message=ev-3*")
    assert page.locator("select[name=target]").input_value() == "ev-3"
    # On the Review tab the bubbles pick the reply in place.
    page.locator("[data-turn=ev-5] >> text=Review this reply").click()
    assert page.locator("select[name=target]").input_value() == "ev-5"
    page.locator("[data-turn=ev-3] >> text=Review this reply").click()
    assert page.locator("select[name=target]").input_value() == "ev-3"
    assert page.locator("[data-original]").inner_text() == WRONG
    assert "is-target" in page.locator("[data-turn=ev-3]").get_attribute("class")
    page.locator("label.seg.bad").click()
    page.select_option("select[name=priority]", "high")
    page.fill("textarea[name=comment]", "Claimed the order arrived; the carrier says it is lost.")
    page.fill("input[name=tags]", "lost-parcel, hallucination")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar would land mid-page in a full-page shot
    screenshot("review-file-from-bubble")
    page.click("text=File review")
    page.wait_for_url("**/runs/run-1042/review/")
    assert "Review #" in page.inner_text("#review-tab")
    assert page.locator("#tab-review[aria-current=page]").count() == 1
    screenshot("review-tab-filed")
    review = Review.objects.get()
    assert review.target_message.event_id == "ev-3"
    assert review.tags == ["lost-parcel", "hallucination"]

    # Work it from the queue with the keyboard: select, start, open.
    page.goto(f"{live_server.url}/w/acme/reviews/")
    row = page.locator(f"#review-row-{review.pk}")
    assert "is-selected" in row.get_attribute("class")
    page.keyboard.press("i")
    page.locator(f"#review-row-{review.pk} >> text=In review").wait_for()
    screenshot("review-queue")
    page.keyboard.press("o")
    page.wait_for_url(f"**/reviews/{review.pk}/")

    # Write the corrected output, then resolve with the status key.
    page.click("#edit summary")
    page.fill("#edit textarea[name=corrected_output]", RIGHT)
    page.select_option("#edit select[name=action]", "prompt_changed")
    page.click("text=Save changes")
    page.wait_for_url(f"**/reviews/{review.pk}/")
    page.keyboard.press("r")
    page.locator(".workflow .badge.resolved").wait_for()
    assert RIGHT in page.locator(".compare-side.corrected").inner_text()
    assert WRONG in page.locator(".compare-side.original").inner_text()
    screenshot("review-resolved")
    review.refresh_from_db()
    assert (review.status, review.resolved_by) == ("resolved", "rita")

    # Download the training export from the queue.
    page.goto(f"{live_server.url}/w/acme/reviews/?status=resolved")
    with page.expect_download() as download:
        page.click("[data-export]")
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    example = json.loads(lines[0])
    assert len(lines) == 1
    assert example["messages"][-1] == {"role": "assistant", "content": RIGHT}
    assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    assert example["metadata"] == {
        "review_id": review.pk,
        "run_id": "run-1042",
        "rating": "bad",
        "was_corrected": True,
    }
    screenshot("review-queue-resolved")

    # And the same reviews as an evaluation set, for a spreadsheet.
    with page.expect_download() as download:
        page.click("[data-evaluation=csv]")
    assert download.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [(row["run_id"], row["output"], row["expected_output"]) for row in rows] == [
        ("run-1042", WRONG, RIGHT)
    ]
    assert errors == []
