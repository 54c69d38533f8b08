"""The budget check: GET /api/v1/budgets/check naming an agent, a workflow and an end user of the first
workspace, with a budget of every kind among a thousand others, over a full month of spend.

The data set's days end at its anchor, which may be weeks old when it is reused: the check is timed
as on the last day of the month before the anchor's, so its month holds 28 to 31 days of roll-ups."""

from datetime import timedelta
from unittest import mock

from django.test import Client

from backoffice.models import ApiKey, Scope, Workspace
from metrics.models import Budget
from metrics.monitors import budgets
from traces.models import Run

from .measure import page_figure

CHECK_MS = 20
OTHER_BUDGETS = 1_000


def budget_figure(facts, repeats):
    workspace = Workspace.objects.get(slug=facts.workspaces[0])
    day = facts.anchor_time.date().replace(day=1) - timedelta(days=1)
    run = (
        Run.objects.filter(workspace=workspace, agent__isnull=False)
        .exclude(user_id="")
        .exclude(workflow="")
        .select_related("agent")
        .order_by("-started_at", "-id")
        .first()
    )
    agent, workflow, user = run.agent.agent_id, run.workflow, run.user_id
    kinds = [
        {"scope": "workspace", "period": "day", "limit": "1000"},
        {"scope": "workspace", "period": "month", "unit": "tokens", "limit": "1000000000"},
        {"scope": "agent", "key": agent, "period": "day", "limit": "100"},
        {"scope": "agent", "period": "month", "limit": "1000"},
        {"scope": "workflow", "period": "day", "limit": "100"},
        {"scope": "user", "period": "day", "limit": "10"},
        {"scope": "user", "key": user, "period": "month", "unit": "tokens", "limit": "1000000"},
    ]
    made = [budgets.save_budget(workspace, budgets.clean_budget(values))[0].pk for values in kinds]
    others = Budget.objects.bulk_create(
        Budget(workspace=workspace, scope="user", key=f"bench-user-{n}", limit=1)
        for n in range(OTHER_BUDGETS)
    )
    api_key, raw_key = ApiKey.issue(workspace, "bench budget check", scopes=[Scope.INGEST])
    client = Client(HTTP_HOST="localhost")
    try:
        with mock.patch.object(budgets, "today", return_value=day):
            return page_figure(
                f"GET /api/v1/budgets/check, agent + workflow + user, {len(kinds) + OTHER_BUDGETS:,} budgets",
                client,
                f"/api/v1/budgets/check?agent={agent}&workflow={workflow}&user={user}",
                repeats,
                CHECK_MS,
                ratio_limit=None,
                headers={"Authorization": f"Bearer {raw_key}"},
            )
    finally:
        api_key.delete()
        Budget.objects.filter(pk__in=[*made, *(budget.pk for budget in others)]).delete()
