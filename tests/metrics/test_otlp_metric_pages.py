"""OTLP metric cards on the pages: the card fragment's queries, the editor's names and its checks,
export and import."""

import json

from django.test import TestCase

from metrics.models import Dashboard, DashboardCard, MetricPoint
from tests.factories import make_api_key, make_cast, make_workspace
from tests.metrics.otlp import export, histogram_metric, histogram_point
from tests.metrics.test_card_edit import form_data

DURATION = "gen_ai.client.operation.duration"


class MetricCardPagesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        _, cls.key = make_api_key(cls.workspace)
        cls.dashboard = Dashboard.objects.create(
            workspace=cls.workspace, slug="ops", name="Ops", is_default=True
        )

    def send_points(self, count, offset=0):
        points = [
            histogram_point(
                offset + index, [0.5, 1, 2], [1, 2, 1, 0], 4.0, **{"gen_ai.request.model": f"m{index % 7}"}
            )
            for index in range(count)
        ]
        response = self.client.post(
            "/v1/metrics",
            export(histogram_metric(DURATION, points, unit="s")).SerializeToString(),
            content_type="application/x-protobuf",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(response.status_code, 200)

    def base(self):
        return f"/w/{self.workspace.slug}/metrics/ops/"

    def metric_form(self, **overrides):
        fields = {
            "title": "Model latency p95",
            "kind": "line",
            "source": "otlp_metric",
            "metric_name": DURATION,
            "aggregation": "p95",
            "breakdown": "gen_ai.request.model",
            "condition_0_property": "",
            "condition_0_operator": "",
            "condition_0_value": "",
        }
        return form_data(**{**fields, **overrides})

    def test_a_card_fragment_takes_the_same_queries_whatever_the_points(self):
        card = DashboardCard.objects.create(
            dashboard=self.dashboard,
            title="Latency",
            kind="line",
            source="otlp_metric",
            metric_name=DURATION,
            aggregation="p95",
            breakdown="gen_ai.request.model",
            time_range="7d",
        )
        self.client.force_login(self.cast["viewer"])
        url = f"{self.base()}cards/{card.pk}/"
        self.send_points(2)
        with self.assertNumQueries(6):  # the card, its monitor and its query
            response = self.client.get(url, headers={"HX-Request": "true"})
        self.assertContains(response, "m1")
        self.send_points(60, offset=100)
        with self.assertNumQueries(6):
            response = self.client.get(url, headers={"HX-Request": "true"})
        self.assertContains(response, "Other")
        self.assertEqual(MetricPoint.objects.filter(workspace=self.workspace).count(), 62)

    def test_the_editor_offers_the_metric_names_and_attributes_present(self):
        self.send_points(1)
        self.client.force_login(self.cast["admin"])
        response = self.client.post(
            f"{self.base()}cards/preview/", self.metric_form(), headers={"HX-Request": "true"}
        )
        self.assertContains(response, f'<datalist id="metric-names"><option value="{DURATION}">')
        self.assertContains(response, '<option value="gen_ai.request.model">attribute</option>')
        self.assertContains(response, '<option value="resource.service.name">resource attribute</option>')
        self.assertContains(response, "data-preview")
        page = self.client.get(f"{self.base()}cards/new/")
        self.assertContains(page, 'name="metric_name"')
        self.assertContains(page, '<option value="otlp_metric">OTLP metric</option>')

    def test_an_admin_adds_a_metric_card(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(f"{self.base()}cards/new/", self.metric_form(property="ignored"))
        self.assertEqual(response.status_code, 302)
        card = DashboardCard.objects.get(title="Model latency p95")
        self.assertEqual((card.metric_name, card.property, card.event_name), (DURATION, "", ""))

    def test_the_editor_names_what_a_metric_card_lacks(self):
        self.client.force_login(self.cast["admin"])
        cases = {
            "metric_name": self.metric_form(metric_name=""),
            "aggregation": self.metric_form(aggregation="distinct_count"),
            "kind": self.metric_form(kind="rate", aggregation="sum"),
        }
        for field, data in cases.items():
            with self.subTest(field=field):
                response = self.client.post(f"{self.base()}cards/new/", data)
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.context["form"].has_error(field), response.context["form"].errors)

    def test_last_value_is_for_metrics_only(self):
        self.client.force_login(self.cast["admin"])
        data = form_data(kind="number", aggregation="last", condition_0_property="")
        response = self.client.post(f"{self.base()}cards/new/", data)
        self.assertTrue(response.context["form"].has_error("aggregation"))

    def test_a_metric_card_exports_and_imports_again(self):
        DashboardCard.objects.create(
            dashboard=self.dashboard,
            title="Tokens",
            kind="bar",
            source="otlp_metric",
            metric_name="gen_ai.client.token.usage",
            aggregation="sum",
            breakdown="resource.service.name",
        )
        self.client.force_login(self.cast["admin"])
        exported = self.client.get(f"{self.base()}export/").json()
        self.assertEqual(exported["cards"][0]["metric_name"], "gen_ai.client.token.usage")
        response = self.client.post(
            f"/w/{self.workspace.slug}/metrics/import/", {"text": json.dumps(exported)}
        )
        self.assertEqual(response.status_code, 302)
        copy = DashboardCard.objects.exclude(dashboard=self.dashboard).get()
        self.assertEqual(
            (copy.source, copy.metric_name, copy.breakdown),
            ("otlp_metric", "gen_ai.client.token.usage", "resource.service.name"),
        )
