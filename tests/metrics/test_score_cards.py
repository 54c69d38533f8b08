"""Cards over scores: average helpfulness per day by agent, the rate of hallucination = true."""

from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from metrics.engine import evaluate
from metrics.models import DashboardCard
from tests.factories import make_agent, make_run, make_score, make_workspace

NOW = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)


def card(**fields):
    defaults = {"title": "t", "kind": "number", "source": "scores", "aggregation": "avg", "time_range": "7d"}
    return DashboardCard(**{**defaults, **fields})


def named(name):
    return [{"property": "name", "operator": "eq", "value": name}]


class ScoreCardsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        support, billing = (
            make_agent(cls.workspace, name="support"),
            make_agent(cls.workspace, name="billing"),
        )
        cls.support_run = make_run(cls.workspace, agent=support)
        cls.billing_run = make_run(cls.workspace, agent=billing)
        for run, value, days in ((cls.support_run, 4, 1), (cls.support_run, 2, 1), (cls.billing_run, 5, 2)):
            make_score(run, name="helpfulness", value=value, created_at=NOW - timedelta(days=days))
        for truth in ("true", "false", "false", "false"):
            make_score(
                cls.support_run,
                name="hallucination",
                data_type="boolean",
                value=1.0 if truth == "true" else 0.0,
                string_value=truth,
                created_at=NOW - timedelta(hours=3),
            )
        make_score(
            make_run(make_workspace()), name="helpfulness", value=1, created_at=NOW - timedelta(days=1)
        )

    def test_the_average_helpfulness_per_day_by_agent(self):
        line = card(
            kind="line", bucket="day", property="value", filters=named("helpfulness"), breakdown="agent"
        )
        result = evaluate(line, self.workspace, now=NOW)
        series = {item.label: [value for value in item.values if value is not None] for item in result.series}
        self.assertEqual(series, {"support": [3.0], "billing": [5.0]})
        figure = evaluate(card(property="value", filters=named("helpfulness")), self.workspace, now=NOW)
        self.assertAlmostEqual(figure.value, 11 / 3)

    def test_the_rate_of_hallucination_true(self):
        rate = card(
            kind="rate",
            aggregation="rate",
            filters=named("hallucination"),
            condition=[{"property": "label", "operator": "eq", "value": "true"}],
        )
        result = evaluate(rate, self.workspace, now=NOW)
        self.assertEqual((result.value, result.numerator, result.denominator), (25.0, 1, 4))
