"""The spend roll-up and the budget check: the check's figures are sums over the stored model calls,
whatever the order, split or resending of the batches that brought them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from backoffice import cost_recompute
from metrics.models import Budget, SpendRollup
from metrics.monitors import budgets
from metrics.rollups import spend
from tests.events import BASE, event
from tests.factories import make_workspace
from traces.ingest import ingest_batch
from traces.models import ModelCall, ModelPrice
from traces.rollups.daily import Scope, add, subtract


def seconds_ago(seconds):
    """An event offset (tests.events) for a time before now: the check reads the current periods."""
    return (datetime.now(UTC) - timedelta(seconds=seconds) - BASE).total_seconds()


def spending_run(run_id, agent, user, workflow, costs, *, user_late=False, at=None):
    """A run and its model calls, each with its cost and 100 tokens per dollar cent. With `user_late`
    the run.start names no end user, and a later model call does (as OTLP spans may)."""
    at = seconds_ago(120) if at is None else at
    start = {"run_id": run_id, "agent_id": agent, "workflow": workflow}
    if not user_late:
        start["user_id"] = user
    events = [event("run.start", start, at=at)]
    for n, cost in enumerate(costs):
        body = {
            "run_id": run_id,
            "call_id": f"{run_id}-c{n}",
            "model": "gpt-4o-mini",
            "prompt_tokens": int(cost * 10000),
            "completion_tokens": 0,
            "cost": str(cost),
        }
        if user_late and n == len(costs) - 1:
            body["user_id"] = user
        events.append(event("llm.call", body, at=at + n + 1))
    events.append(event("run.complete", {"run_id": run_id}, at=at + len(costs) + 1))
    return events


EVENTS = (
    spending_run("r-1", "support-bot", "u-1", "refunds", [0.5, 1.25])
    + spending_run("r-2", "support-bot", "u-2", "orders", [2.0], user_late=True)
    + spending_run("r-3", "sales-bot", "u-1", "orders", [0.75, 0.25, 3.0])
    # Yesterday's spend, in this month unless today is the 1st: a day budget leaves it out.
    + spending_run("r-4", "sales-bot", "u-1", "refunds", [4.0], at=seconds_ago(86400))
)


def ingest_in_batches(events, cuts, workspace=None):
    workspace = workspace or make_workspace()
    bounds = sorted({0, len(events), *cuts})
    for start, end in zip(bounds, bounds[1:], strict=False):
        ingest_batch(workspace, events[start:end])
    return workspace


def summed(workspace, budget, key):
    """What the budget's period has spent for `key`, summed over the stored model calls."""
    day = budgets.today()
    start, end = budgets.period_start(budget.period, day), budgets.period_end(budget.period, day)
    calls = ModelCall.objects.filter(
        workspace=workspace,
        created_at__gte=datetime.combine(start, datetime.min.time(), UTC),
        created_at__lt=datetime.combine(end, datetime.min.time(), UTC),
    )
    column = {"agent": "run__agent__agent_id", "workflow": "run__workflow", "user": "run__user_id"}
    if budget.scope in column:
        calls = calls.filter(**{column[budget.scope]: key})
    field = "cost" if budget.unit == "usd" else "total_tokens"
    return calls.aggregate(total=Sum(field))["total"] or 0


BUDGETS = [
    {"scope": "workspace", "period": "day", "unit": "usd", "limit": "100"},
    {"scope": "workspace", "period": "month", "unit": "tokens", "limit": "1000000"},
    {"scope": "agent", "key": "support-bot", "period": "day", "unit": "usd", "limit": "3"},
    {"scope": "agent", "period": "month", "unit": "usd", "limit": "5"},
    {"scope": "user", "period": "day", "unit": "usd", "limit": "10"},
    {"scope": "user", "key": "u-2", "period": "month", "unit": "tokens", "limit": "30000"},
    {"scope": "workflow", "key": "orders", "period": "day", "unit": "usd", "limit": "50"},
]


def add_budgets(workspace):
    for values in BUDGETS:
        budgets.save_budget(workspace, budgets.clean_budget(values))


class SpendPropertyTest(TestCase):
    def assert_check_sums_the_rows(self, workspace):
        self.assertEqual(spend.differences(workspace), [])
        for agent, workflow, user in [
            ("support-bot", "orders", "u-2"),
            ("sales-bot", "refunds", "u-1"),
            ("", "", ""),
        ]:
            checked = budgets.check(workspace, agent=agent, workflow=workflow, user=user)
            for budget in checked.budgets:
                expected = Decimal(str(summed(workspace, budget, budget.key)))
                self.assertAlmostEqual(budget.spent, expected, places=6, msg=budgets.describe(budget))
                self.assertEqual(budgets.remaining(budget), max(budget.limit - budget.spent, 0))
            self.assertEqual(checked.allowed, all(b.spent < b.limit for b in checked.budgets))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(EVENTS),
        cuts=st.lists(st.integers(min_value=1, max_value=len(EVENTS) - 1), max_size=5),
        repeat=st.lists(st.integers(0, len(EVENTS) - 1), max_size=6),
    )
    def test_shuffled_split_and_resent_batches_give_the_sums_of_the_rows(self, order, cuts, repeat):
        workspace = make_workspace()
        add_budgets(workspace)
        ingest_in_batches(order, cuts, workspace)
        ingest_batch(workspace, [order[i] for i in repeat])
        self.assert_check_sums_the_rows(workspace)


class SpendRollupTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = ingest_in_batches(EVENTS, [])
        add_budgets(cls.workspace)

    def test_each_call_counts_for_its_workspace_agent_workflow_and_user(self):
        rows = SpendRollup.objects.filter(workspace=self.workspace)
        self.assertEqual(
            set(rows.values_list("scope", flat=True).distinct()), {"workspace", "agent", "workflow", "user"}
        )
        per_scope = dict(rows.values_list("scope").annotate(n=Sum("calls")))
        self.assertEqual(per_scope, {"workspace": 7, "agent": 7, "workflow": 7, "user": 7})
        self.assertEqual(rows.get(scope="user", key="u-2").cost, Decimal("2"))

    def test_a_budget_past_its_limit_disallows(self):
        checked = budgets.check(self.workspace, agent="support-bot")
        agent_day = next(b for b in checked.budgets if b.scope == "agent" and b.period == "day")
        self.assertEqual(
            (agent_day.key, agent_day.spent, agent_day.limit), ("support-bot", Decimal("3.75"), 3)
        )
        self.assertFalse(checked.allowed)
        self.assertEqual(budgets.remaining(agent_day), 0)

    def test_a_check_naming_nobody_reads_the_workspace_budgets_only(self):
        checked = budgets.check(self.workspace)
        self.assertEqual({b.scope for b in checked.budgets}, {"workspace"})
        self.assertTrue(checked.allowed)

    def test_an_each_key_budget_speaks_of_the_key_asked_about(self):
        checked = budgets.check(self.workspace, user="u-1")
        each = next(b for b in checked.budgets if b.scope == "user")
        self.assertEqual(each.key, "u-1")
        self.assertEqual(each.spent, Decimal("5.75"))

    def test_the_check_is_two_queries_whatever_the_budgets(self):
        with self.assertNumQueries(1):
            budgets.check(self.workspace, agent="support-bot", workflow="orders", user="u-1")
        for n in range(20):
            budgets.save_budget(
                self.workspace,
                budgets.clean_budget(
                    {"scope": "user", "key": f"v-{n}", "period": "day", "unit": "usd", "limit": 1}
                ),
            )
        with self.assertNumQueries(1):
            checked = budgets.check(self.workspace, agent="support-bot", workflow="orders", user="u-1")
        with self.assertNumQueries(0):
            [b.spent for b in checked.budgets]

    def test_deleting_a_runs_calls_through_the_bracket_takes_them_out(self):
        calls = ModelCall.objects.filter(run__run_id="r-3")
        scope = Scope.of(calls=calls.values_list("pk", flat=True))
        subtract(scope)
        calls.delete()
        add(scope)
        self.assertEqual(spend.differences(self.workspace), [])

    def test_recomputed_costs_reach_the_spend(self):
        workspace = make_workspace()
        price = ModelPrice.objects.create(
            workspace=workspace, model_pattern="house-model", input_per_million=10, output_per_million=20
        )
        call = {"run_id": "r", "model": "house-model", "prompt_tokens": 1000, "completion_tokens": 500}
        ingest_batch(
            workspace,
            [
                event("run.start", {"run_id": "r", "agent_id": "a", "user_id": "user-1"}),
                event("llm.call", call),
            ],
        )
        price.input_per_million = 30
        price.save()
        day = BASE.date()
        job = cost_recompute.start(workspace, None, day - timedelta(days=1), day + timedelta(days=1))
        while job.status != "done":
            job = cost_recompute.step(job.pk, workspace)
        self.assertEqual(spend.differences(workspace), [])
        self.assertEqual(SpendRollup.objects.get(workspace=workspace, scope="user").cost, Decimal("0.04"))

    def test_rebuild_restores_a_damaged_table(self):
        SpendRollup.objects.filter(workspace=self.workspace, scope="user").update(cost=99)
        self.assertNotEqual(spend.differences(self.workspace), [])
        spend.rebuild(self.workspace)
        self.assertEqual(spend.differences(self.workspace), [])
        self.assertTrue(Budget.objects.filter(workspace=self.workspace).exists())
