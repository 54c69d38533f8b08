"""A breakdown value has one colour on every card of a dashboard."""

from django.test import SimpleTestCase

from metrics.charts import colours
from metrics.display import OTHER_COLOUR
from metrics.engine import Series
from metrics.models import DashboardCard


def series(*labels):
    return [Series(label=label, values=[]) for label in labels]


class ChartColoursTest(SimpleTestCase):
    def test_a_model_keeps_its_colour_whatever_its_rank_on_the_card(self):
        def by_label(card, labels):
            return dict(zip(labels, colours(card, series(*labels)), strict=True))

        tokens = by_label(DashboardCard(breakdown="model", colour="teal"), ["gpt-4o", "claude", "mini"])
        cost = by_label(DashboardCard(breakdown="model", colour="green"), ["mini", "gpt-4o", "claude"])
        self.assertEqual(tokens, cost)
        self.assertEqual(len(set(tokens.values())), 3)

    def test_other_is_grey_and_a_single_series_takes_the_card_colour(self):
        card = DashboardCard(breakdown="model")
        other = Series(label="Other", values=[], other=True)
        self.assertEqual(colours(card, [*series("a"), other])[1], OTHER_COLOUR)
        self.assertEqual(
            colours(DashboardCard(colour="blue"), series("Count")), colours(DashboardCard(), series("x"))
        )
