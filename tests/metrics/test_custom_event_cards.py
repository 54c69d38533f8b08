"""Cards over a workspace's custom events, as over business events: a type, its body's properties."""

from django.test import TestCase

from metrics.engine import evaluate
from metrics.models import Dashboard, DashboardCard
from tests.events import event
from tests.factories import make_cast, make_workspace
from tests.metrics.test_card_edit import form_data
from traces.ingest import ingest_batch
from traces.models import EventType


def card(**fields):
    defaults = {
        "title": "t",
        "kind": "number",
        "source": "custom_events",
        "aggregation": "count",
        "time_range": "7d",
    }
    return DashboardCard(**{**defaults, **fields})


class CustomEventCardTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        for name in ("refund", "escalation"):
            EventType.objects.create(workspace=cls.workspace, name=name, schema={"type": "object"})
        results = ingest_batch(
            cls.workspace,
            [
                event("custom.refund", {"run_id": "r-1", "amount": 10, "reason": "late"}),
                event("custom.refund", {"run_id": "r-2", "amount": 5.5, "reason": "broken"}, at=60),
                event("custom.refund", {"amount": "n/a", "reason": "broken"}, at=120),
                event("custom.escalation", {"run_id": "r-1", "level": 2}, at=30),
                event("track", {"name": "refund", "properties": {"amount": 99}}, at=40),
            ],
        )
        assert all(result["status"] == "accepted" for result in results), results

    def test_a_card_counts_sums_and_filters_one_custom_type(self):
        self.assertEqual(evaluate(card(), self.workspace).value, 4)
        self.assertEqual(evaluate(card(event_name="custom.refund"), self.workspace).value, 3)
        total = evaluate(
            card(event_name="custom.refund", aggregation="sum", property="amount"), self.workspace
        )
        self.assertEqual((total.value, total.skipped), (15.5, 1))
        late = [{"property": "reason", "operator": "eq", "value": "late"}]
        self.assertEqual(evaluate(card(event_name="custom.refund", filters=late), self.workspace).value, 1)
        by_type = evaluate(card(kind="pie", breakdown="$type"), self.workspace)
        self.assertEqual(
            sorted((series.label, series.values) for series in by_type.series),
            [("custom.escalation", [1.0]), ("custom.refund", [3.0])],
        )

    def test_the_card_editor_offers_the_types_and_their_properties(self):
        dashboard = Dashboard.objects.create(
            workspace=self.workspace, slug="ops", name="Ops", is_default=True
        )
        self.client.force_login(self.cast["admin"])
        url = f"/w/{self.workspace.slug}/metrics/ops/cards/new/"
        data = form_data(source="custom_events", event_name="refund", aggregation="count", title="Refunds")
        response = self.client.post(url, data)
        self.assertContains(response, "A custom event type is named custom.&lt;name&gt;")
        # The form, shown again, suggests the defined types; properties come from the type's bodies.
        self.assertContains(response, '<option value="custom.refund">')
        response = self.client.post(url, {**data, "event_name": "custom.refund", "aggregation": "sum"})
        self.assertContains(response, '<option value="amount"')
        self.assertNotContains(response, '<option value="level"')
        self.client.post(url, {**data, "event_name": "custom.refund"})
        saved = DashboardCard.objects.get(dashboard=dashboard)
        self.assertEqual((saved.source, saved.event_name), ("custom_events", "custom.refund"))
