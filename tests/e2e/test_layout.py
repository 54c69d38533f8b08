"""Every page of the demo workspace fits a phone and a desktop window and passes axe-core.

The demo data (seed_demo) gives realistic volumes; one more run has the longest ids and names ingest
takes, the ones that used to stretch a page sideways.
"""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from backoffice.models import Role, Workspace
from metrics.dashboards import default_dashboard
from metrics.monitors import budgets
from tests.events import event, workflow_run
from tests.factories import make_member
from traces.ingest import ingest_batch
from traces.models import ReviewQueue, ReviewRule
from traces.reviews.rules import backfill

from .conftest import log_in
from .layout import page_problems, workspace_pages

LONG_RUN_ID = "lc-run-7f3a9c2e-1b4d-4e8f-9a6b-" + "0123456789abcdef" * 6 + "-retry-3"
LONG_NAME = "summarise_the_customer_history_" * 6


def add_long_names(workspace):
    events = workflow_run(LONG_RUN_ID, session_id=f"session-{LONG_RUN_ID}", agent_id=LONG_NAME[:100])
    step = {"run_id": LONG_RUN_ID, "step_id": f"step-{LONG_RUN_ID}", "name": LONG_NAME}
    events.append(event("step.start", step, at=1))
    results = ingest_batch(workspace, events)
    assert {r["status"] for r in results} <= {"accepted"}, results


def add_queue_and_rule(workspace, admin):
    """A review queue and a rule that fills it, so their settings pages are walked too."""
    queue = ReviewQueue.objects.create(workspace=workspace, name="Escalations", description="Failed runs")
    queue.members.set([admin])
    rule = ReviewRule.objects.create(
        workspace=workspace, name="Failed runs", filter="status=failed", sample_rate=0.5, queue=queue
    )
    backfill(rule, timezone.now() - timedelta(days=60), timezone.now())


def add_budgets(workspace):
    """A budget of the longest agent id, one of each end user, so Settings › Budgets has rows to show."""
    for values in ({"scope": "agent", "key": LONG_NAME[:100], "limit": "5"}, {"scope": "user", "limit": "1"}):
        budgets.save_budget(workspace, budgets.clean_budget(values))


def test_every_demo_page_fits_the_window_and_passes_axe(transactional_db, live_server, page):
    call_command("seed_demo", stdout=StringIO())
    workspace = Workspace.objects.get(slug="demo")
    add_long_names(workspace)
    default_dashboard(workspace)  # the dashboard pages need a dashboard and its cards
    admin = make_member(workspace, Role.ADMIN, username="ada")
    add_queue_and_rule(workspace, admin)
    add_budgets(workspace)
    log_in(page, live_server, admin.username)

    problems, walked = [], 0
    for url in workspace_pages(workspace):
        answer = page.request.get(live_server.url + url)
        if answer.status != 200 or not answer.headers["content-type"].startswith("text/html"):
            continue  # POST-only actions, downloads, and rows the demo does not have
        walked += 1
        problems.extend(page_problems(page, live_server.url + url))
    assert walked > 25
    assert problems == [], "\n".join(problems)
