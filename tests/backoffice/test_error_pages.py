"""The 403, 404 and 500 pages carry the product's layout, and the navigation when a workspace is open."""

from django.test import RequestFactory, TestCase
from django.views.defaults import server_error

from tests.factories import make_cast, make_workspace


class ErrorPagesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme", name="Acme")
        cls.cast = make_cast(cls.workspace)

    def test_a_missing_row_of_an_open_workspace_is_a_404_with_the_navigation(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get("/w/acme/runs/no-such-run/")
        self.assertContains(response, "Page not found", status_code=404)
        self.assertContains(response, 'href="/w/acme/conversations/"', status_code=404)
        self.assertContains(response, 'class="loading-bar"', status_code=404)

    def test_another_workspace_is_a_404_without_its_navigation(self):
        self.client.force_login(self.cast["outsider"])
        response = self.client.get("/w/acme/runs/")
        self.assertContains(response, "Page not found", status_code=404)
        self.assertNotContains(response, "/w/acme/", status_code=404)

    def test_a_role_too_low_is_a_403_with_the_navigation(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get("/w/acme/settings/members/")
        self.assertContains(response, "open this page", status_code=403)
        self.assertContains(response, 'href="/w/acme/runs/"', status_code=403)

    def test_the_500_page_renders_without_a_request_context_or_the_database(self):
        request = RequestFactory().get("/w/acme/")
        with self.assertNumQueries(0):
            response = server_error(request)
        self.assertEqual(response.status_code, 500)
        self.assertIn("Something went wrong", response.content.decode())
        self.assertIn("/static/css/app.css", response.content.decode())
