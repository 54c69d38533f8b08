import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from metrics.dashboards import CARD_FIELDS, default_dashboard
from metrics.models import Dashboard
from tests.factories import make_cast, make_workspace


class ExportImportTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.dashboard = default_dashboard(cls.workspace)

    def export(self):
        response = self.client.get(f"/w/{self.workspace.slug}/metrics/overview/export/")
        self.assertEqual(response["Content-Disposition"], 'attachment; filename="dashboard-overview.json"')
        return response.json()

    def test_a_viewer_exports_a_dashboard_as_json(self):
        self.client.force_login(self.cast["viewer"])
        exported = self.export()
        self.assertEqual(exported["format"], "backoffice.dashboard")
        self.assertEqual(exported["name"], "Overview")
        self.assertEqual(len(exported["cards"]), self.dashboard.cards.count())
        self.assertEqual(set(exported["cards"][0]), set(CARD_FIELDS))

    def test_an_export_imports_again_as_an_equal_dashboard(self):
        self.client.force_login(self.cast["admin"])
        exported = self.export()
        upload = SimpleUploadedFile("dashboard.json", json.dumps(exported).encode(), "application/json")
        response = self.client.post(f"/w/{self.workspace.slug}/metrics/import/", {"file": upload})
        imported = Dashboard.objects.get(workspace=self.workspace, slug="overview-2")
        self.assertRedirects(
            response, f"/w/{self.workspace.slug}/metrics/overview-2/", fetch_redirect_response=False
        )
        self.assertFalse(imported.is_default)
        again = self.client.get(f"/w/{self.workspace.slug}/metrics/overview-2/export/").json()
        self.assertEqual(again["cards"], exported["cards"])

    def test_it_imports_pasted_json_into_another_workspace(self):
        self.client.force_login(self.cast["admin"])
        exported = self.export()
        other = make_workspace()
        from backoffice.models import Membership, Role

        Membership.objects.create(user=self.cast["admin"], workspace=other, role=Role.ADMIN)
        self.client.post(f"/w/{other.slug}/metrics/import/", {"text": json.dumps(exported)})
        self.assertEqual(Dashboard.objects.get(workspace=other).cards.count(), len(exported["cards"]))

    def test_a_broken_import_names_what_is_wrong_and_stores_nothing(self):
        self.client.force_login(self.cast["admin"])
        exported = self.export()
        exported["cards"][1]["aggregation"] = "median"
        exported["cards"][2]["property"] = "mood"
        exported["cards"][2]["aggregation"] = "sum"
        cases = [
            ("not json", "This is not valid JSON"),
            (json.dumps({"format": "other"}), "This is not a dashboard export"),
            (json.dumps(exported), "Card 2 “p95 run duration”, aggregation"),
            (json.dumps(exported), "Card 3 “Tool failure rate”, property: Tasks have no property “mood”"),
        ]
        for text, message in cases:
            with self.subTest(message=message):
                response = self.client.post(f"/w/{self.workspace.slug}/metrics/import/", {"text": text})
                self.assertContains(response, message)
        self.assertEqual(Dashboard.objects.filter(workspace=self.workspace).count(), 1)

    def test_the_import_page_is_for_admins(self):
        self.client.force_login(self.cast["admin"])
        self.assertContains(
            self.client.get(f"/w/{self.workspace.slug}/metrics/import/"), "Import a dashboard"
        )
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.client.get(f"/w/{self.workspace.slug}/metrics/import/").status_code, 403)


class DashboardManagementTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.overview = default_dashboard(cls.workspace)

    def test_an_admin_creates_renames_and_makes_a_dashboard_the_default(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(f"/w/{self.workspace.slug}/metrics/new/", {"name": "Costs & tokens"})
        self.assertRedirects(
            response, f"/w/{self.workspace.slug}/metrics/costs-tokens/", fetch_redirect_response=False
        )
        self.client.post(
            f"/w/{self.workspace.slug}/metrics/costs-tokens/settings/", {"name": "Spend", "is_default": "1"}
        )
        spend = Dashboard.objects.get(slug="costs-tokens")
        self.assertEqual((spend.name, spend.is_default), ("Spend", True))
        self.overview.refresh_from_db()
        self.assertFalse(self.overview.is_default)
        self.assertContains(
            self.client.get(f"/w/{self.workspace.slug}/metrics/"), 'aria-current="page">Spend'
        )

    def test_a_dashboard_named_like_a_page_gets_another_slug(self):
        self.client.force_login(self.cast["admin"])
        self.client.post(f"/w/{self.workspace.slug}/metrics/new/", {"name": "Import"})
        self.assertTrue(Dashboard.objects.filter(workspace=self.workspace, slug="import-dashboard").exists())

    def test_deleting_the_default_makes_another_one_the_default(self):
        Dashboard.objects.create(workspace=self.workspace, slug="spend", name="Spend")
        self.client.force_login(self.cast["admin"])
        self.client.post(f"/w/{self.workspace.slug}/metrics/overview/delete/")
        self.assertTrue(Dashboard.objects.get(slug="spend").is_default)
        self.assertFalse(Dashboard.objects.filter(pk=self.overview.pk).exists())

    def test_an_empty_name_re_renders_the_form(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(f"/w/{self.workspace.slug}/metrics/new/", {"name": ""})
        self.assertContains(response, "This field is required")
