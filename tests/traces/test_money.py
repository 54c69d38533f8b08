"""How money shows (traces.money): cents from a cent up, significant digits below, a dash when unknown."""

from decimal import Decimal

from django.test import SimpleTestCase

from metrics.display import format_value
from tests.factories import make_model_call, make_run, make_session
from tests.traces.drilldown import DrilldownTestCase
from traces.models import ModelCall
from traces.money import money
from traces.rollups.model_calls import model_rollup


class MoneyTest(SimpleTestCase):
    def test_under_a_cent_keeps_its_significant_digits(self):
        self.assertEqual(money(Decimal("0.00042")), "$0.00042")
        self.assertEqual(money(Decimal("0.0004350000")), "$0.000435")
        self.assertEqual(money(Decimal("0.0001234567")), "$0.000123")

    def test_an_unknown_cost_is_a_dash_not_zero(self):
        self.assertEqual(money(None), "—")

    def test_zero_is_zero_dollars(self):
        self.assertEqual(money(Decimal("0E-10")), "$0")

    def test_from_a_cent_up_it_shows_cents_with_thousands(self):
        self.assertEqual(money(Decimal("0.05")), "$0.05")
        self.assertEqual(money(Decimal("1234.567")), "$1,234.57")

    def test_dashboard_cards_show_dollars_the_same_way(self):
        self.assertEqual(format_value(0.00042, unit="usd"), "$0.00042")
        self.assertEqual(format_value(1234.5, unit="usd"), "$1,234.50")


class MoneyOnPagesTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        session = make_session(cls.workspace, session_id="conv-money", cost=None)
        cls.unknown = make_run(cls.workspace, run_id="unpriced", session=session, cost=None)
        make_model_call(cls.unknown, model="house-model", cost=None)
        cls.mixed = make_run(cls.workspace, run_id="mixed", cost=Decimal("0.00042"))
        make_model_call(cls.mixed, cost=Decimal("0.00042"))
        make_model_call(cls.mixed, model="house-model", cost=None)

    def setUp(self):
        self.as_("viewer")

    def test_the_runs_list_shows_a_dash_for_an_unknown_cost_and_small_costs_whole(self):
        response = self.client.get(self.url("runs/"))
        self.assertContains(response, "$0.00042")
        self.assertContains(response, '<td class="num hide-narrow" data-label="Cost">—</td>', html=True)

    def test_the_run_header_says_when_its_cost_leaves_unpriced_calls_out(self):
        response = self.client.get(self.url("runs/mixed/"))
        self.assertContains(response, "the sum of the priced ones")
        self.assertContains(response, "$0.00042")
        response = self.client.get(self.url("runs/unpriced/"))
        self.assertContains(response, "no cost is known")

    def test_the_model_calls_list_shows_each_calls_cost(self):
        response = self.client.get(self.url("model-calls/"))
        self.assertContains(response, "$0.00042")
        self.assertContains(response, "—")

    def test_the_per_model_roll_up_of_unpriced_calls_is_unknown_and_of_a_mix_the_known_sum(self):
        rows = {row.model: row for row in model_rollup(ModelCall.objects.filter(workspace=self.workspace))}
        self.assertEqual((rows["house-model"].cost, rows["gpt-4o-mini"].cost), (None, Decimal("0.00042")))

    def test_the_conversation_shows_its_unknown_cost_as_a_dash(self):
        response = self.client.get(self.url("conversations/conv-money/"))
        self.assertContains(response, '<dd class="num">—</dd>', html=True)
