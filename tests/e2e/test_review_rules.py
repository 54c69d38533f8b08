from datetime import timedelta

from django.utils import timezone

from backoffice.models import Role
from tests.events import event
from tests.factories import make_member, make_run, make_score, make_workspace
from traces.ingest import ingest_batch
from traces.models import Run

from .conftest import log_in
from .test_settings import watch_console


def finished_runs(statuses):
    events = []
    for n, status in enumerate(statuses):
        run_id = f"refund-{n}"
        events.append(event("run.start", {"run_id": run_id, "agent_id": "refund-bot"}, at=n))
        end = ("run.failed", {"run_id": run_id, "error": "card declined"}) if status == "failed" else None
        events.append(event(*(end or ("run.complete", {"run_id": run_id})), at=n + 0.5))
    return events


def test_an_admin_makes_a_queue_and_a_rule_and_failed_runs_fill_the_queue(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    admin = make_member(workspace, Role.ADMIN, username="ada")
    make_member(workspace, Role.REVIEWER, username="ann")
    make_member(workspace, Role.REVIEWER, username="bob")
    problems = watch_console(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server, admin.username)

    page.goto(f"{live_server.url}/w/acme/settings/review-queues/")
    page.fill("input[name=name]", "Refunds")
    page.fill("input[name=description]", "Failed refund runs")
    page.check("label.check:has-text('ann') >> input")
    page.check("label.check:has-text('bob') >> input")
    page.click("button:has-text('Add queue')")
    assert "Queue “Refunds” added" in page.inner_text("main")

    page.click(".settings-nav >> text=Review rules")
    page.fill("input[name=name]", "Failed refunds")
    page.fill("input[name=filter]", f"{live_server.url}/w/acme/runs/?status=failed")
    page.fill("input[name=tags]", "refund")
    page.select_option("select[name=priority]", "high")
    page.select_option("select[name=queue]", label="Refunds")
    page.click("button:has-text('Add rule')")
    page.wait_for_url("**/settings/review-rules/*/")
    assert page.input_value("input[name=filter]") == "status=failed"

    # Runs finish: the failed ones get reviews in the queue, in turn.
    ingest_batch(workspace, finished_runs(["failed", "completed", "failed", "failed"]))
    page.goto(f"{live_server.url}/w/acme/settings/review-rules/")
    row = page.locator("[data-rule='Failed refunds']")
    assert row.locator("[data-matched]").inner_text() == "3"
    assert row.locator("[data-sampled]").inner_text() == "3"
    screenshot("review-rules")

    # A failure of last week, from before the rule: the backfill button brings it in, once.
    make_run(workspace, run_id="refund-old", status="failed", started_at=timezone.now() - timedelta(days=5))
    row.locator("a:has-text('Failed refunds')").click()
    today = timezone.now().date()
    page.fill("input[name=since]", (today - timedelta(days=7)).isoformat())
    page.fill("input[name=until]", today.isoformat())
    page.click("button:has-text('Backfill')")
    assert "1 review opened" in page.inner_text("main")
    screenshot("review-rule")
    page.click("button:has-text('Backfill')")
    assert "0 reviews opened" in page.inner_text("main")

    page.goto(f"{live_server.url}/w/acme/settings/review-queues/")
    queue = page.locator("[data-queue='Refunds']")
    assert queue.locator("[data-open]").inner_text() == "4"
    screenshot("review-queues")
    queue.locator("[data-open] a").click()
    page.wait_for_url("**/reviews/?queue=*")
    rows = page.locator("[data-review-row]")
    assert rows.count() == 4
    assignees = sorted(rows.locator(".c-assignee").all_inner_texts())
    assert [text.split()[0] for text in assignees] == ["ann", "ann", "bob", "bob"]
    screenshot("review-queue-filtered")

    # The Runs list shows each run's scores in its own column.
    refund = Run.objects.get(run_id="refund-0")
    make_score(refund, name="helpfulness", value=2, source="reviewer", author="ann")
    make_score(refund, name="tone", data_type="categorical", value=1, string_value="curt")
    page.goto(f"{live_server.url}/w/acme/runs/")
    assert "helpfulness 2 · tone curt" in page.inner_text("table.runs")
    screenshot("runs-scores")
    assert problems == []
