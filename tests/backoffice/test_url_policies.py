"""Walk every URL of the project as an anonymous visitor, an outsider, a viewer and a member.

The walk reads the urlconf (tests/urlwalk.py), so a page added anywhere is checked here, and a URL
whose view declares no access policy fails the first test.
"""

from django.test import SimpleTestCase, TestCase, override_settings

from backoffice.models import ROLE_ORDER, Role
from tests.urlwalk import fill, param_value, routes
from tests.world import make_world

METHODS = ("get", "post")


def is_login_redirect(response):
    return response.status_code == 302 and response["Location"].startswith("/login/")


class UrlPolicyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.world = make_world()
        cls.routes = routes()

    def of_policy(self, policy):
        return [r for r in self.routes if r.policy == policy]

    def call(self, method, url, **extra):
        return getattr(self.client, method)(url, **extra)

    def expect(self, routes, make_url, allowed, needed, **extra):
        """Each method answers a status in `allowed`, and at least one answers `needed`."""
        wrong = []
        for route in routes:
            url = make_url(route)
            if url is None:
                continue
            statuses = [self.call(method, url, **extra).status_code for method in METHODS]
            if not set(statuses) <= allowed or needed not in statuses:
                wrong.append(f"{route.name or route.route}: {url} answered {statuses}")
        self.assertEqual(wrong, [], f"expected {needed}")

    def target_url(self, route):
        return fill(route, self.world["target"])[0]

    def test_every_url_declares_an_access_policy(self):
        undecided = [f"{r.name or '?'} /{r.route}" for r in self.routes if r.policy is None]
        self.assertEqual(
            undecided, [], "mark these views (workspace_view, login_not_required, api_key_view…)"
        )
        unscoped = [r.route for r in self.routes if "workspace" in r.params and r.policy != "workspace"]
        self.assertEqual(unscoped, [], "a URL naming a workspace must use workspace_view")

    def test_the_walk_finds_pages_of_every_kind(self):
        policies = {r.policy for r in self.routes}
        self.assertLessEqual({"workspace", "api_key", "public", "personal", "django"}, policies)
        self.assertIn("governance:members", {r.name for r in self.routes})

    def test_anonymous_visitors_are_sent_to_log_in(self):
        not_sent = []
        for route in self.of_policy("workspace") + self.of_policy("personal"):
            url = self.target_url(route)
            for method in METHODS:
                response = self.call(method, url)
                if not is_login_redirect(response):
                    not_sent.append(f"{method.upper()} {url}: {response.status_code}")
        self.assertEqual(not_sent, [])

    def test_anonymous_api_calls_get_401(self):
        self.expect(self.of_policy("api_key"), self.target_url, {401, 405}, 401)

    def test_public_urls_answer_anonymous_visitors(self):
        for route in self.of_policy("public"):
            url = self.target_url(route)
            response = self.client.get(url)
            self.assertLess(response.status_code, 500, url)
            self.assertFalse(is_login_redirect(response), url)

    def test_outsiders_get_404_for_another_workspace(self):
        self.client.force_login(self.world["home_admin"])
        self.expect(self.of_policy("workspace"), self.target_url, {404, 405}, 404)

    def test_ids_of_another_workspace_get_404_in_your_own(self):
        """An admin of `home` puts `target`'s ids into home's URLs: nothing of target may answer."""
        home, target = self.world["home"], self.world["target"]

        def crossed(route):
            if route.params == ["workspace"] or not route.params:
                return None
            values = {}
            for name in route.params:
                workspace = home if name == "workspace" else target
                values[name], real = param_value(name, route.converters.get(name), workspace)
                if not real:
                    return None
            return route.url(values)

        self.client.force_login(self.world["home_admin"])
        self.expect(self.of_policy("workspace"), crossed, {404, 405}, 404)
        key = {"headers": {"Authorization": f"Bearer {self.world['home_key']}"}}
        self.expect(self.of_policy("api_key"), crossed, {404, 405}, 404, **key)

    def test_viewers_get_403_where_a_higher_role_is_needed(self):
        above_viewer = [r for r in self.of_policy("workspace") if r.callback.required_role != Role.VIEWER]
        self.assertTrue(above_viewer)
        self.client.force_login(self.world["target_viewer"])
        self.expect(above_viewer, self.target_url, {403, 405}, 403)

    def test_members_with_the_role_get_every_page_of_their_workspace(self):
        self.client.force_login(self.world["target_admin"])
        broken = []
        for route in self.of_policy("workspace"):
            self.assertIn(route.callback.required_role, ROLE_ORDER)
            url, real = fill(route, self.world["target"])
            for headers in ({}, {"HX-Request": "true"}):
                status = self.client.get(url, headers=headers).status_code
                if status >= 500 or status == 403 or (real and status == 404):
                    broken.append(f"GET {url} {headers}: {status}")
        self.assertEqual(broken, [])

    def test_api_keys_read_their_own_workspace(self):
        key = {"headers": {"Authorization": f"Bearer {self.world['target_key']}"}}
        for route in self.of_policy("api_key"):
            url, real = fill(route, self.world["target"])
            status = self.client.get(url, **key).status_code
            self.assertLess(status, 500, url)
            if real:
                self.assertIn(status, {200, 405}, url)


class UndecidedUrlTests(SimpleTestCase):
    @override_settings(ROOT_URLCONF="tests.backoffice.undecided_urls")
    def test_a_view_without_a_policy_is_found(self):
        undecided = [r.route for r in routes() if r.policy is None]
        self.assertEqual(undecided, ["w/<slug:workspace>/forgotten/"])
