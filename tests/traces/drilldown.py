"""What the drill-down page tests share: a workspace with its cast, and the checks every page gets."""

from django.test import TestCase

from tests.factories import make_cast, make_workspace

HX = {"HX-Request": "true"}


def hx(target):
    return {"HX-Request": "true", "HX-Target": target}


class DrilldownTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme", name="Acme")
        cls.cast = make_cast(cls.workspace)

    def url(self, path):
        return f"/w/{self.workspace.slug}/{path}"

    def as_(self, who):
        self.client.force_login(self.cast[who])

    def assert_full_page(self, response):
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<html")
        self.assertIn("HX-Request", response.get("Vary", ""))

    def assert_fragment(self, response):
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "<html")
        self.assertIn("HX-Request", response.get("Vary", ""))

    def assert_hidden_from_outsiders(self, path):
        self.as_("outsider")
        self.assertEqual(self.client.get(self.url(path)).status_code, 404)
        self.assertEqual(self.client.get(self.url(path), headers=HX).status_code, 404)
