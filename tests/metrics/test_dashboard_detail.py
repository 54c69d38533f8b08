from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from metrics.dashboards import DEFAULT_CARDS, default_dashboard
from metrics.models import Dashboard, DashboardCard
from tests.factories import make_cast, make_run, make_workspace


def url(workspace, dashboard=None):
    return f"/w/{workspace.slug}/metrics/" + (f"{dashboard}/" if dashboard else "")


class DashboardDetailTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def test_a_new_workspace_starts_with_the_default_dashboard(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(url(self.workspace))
        self.assertContains(response, "<html")
        dashboard = Dashboard.objects.get(workspace=self.workspace)
        self.assertTrue(dashboard.is_default)
        titles = list(dashboard.cards.values_list("title", flat=True))
        self.assertEqual(titles, [card["title"] for card in DEFAULT_CARDS])
        for title in ("Run failure rate per day", "p95 run duration", "Tool failure rate", "LLM error rate"):
            self.assertIn(title, titles)

    def test_creating_the_default_dashboard_is_idempotent(self):
        first = default_dashboard(self.workspace)
        self.client.force_login(self.cast["viewer"])
        self.client.get(url(self.workspace))
        self.assertEqual(default_dashboard(self.workspace), first)
        self.assertEqual(Dashboard.objects.filter(workspace=self.workspace).count(), 1)
        self.assertEqual(DashboardCard.objects.filter(dashboard=first).count(), len(DEFAULT_CARDS))

    def test_each_card_loads_through_its_own_request(self):
        dashboard = default_dashboard(self.workspace)
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(url(self.workspace))
        for card in dashboard.cards.exclude(hide_without_data=True):
            self.assertContains(
                response, f'hx-get="/w/{self.workspace.slug}/metrics/overview/cards/{card.pk}/"'
            )
        self.assertContains(response, 'hx-trigger="load"')

    def test_the_business_events_card_waits_for_business_events(self):
        default_dashboard(self.workspace)
        self.client.force_login(self.cast["viewer"])
        self.assertNotContains(self.client.get(url(self.workspace)), "Business events per day")
        self.client.force_login(self.cast["admin"])
        self.assertContains(
            self.client.get(url(self.workspace)), "Hidden from the dashboard until there are business events"
        )

    def test_viewers_and_reviewers_see_no_edit_controls(self):
        default_dashboard(self.workspace)
        for role in ("viewer", "reviewer"):
            self.client.force_login(self.cast[role])
            response = self.client.get(url(self.workspace))
            self.assertNotContains(response, "Add card")
            self.assertNotContains(response, "/edit/")
            self.assertNotContains(response, "data-sortable")

    def test_admins_see_the_edit_controls(self):
        default_dashboard(self.workspace)
        self.client.force_login(self.cast["admin"])
        response = self.client.get(url(self.workspace))
        self.assertContains(response, "Add card")
        self.assertContains(response, "/edit/")
        self.assertContains(response, "data-sortable")

    def test_it_hides_dashboards_from_outsiders(self):
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(url(self.workspace)).status_code, 404)
        Dashboard.objects.create(workspace=self.cast["other_workspace"], slug="secret", name="Secret")
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.client.get(url(self.workspace, "secret")).status_code, 404)
        self.assertEqual(self.client.get(url(self.cast["other_workspace"], "secret")).status_code, 404)

    def test_htmx_gets_the_grid_only_with_the_range_passed_to_every_card(self):
        default_dashboard(self.workspace)
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(
            url(self.workspace) + "?range=30d&refresh=60", headers={"HX-Request": "true"}
        )
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'id="grid"')
        self.assertContains(response, "?range=30d&amp;refresh=60")
        self.assertContains(response, "load, every 60s")

    def test_a_bad_range_is_a_400_naming_the_field(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(url(self.workspace) + "?range=2y")
        self.assertContains(response, "range", status_code=400)
        response = self.client.get(url(self.workspace) + "?range=custom&start=2026-11-10")
        self.assertContains(response, "end", status_code=400)

    def test_it_takes_the_same_queries_whatever_the_data(self):
        default_dashboard(self.workspace)
        self.client.force_login(self.cast["admin"])
        for _ in range(2):
            make_run(self.workspace, started_at=timezone.now() - timedelta(hours=1))
        with self.assertNumQueries(6):
            self.client.get(url(self.workspace))
        for _ in range(18):
            make_run(self.workspace, started_at=timezone.now() - timedelta(hours=1))
        with self.assertNumQueries(6):
            self.client.get(url(self.workspace))

    def test_it_opens_another_dashboard_by_its_slug(self):
        default_dashboard(self.workspace)
        Dashboard.objects.create(workspace=self.workspace, slug="costs", name="Costs")
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(url(self.workspace, "costs"))
        self.assertContains(response, "This dashboard has no cards yet")
        self.assertContains(response, 'aria-current="page">Costs')
