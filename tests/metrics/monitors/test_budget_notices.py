"""The budgets' periodic job: each fraction a key crosses is told to every channel once a period."""

from django.test import TestCase

from backoffice import worker
from backoffice.api_rendering import plain_decimal
from metrics.models import BudgetNotice, Channel, ChannelKind, Delivery
from metrics.monitors import budgets
from metrics.monitors.budget_notices import notify_budgets
from metrics.monitors.delivery import deliver
from tests.factories import make_workspace
from tests.metrics.monitors.test_budget_check import EVENTS, spending_run
from tests.receiver import Receiver
from traces.ingest import ingest_batch


class BudgetNoticeTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        ingest_batch(cls.workspace, EVENTS)
        cls.hook = Channel.objects.create(
            workspace=cls.workspace, kind=ChannelKind.WEBHOOK, name="hook", url="http://127.0.0.1:9/"
        )
        cls.mail = Channel.objects.create(
            workspace=cls.workspace, kind=ChannelKind.EMAIL, name="mail", address="ops@example.com"
        )

    def budget(self, channels=(), **values):
        budget, _ = budgets.save_budget(
            self.workspace, budgets.clean_budget({**values, "channels": list(channels)})
        )
        return budget

    def test_each_fraction_crossed_is_told_to_each_channel_once(self):
        # support-bot spent $3.75 today, sales-bot $4: 75 % and 80 % of a $5 limit on each agent.
        each = self.budget([self.hook, self.mail], scope="agent", limit="5", notify_at=[0.5, 0.8, 1.0])
        self.assertEqual(notify_budgets(), 3)  # 50 % for both, 80 % for sales-bot
        self.assertEqual(
            sorted(BudgetNotice.objects.values_list("key", "fraction")),
            [("sales-bot", 0.5), ("sales-bot", 0.8), ("support-bot", 0.5)],
        )
        self.assertEqual(Delivery.objects.count(), 6)
        self.assertEqual(notify_budgets(), 0)  # told already
        self.assertEqual(Delivery.objects.count(), 6)
        # More spend today takes support-bot past 80 % and 100 %: only those are told.
        ingest_batch(self.workspace, spending_run("r-9", "support-bot", "u-3", "orders", [1.5]))
        self.assertEqual(notify_budgets(), 2)
        self.assertEqual(
            sorted(
                BudgetNotice.objects.filter(budget=each, key="support-bot").values_list("fraction", flat=True)
            ),
            [0.5, 0.8, 1.0],
        )

    def test_a_budget_without_channels_tells_nobody(self):
        self.budget(scope="workspace", limit="1")
        self.assertEqual(notify_budgets(), 0)
        self.assertFalse(Delivery.objects.exists())

    def test_the_webhook_says_which_budget_key_and_fraction(self):
        with Receiver() as receiver:
            self.hook.url = receiver.url
            self.hook.save()
            self.budget([self.hook], scope="user", key="u-1", period="month", limit="5", notify_at=[1])
            self.assertEqual(notify_budgets(), 1)
            deliver(Delivery.objects.get().pk)
        (got,) = receiver.received
        body = got.body
        (expected,) = budgets.check(self.workspace, user="u-1").budgets
        self.assertEqual(
            {k: body[k] for k in ("kind", "key", "fraction", "limit", "spent", "workspace")},
            {
                "kind": "budget",
                "key": "u-1",
                "fraction": 1.0,
                "limit": "5",
                "spent": plain_decimal(expected.spent),
                "workspace": self.workspace.slug,
            },
        )
        self.assertEqual(body["budget"]["scope"], "user")
        self.assertIn(f"/w/{self.workspace.slug}/settings/budgets/", body["links"]["budgets"])
        self.assertIn("user=u-1", body["links"]["runs"])

    def test_the_job_is_a_periodic_job_of_the_worker(self):
        self.assertIn(("metrics.monitors.budget_notices.notify_budgets", 1), worker.PERIODIC_JOBS)
