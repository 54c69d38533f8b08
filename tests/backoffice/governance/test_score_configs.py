from django.test import TestCase

from backoffice.models import AuditEntry
from tests.factories import make_cast, make_score_config, make_workspace
from traces.models import ScoreConfig


class ScoreConfigSettingsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.foreign = make_score_config(cls.cast["other_workspace"], name="elsewhere")

    def as_admin(self):
        self.client.force_login(self.cast["admin"])

    def test_an_admin_adds_a_categorical_config_and_it_is_audited(self):
        self.as_admin()
        data = {
            "name": "tone",
            "data_type": "categorical",
            "categories": "ok\ncurt\nrude = 5",
            "description": "",
        }
        response = self.client.post("/w/acme/settings/scores/new/", data)
        self.assertRedirects(response, "/w/acme/settings/scores/")
        config = ScoreConfig.objects.get(workspace=self.workspace)
        expected = [
            {"label": "ok", "value": 0},
            {"label": "curt", "value": 1},
            {"label": "rude", "value": 5.0},
        ]
        self.assertEqual(config.categories, expected)
        self.assertEqual(AuditEntry.objects.get().action, "score_config.created")
        page = self.client.get("/w/acme/settings/scores/")
        self.assertContains(page, "<code>tone</code>")
        self.assertNotContains(page, "elsewhere")

    def test_a_config_that_contradicts_itself_is_shown_again_naming_the_field(self):
        self.as_admin()
        response = self.client.post(
            "/w/acme/settings/scores/new/",
            {"name": "x", "data_type": "numeric", "min_value": "5", "max_value": "1"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("max_value", response.context["form"].errors)
        response = self.client.post("/w/acme/settings/scores/new/", {"name": "y", "data_type": "categorical"})
        self.assertIn("categories", response.context["form"].errors)
        self.assertFalse(ScoreConfig.objects.filter(workspace=self.workspace).exists())

    def test_archiving_is_audited_and_another_workspaces_config_is_404(self):
        self.as_admin()
        config = make_score_config(self.workspace, name="helpfulness")
        self.client.post(f"/w/acme/settings/scores/{config.pk}/archive/")
        config.refresh_from_db()
        self.assertTrue(config.archived)
        self.assertEqual(AuditEntry.objects.get().changes, {"archived": [False, True]})
        self.assertEqual(
            self.client.post(f"/w/acme/settings/scores/{self.foreign.pk}/archive/").status_code, 404
        )

    def test_reviewers_cannot_manage_configs(self):
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.get("/w/acme/settings/scores/").status_code, 403)
        self.assertEqual(self.client.post("/w/acme/settings/scores/new/", {"name": "x"}).status_code, 403)
