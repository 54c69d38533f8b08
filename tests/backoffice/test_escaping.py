"""Names and payloads holding markup, control characters, very long text and mixed scripts render as
text on every page of the project: the walk fetches them all (tests/urlwalk.py)."""

from django.test import TestCase

from backoffice.models import Membership, Role
from tests.factories import make_user
from tests.urlwalk import fill, routes
from tests.world import make_world

MARKUP = "<script>alert('x')</script><img src=x onerror=alert(1)>\"'><svg onload=alert(2)>&amp;"
MIXED = "\u202eRTL Ωμέγα кириллица العربية 漢字 🙂 e\u0301"
CONTROL = "\x01\x07\x1b[31m\x7f\u200b"
NASTY = f"{MARKUP} {MIXED} {CONTROL} " + "long" * 5000
UNESCAPED = ("<script>alert", "<img src=x", "<svg onload")


class EscapingTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.world = make_world(NASTY)
        nasty_user = make_user(username=f"<b>{MARKUP}</b>"[:150], email="x@example.com")
        Membership.objects.create(user=nasty_user, workspace=cls.world["target"], role=Role.VIEWER)

    def assert_escaped(self, response, url):
        self.assertLess(response.status_code, 500, url)
        body = response.content.decode()
        for marker in UNESCAPED:
            self.assertNotIn(marker, body, f"{url} shows {marker!r} unescaped")

    def test_every_page_renders_markup_in_data_as_text(self):
        self.client.force_login(self.world["target_admin"])
        checked = 0
        for route in routes():
            if route.policy not in ("workspace", "personal", "public"):
                continue
            url, _ = fill(route, self.world["target"])
            for headers in ({}, {"HX-Request": "true"}):
                response = self.client.get(url, headers=headers)
                if response.get("Content-Type", "").startswith("text/html"):
                    self.assert_escaped(response, url)
                    checked += 1
        self.assertGreater(checked, 10)

    def test_the_data_really_reached_the_pages(self):
        self.client.force_login(self.world["target_admin"])
        response = self.client.get(f"/w/{self.world['target'].slug}/settings/members/")
        self.assertContains(response, "&lt;b&gt;&lt;script&gt;alert(")
        self.assertContains(response, "Team &lt;script&gt;")

    def test_the_api_answers_json_never_html(self):
        key = {"headers": {"Authorization": f"Bearer {self.world['target_key']}"}}
        for route in routes():
            if route.policy != "api_key":
                continue
            url, _ = fill(route, self.world["target"])
            response = self.client.get(url, **key)
            self.assertLess(response.status_code, 500, url)
            if response.status_code == 200:
                # JSON, or JSON Lines for an export's default format
                json_types = ("application/json", "application/x-ndjson")
                self.assertTrue(response["Content-Type"].startswith(json_types), url)
                self.assertEqual(response["X-Content-Type-Options"], "nosniff")
