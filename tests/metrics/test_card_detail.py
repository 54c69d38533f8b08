import json
import re
from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from metrics.models import Aggregation, Dashboard, DashboardCard, Kind, TrackedEvent
from tests.factories import make_cast, make_run, make_workspace

FAILED = [{"property": "status", "operator": "eq", "value": "failed"}]


class CardDetailTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.dashboard = Dashboard.objects.create(
            workspace=cls.workspace, slug="ops", name="Ops", is_default=True
        )
        now = timezone.now()
        for index, status in enumerate(["completed", "completed", "failed"]):
            make_run(
                cls.workspace,
                status=status,
                started_at=now - timedelta(minutes=60 * index + 30),
                duration_ms=1000 * (index + 1),
            )

    def make_card(self, **fields):
        defaults = {
            "title": "Card",
            "kind": "line",
            "source": "runs",
            "aggregation": "count",
            "time_range": "24h",
        }
        return DashboardCard.objects.create(dashboard=self.dashboard, **{**defaults, **fields})

    def url(self, card, query=""):
        return f"/w/{self.workspace.slug}/metrics/ops/cards/{card.pk}/{query}"

    def get_fragment(self, card, query=""):
        return self.client.get(self.url(card, query), headers={"HX-Request": "true"})

    def test_every_kind_and_aggregation_renders(self):
        self.client.force_login(self.cast["viewer"])
        for kind in Kind.values:
            for aggregation in Aggregation.values:
                with self.subTest(kind=kind, aggregation=aggregation):
                    card = self.make_card(
                        title=f"{kind} {aggregation}",
                        kind=kind,
                        aggregation=aggregation,
                        property="duration_ms" if aggregation not in ("count", "rate") else "",
                        condition=FAILED,
                    )
                    response = self.get_fragment(card)
                    self.assertEqual(response.status_code, 200)
                    self.assertContains(response, f"{kind} {aggregation}")
                    self.assertNotContains(response, "<html")
                    if kind in ("line", "bar", "pie"):
                        figure = self.figure(response, card)
                        self.assertEqual(figure["data"][0]["type"], {"line": "scatter"}.get(kind, kind))
                    else:
                        self.assertContains(response, "data-value")

    def figure(self, response, card):
        found = re.search(
            rf'<script id="chart-{card.pk}" type="application/json">(.*?)</script>', response.text, re.S
        )
        self.assertIsNotNone(found, "the card carries its plotly figure")
        return json.loads(found.group(1))

    def test_a_rate_card_shows_the_ratio_and_its_counts(self):
        self.client.force_login(self.cast["viewer"])
        card = self.make_card(kind="rate", aggregation="rate", condition=FAILED)
        response = self.get_fragment(card)
        self.assertContains(response, "33.3 %")
        self.assertContains(response, "1 of 3")
        self.assertContains(response, "<progress")

    def test_thresholds_colour_the_card(self):
        self.client.force_login(self.cast["viewer"])
        alert = self.make_card(
            kind="rate", aggregation="rate", condition=FAILED, warning_threshold=10, alert_threshold=30
        )
        warning = self.make_card(
            kind="rate", aggregation="rate", condition=FAILED, warning_threshold=30, alert_threshold=50
        )
        calm = self.make_card(
            kind="rate", aggregation="rate", condition=FAILED, warning_threshold=40, alert_threshold=50
        )
        below = self.make_card(
            kind="number", warning_threshold=5, alert_threshold=3, threshold_direction="below"
        )
        self.assertContains(self.get_fragment(alert), "state-alert")
        self.assertContains(self.get_fragment(warning), "state-warning")
        self.assertContains(self.get_fragment(calm), "state-ok")
        self.assertContains(self.get_fragment(below), "state-alert")

    def test_a_chart_draws_its_thresholds(self):
        self.client.force_login(self.cast["viewer"])
        card = self.make_card(aggregation="rate", condition=FAILED, warning_threshold=20, alert_threshold=50)
        figure = self.figure(self.get_fragment(card), card)
        self.assertEqual([shape["y0"] for shape in figure["layout"]["shapes"]], [20, 50])

    def test_a_breakdown_draws_one_series_per_group(self):
        self.client.force_login(self.cast["viewer"])
        card = self.make_card(kind="bar", breakdown="status", breakdown_limit=1)
        figure = self.figure(self.get_fragment(card), card)
        self.assertEqual([trace["name"] for trace in figure["data"]], ["completed", "Other"])
        self.assertEqual(figure["layout"]["barmode"], "stack")

    def test_it_says_how_many_values_it_skipped(self):
        self.client.force_login(self.cast["viewer"])
        for amount in (5, "five", True):
            TrackedEvent.objects.create(
                workspace=self.workspace,
                event_id=f"e-{amount}",
                name="buy",
                properties={"amount": amount},
                timestamp=timezone.now() - timedelta(minutes=5),
            )
        card = self.make_card(
            kind="number", source="events", event_name="buy", aggregation="sum", property="amount"
        )
        response = self.get_fragment(card)
        self.assertContains(response, "2 non-numeric values skipped")
        self.assertContains(response, "<strong data-value>5</strong>")

    def test_payloads_are_escaped(self):
        self.client.force_login(self.cast["viewer"])
        make_run(self.workspace, status="<b>odd</b>", started_at=timezone.now() - timedelta(minutes=5))
        card = self.make_card(title="<i>title</i>", kind="pie", breakdown="status")
        response = self.get_fragment(card)
        self.assertNotContains(response, "<i>title</i>")
        self.assertNotContains(response, "<b>odd</b>")
        self.assertContains(response, "&lt;i&gt;title&lt;/i&gt;")

    def test_the_full_page_shows_the_card_alone(self):
        self.client.force_login(self.cast["viewer"])
        card = self.make_card()
        response = self.client.get(self.url(card))
        self.assertContains(response, "<html")
        self.assertContains(response, "plotly-basic-4.1.1.min.js")
        self.assertContains(response, 'data-chart="chart-')

    def test_the_page_range_wins_over_the_card_range(self):
        self.client.force_login(self.cast["viewer"])
        card = self.make_card(kind="number", time_range="1h")
        self.assertContains(self.get_fragment(card), "<strong data-value>1</strong>")
        self.assertContains(self.get_fragment(card, "?range=7d"), "<strong data-value>3</strong>")

    def test_it_refreshes_itself_when_asked(self):
        self.client.force_login(self.cast["viewer"])
        card = self.make_card()
        self.assertContains(self.get_fragment(card, "?refresh=30"), 'hx-trigger="every 30s"')
        self.assertNotContains(self.get_fragment(card), "hx-trigger")

    def test_it_takes_the_same_queries_whatever_the_data(self):
        self.client.force_login(self.cast["viewer"])
        card = self.make_card(kind="bar", aggregation="p95", property="duration_ms", breakdown="status")
        with self.assertNumQueries(6):  # the card, its monitor and its query
            self.get_fragment(card)
        for _ in range(20):
            make_run(self.workspace, status="failed", started_at=timezone.now() - timedelta(hours=2))
        with self.assertNumQueries(6):  # the card, its monitor and its query
            self.get_fragment(card)

    def test_it_hides_cards_from_outsiders(self):
        card = self.make_card()
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.get_fragment(card).status_code, 404)
        other = Dashboard.objects.create(workspace=self.cast["other_workspace"], slug="ops", name="Ops")
        foreign = DashboardCard.objects.create(dashboard=other, title="Foreign")
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.get_fragment(foreign).status_code, 404)

    def test_viewers_get_no_edit_menu_and_admins_do(self):
        card = self.make_card()
        self.client.force_login(self.cast["reviewer"])
        self.assertNotContains(self.get_fragment(card), "card-menu")
        self.client.force_login(self.cast["admin"])
        self.assertContains(self.get_fragment(card), "card-menu")
