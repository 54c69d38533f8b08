from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from metrics.models import Dashboard, DashboardCard, TrackedEvent
from tests.factories import make_cast, make_run, make_workspace


def form_data(**overrides):
    data = {
        "title": "Refund rate",
        "kind": "rate",
        "source": "runs",
        "event_name": "",
        "aggregation": "rate",
        "property": "",
        "breakdown": "",
        "breakdown_limit": "5",
        "time_range": "7d",
        "bucket": "day",
        "colour": "red",
        "width": "1",
        "height": "1",
        "threshold_direction": "above",
        "condition_0_property": "status",
        "condition_0_operator": "eq",
        "condition_0_value": "failed",
    }
    return {**data, **overrides}


class CardEditingTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.dashboard = Dashboard.objects.create(
            workspace=cls.workspace, slug="ops", name="Ops", is_default=True
        )
        cls.cards = [
            DashboardCard.objects.create(dashboard=cls.dashboard, title=title, position=index)
            for index, title in enumerate(["First", "Second", "Third"])
        ]
        make_run(cls.workspace, status="failed", started_at=timezone.now() - timedelta(hours=1))
        TrackedEvent.objects.create(
            workspace=cls.workspace,
            event_id="e1",
            name="refund_requested",
            properties={"amount": 12, "reason": "late"},
            timestamp=timezone.now() - timedelta(hours=1),
        )

    def base(self):
        return f"/w/{self.workspace.slug}/metrics/ops/"

    def card_url(self, card, action):
        return f"{self.base()}cards/{card.pk}/{action}/"

    def titles(self):
        return list(self.dashboard.cards.values_list("title", flat=True))

    def test_an_admin_adds_a_card_at_the_end(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(f"{self.base()}cards/new/", form_data())
        card = DashboardCard.objects.get(title="Refund rate")
        self.assertRedirects(response, f"{self.base()}#card-{card.pk}", fetch_redirect_response=False)
        self.assertEqual(self.titles(), ["First", "Second", "Third", "Refund rate"])
        self.assertEqual(card.condition, [{"property": "status", "operator": "eq", "value": "failed"}])
        self.assertEqual(card.filters, [])

    def test_the_form_page_offers_names_found_in_the_data(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.get(f"{self.base()}cards/new/")
        self.assertContains(response, "<html")
        self.assertContains(response, '<option value="refund_requested">')
        self.assertContains(response, '<option value="duration_ms">Duration</option>')
        preview = self.client.post(
            f"{self.base()}cards/preview/",
            form_data(source="events", event_name="refund_requested", kind="number", aggregation="count"),
            headers={"HX-Request": "true"},
        )
        self.assertContains(preview, '<option value="amount">property</option>')
        self.assertContains(preview, '<option value="reason">property</option>')
        self.assertNotContains(preview, "<html")

    def test_the_preview_computes_the_card_as_it_stands(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(
            f"{self.base()}cards/preview/", form_data(), headers={"HX-Request": "true"}
        )
        self.assertContains(response, "100.0 %")
        self.assertContains(response, "data-preview")

    def test_an_invalid_card_re_renders_with_errors_naming_the_field(self):
        self.client.force_login(self.cast["admin"])
        bad = form_data(kind="line", aggregation="sum", property="status", condition_0_property="")
        bad.update(filter_0_property="duration_ms", filter_0_operator="gt", filter_0_value="soon")
        response = self.client.post(f"{self.base()}cards/new/", bad)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "“Status” is not a number")
        self.assertContains(response, "compares numbers: enter a number")
        preview = self.client.post(
            f"{self.base()}cards/preview/", form_data(property="", aggregation="avg", kind="number")
        )
        self.assertContains(preview, "Fix the highlighted fields")
        self.assertContains(preview, "Pick a property.")

    def test_a_rate_needs_a_condition(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(
            f"{self.base()}cards/new/", form_data(condition_0_property="", condition_0_operator="")
        )
        self.assertContains(response, "A rate needs a condition")

    def test_unknown_properties_are_refused(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(f"{self.base()}cards/new/", form_data(kind="bar", breakdown="colour"))
        self.assertContains(response, "Runs have no property “colour”")

    def test_an_admin_edits_a_card(self):
        self.client.force_login(self.cast["admin"])
        card = self.cards[1]
        page = self.client.get(self.card_url(card, "edit"))
        self.assertContains(page, 'value="Second"')
        response = self.client.post(
            self.card_url(card, "edit"), form_data(title="Renamed", width="4", colour="teal")
        )
        self.assertEqual(response.status_code, 302)
        card.refresh_from_db()
        self.assertEqual((card.title, card.width, card.colour, card.kind), ("Renamed", 4, "teal", "rate"))

    def test_an_admin_duplicates_a_card_next_to_it(self):
        self.client.force_login(self.cast["admin"])
        self.client.post(self.card_url(self.cards[0], "duplicate"))
        self.assertEqual(self.titles(), ["First", "First (copy)", "Second", "Third"])

    def test_an_admin_deletes_a_card(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(self.card_url(self.cards[1], "delete"), headers={"HX-Request": "true"})
        self.assertEqual(response["HX-Redirect"], self.base())
        self.assertEqual(self.titles(), ["First", "Third"])

    def test_an_admin_moves_cards_up_and_down(self):
        self.client.force_login(self.cast["admin"])
        self.client.post(self.card_url(self.cards[2], "move"), {"direction": "up"})
        self.assertEqual(self.titles(), ["First", "Third", "Second"])
        self.client.post(self.card_url(self.cards[0], "move"), {"direction": "down"})
        self.assertEqual(self.titles(), ["Third", "First", "Second"])
        response = self.client.post(self.card_url(self.cards[0], "move"), {"direction": "sideways"})
        self.assertContains(response, "direction", status_code=400)

    def test_an_admin_reorders_by_drag_and_drop(self):
        self.client.force_login(self.cast["admin"])
        order = [self.cards[2].pk, self.cards[0].pk, self.cards[1].pk]
        response = self.client.post(f"{self.base()}order/", {"card": order})
        self.assertEqual(response.status_code, 204)
        self.assertEqual(self.titles(), ["Third", "First", "Second"])
        response = self.client.post(f"{self.base()}order/", {"card": order[:2]})
        self.assertContains(response, "card", status_code=400)

    def test_viewers_and_reviewers_are_refused_every_edit_url(self):
        card = self.cards[0]
        posts = [
            (f"{self.base()}cards/new/", form_data()),
            (f"{self.base()}cards/preview/", form_data()),
            (self.card_url(card, "edit"), form_data()),
            (self.card_url(card, "duplicate"), {}),
            (self.card_url(card, "delete"), {}),
            (self.card_url(card, "move"), {"direction": "up"}),
            (f"{self.base()}order/", {"card": [c.pk for c in self.cards]}),
            (f"{self.base()}settings/", {"name": "Mine"}),
            (f"{self.base()}delete/", {}),
            (f"/w/{self.workspace.slug}/metrics/new/", {"name": "Mine"}),
            (f"/w/{self.workspace.slug}/metrics/import/", {"text": "{}"}),
        ]
        for role in ("viewer", "reviewer"):
            self.client.force_login(self.cast[role])
            for url, data in posts:
                with self.subTest(role=role, url=url):
                    self.assertEqual(self.client.post(url, data).status_code, 403)
            self.assertEqual(self.client.get(f"{self.base()}cards/new/").status_code, 403)
            self.assertEqual(self.client.get(self.card_url(card, "edit")).status_code, 403)
        self.assertEqual(self.titles(), ["First", "Second", "Third"])

    def test_outsiders_get_404(self):
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.post(self.card_url(self.cards[0], "delete")).status_code, 404)
        self.assertEqual(self.client.get(f"{self.base()}cards/new/").status_code, 404)
