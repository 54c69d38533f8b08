"""Settings › Budgets: spent against the limit, add, change and delete, for admins only, audited."""

from django.test import TestCase

from backoffice.models import AuditEntry
from metrics.models import Budget, Channel, ChannelKind
from metrics.monitors import budgets
from tests.factories import make_cast, make_workspace
from tests.metrics.monitors.test_budget_check import EVENTS
from traces.ingest import ingest_batch

BUDGETS = "/w/acme/settings/budgets/"


class BudgetPagesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        ingest_batch(cls.workspace, EVENTS)
        cls.cast = make_cast(cls.workspace)
        cls.channel = Channel.objects.create(
            workspace=cls.workspace, kind=ChannelKind.EMAIL, name="ops", address="ops@example.com"
        )
        cls.foreign = Budget.objects.create(workspace=cls.cast["other_workspace"], scope="workspace", limit=1)

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def budget(self, **values):
        return budgets.save_budget(self.workspace, budgets.clean_budget(values))[0]

    def test_an_admin_adds_a_budget_and_it_is_audited(self):
        data = {"scope": "agent", "key": "support-bot", "period": "day", "unit": "usd", "limit": "3"}
        response = self.client.post(BUDGETS, {**data, "notify_at": "50, 100", "channels": [self.channel.pk]})
        self.assertRedirects(response, BUDGETS)
        budget = Budget.objects.get(workspace=self.workspace)
        self.assertEqual((budget.notify_at, list(budget.channels.all())), ([0.5, 1.0], [self.channel]))
        self.assertEqual(AuditEntry.objects.get().action, "budget.created")
        page = self.client.get(BUDGETS)
        self.assertContains(page, "Agent support-bot, USD a day")
        self.assertContains(page, "$3.75")
        self.assertContains(page, "at the limit")
        self.assertContains(page, 'class="budget-bar reached"')

    def test_bad_input_is_shown_again_naming_the_field(self):
        cases = [
            ({"scope": "workspace", "key": "x", "limit": "1"}, "key"),
            ({"scope": "user", "limit": "0"}, "limit"),
            ({"scope": "user", "limit": "1", "notify_at": "eighty"}, "notify_at"),
            ({"scope": "user", "limit": "1", "notify_at": "0"}, "notify_at"),
        ]
        for values, field in cases:
            response = self.client.post(
                BUDGETS, {"period": "day", "unit": "usd", "notify_at": "80", **values}
            )
            self.assertEqual(response.status_code, 200)
            self.assertIn(field, response.context["form"].errors, values)
        self.budget(scope="user", limit="1")
        again = self.client.post(
            BUDGETS, {"scope": "user", "period": "day", "unit": "usd", "limit": "2", "notify_at": "80"}
        )
        self.assertIn("key", again.context["form"].errors)
        self.assertEqual(Budget.objects.filter(workspace=self.workspace).count(), 1)

    def test_an_admin_changes_and_deletes_a_budget(self):
        budget = self.budget(scope="user", limit="1")
        page = self.client.get(f"{BUDGETS}{budget.pk}/")
        self.assertContains(page, 'value="80, 100"')
        data = {
            "scope": "user",
            "key": "u-1",
            "period": "month",
            "unit": "tokens",
            "limit": "5000",
            "notify_at": "100",
        }
        self.assertRedirects(self.client.post(f"{BUDGETS}{budget.pk}/", data), BUDGETS)
        budget.refresh_from_db()
        self.assertEqual(
            (budget.key, budget.period, budget.unit, budget.notify_at), ("u-1", "month", "tokens", [1.0])
        )
        self.client.post(f"{BUDGETS}{budget.pk}/delete/")
        self.assertFalse(Budget.objects.filter(pk=budget.pk).exists())
        actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
        self.assertEqual(actions, ["budget.changed", "budget.deleted"])

    def test_the_pages_are_for_admins_and_another_workspaces_budget_is_404(self):
        budget = self.budget(scope="user", limit="1")
        for role in ("viewer", "reviewer"):
            self.client.force_login(self.cast[role])
            self.assertEqual(self.client.get(BUDGETS).status_code, 403)
            self.assertEqual(self.client.post(f"{BUDGETS}{budget.pk}/delete/").status_code, 403)
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(BUDGETS).status_code, 404)
        self.client.force_login(self.cast["admin"])
        self.assertEqual(self.client.get(f"{BUDGETS}{self.foreign.pk}/").status_code, 404)
        self.assertEqual(self.client.post(f"{BUDGETS}{self.foreign.pk}/delete/").status_code, 404)
        self.assertTrue(Budget.objects.filter(pk=self.foreign.pk).exists())

    def test_the_forms_carry_csrf(self):
        budget = self.budget(scope="user", limit="1")
        # The log-out form's, and each form of the page.
        self.assertContains(self.client.get(BUDGETS), "csrfmiddlewaretoken", count=2)
        self.assertContains(self.client.get(f"{BUDGETS}{budget.pk}/"), "csrfmiddlewaretoken", count=3)

    def test_the_list_costs_the_same_queries_for_2_and_20_budgets(self):
        for count in (2, 20):
            Budget.objects.filter(workspace=self.workspace).delete()
            for n in range(count):
                budget = self.budget(scope="user", key=f"u-{n}", limit="1")
                budget.channels.set([self.channel])
            # session, user, memberships, the budgets with their spend, their channels, the form's channels
            with self.assertNumQueries(6):
                response = self.client.get(BUDGETS)
            self.assertContains(response, "End user u-1, USD a day")
