from datetime import UTC, datetime

from backoffice.models import Role
from tests.events import event
from tests.factories import make_member, make_model_call, make_run, make_workspace
from traces.ingest import ingest_batch
from traces.models import ModelPrice, RedactionRule

from .conftest import log_in


def watch_console(page):
    """Collect CSP violations and script errors: the pages must work under the policy."""
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def test_an_admin_manages_members_and_keys(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    admin = make_member(workspace, Role.ADMIN, username="ada", email="ada@example.com")
    make_member(workspace, Role.REVIEWER, username="grace", email="grace@example.com")
    make_member(workspace, Role.VIEWER, username="linus")
    problems = watch_console(page)
    log_in(page, live_server, admin.username)

    page.click("nav.nav >> text=Settings")
    page.wait_for_url("**/settings/members/")
    assert "The only admin" in page.inner_text("main")
    screenshot("settings-members")

    page.click(".settings-nav >> text=API keys")
    page.fill("input[name=label]", "support-bot production")
    page.click("button:has-text('Create key')")
    secret = page.inner_text(".secret code")
    assert secret.startswith("bo_")
    screenshot("settings-keys-new")
    page.goto(f"{live_server.url}/w/acme/settings/keys/")
    assert secret not in page.content()
    page.click("button:has-text('Revoke')")
    assert "revoked" in page.inner_text("main")
    page.click(".settings-nav >> text=Audit log")
    assert "key.revoked" in page.inner_text("main")
    screenshot("settings-audit")
    assert problems == []


def test_an_admin_recomputes_costs_and_tries_redaction(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    admin = make_member(workspace, Role.ADMIN, username="ada")
    ModelPrice.objects.create(workspace=workspace, model_pattern="house-model", input_per_million=10)
    run = make_run(workspace, started_at=datetime(2026, 3, 10, tzinfo=UTC))
    for _ in range(3):
        make_model_call(run, model="house-model", cost=0, created_at=run.started_at)
    RedactionRule.objects.create(
        workspace=workspace, pattern=r"[\w.+-]+@[\w-]+\.[\w.]+", replacement="[email]"
    )
    RedactionRule.objects.create(workspace=workspace, kind="key", pattern="api_key", replacement="***")
    problems = watch_console(page)
    log_in(page, live_server, admin.username)

    page.goto(f"{live_server.url}/w/acme/settings/prices/")
    screenshot("settings-prices")
    page.fill("input[name=period_start]", "2026-03-01")
    page.fill("input[name=period_end]", "2026-03-31")
    page.click("button:has-text('Recompute')")
    page.wait_for_selector("#progress .badge.ok")
    assert page.inner_text("[data-progress=done]") == "3"
    assert page.inner_text("[data-progress=changed]") == "3"
    screenshot("settings-recompute")

    page.goto(f"{live_server.url}/w/acme/settings/redaction/")
    page.click("button:has-text('Redact sample')")
    page.wait_for_selector(".tester-result")
    result = page.inner_text(".tester-result pre")
    assert "[email]" in result and "***" in result and "ada@example.com" not in result
    screenshot("settings-redaction")

    page.goto(f"{live_server.url}/w/acme/settings/retention/")
    page.fill("input[name=retention_days]", "90")
    page.click("button:has-text('Save')")
    assert "90 days" in page.inner_text("main")
    screenshot("settings-retention")
    assert problems == []


def test_an_admin_sets_an_agents_capture_mode_and_its_runs_show_it(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    admin = make_member(workspace, Role.ADMIN, username="ada")
    ingest_batch(
        workspace,
        [event("run.start", {"run_id": "r-secret", "agent_id": "support-bot", "input": "my card is 4111"})],
    )
    problems = watch_console(page)
    log_in(page, live_server, admin.username)

    page.goto(f"{live_server.url}/w/acme/settings/agents/")
    screenshot("settings-agents")
    page.click("a:has-text('Capture')")
    page.select_option("select[name=mode]", "minimal")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/settings/agents/")
    assert "minimal" in page.inner_text("table")

    page.goto(f"{live_server.url}/w/acme/runs/r-secret/")
    assert page.inner_text("#run-header .badge.capture-minimal") == "minimal"
    assert "4111" not in page.content()
    page.goto(f"{live_server.url}/w/acme/settings/audit/")
    assert "agent.capture_changed" in page.inner_text("main")
    assert problems == []
