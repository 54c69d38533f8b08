import importlib
import os
from unittest import mock

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import RequestFactory, TestCase, override_settings

from backoffice import settings as project_settings
from backoffice.api_auth import api_key_view
from backoffice.ratelimit import ingest_rate_limited
from tests.events import event, post_batch
from tests.factories import make_api_key, make_member, make_workspace

PASSWORD = "correct horse battery staple"


class SecurityHeaderTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.user = make_member(cls.workspace)

    def test_pages_carry_a_csp_without_inline_scripts_and_the_other_headers(self):
        self.client.force_login(self.user)
        response = self.client.get(f"/w/{self.workspace.slug}/")
        csp = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        self.assertEqual(csp["script-src"], "'self'")
        self.assertEqual(csp["style-src"], "'self'")
        self.assertEqual(csp["frame-ancestors"], "'none'")
        self.assertEqual(csp["object-src"], "'none'")
        self.assertNotIn("unsafe-inline", csp["script-src"] + csp["default-src"])
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response["Referrer-Policy"], "same-origin")
        self.assertEqual(response["X-Frame-Options"], "DENY")

    def test_pages_have_no_inline_script_and_htmx_injects_no_style(self):
        self.client.force_login(self.user)
        body = self.client.get(f"/w/{self.workspace.slug}/").content.decode()
        self.assertNotRegex(body, r"<script(?![^>]*\bsrc=)[^>]*>")
        self.assertIn('"includeIndicatorStyles": false', body)

    def test_https_settings_follow_the_environment(self):
        with mock.patch.dict(os.environ, {"SECURE_SSL": "1", "BEHIND_PROXY": "1", "SECRET_KEY": "x"}):
            secure = importlib.reload(project_settings)
        try:
            self.assertTrue(
                secure.SESSION_COOKIE_SECURE and secure.CSRF_COOKIE_SECURE and secure.SECURE_SSL_REDIRECT
            )
            self.assertEqual(secure.SECURE_HSTS_SECONDS, 31_536_000)
            self.assertEqual(secure.SECURE_PROXY_SSL_HEADER, ("HTTP_X_FORWARDED_PROTO", "https"))
        finally:
            importlib.reload(project_settings)

    def test_hsts_is_sent_over_https_only(self):
        self.client.force_login(self.user)
        with override_settings(SECURE_HSTS_SECONDS=3600):
            self.assertNotIn("Strict-Transport-Security", self.client.get(f"/w/{self.workspace.slug}/"))
            response = self.client.get(f"/w/{self.workspace.slug}/", secure=True)
            self.assertEqual(response["Strict-Transport-Security"], "max-age=3600")

    def test_a_bad_cache_url_stops_the_start(self):
        from django.core.exceptions import ImproperlyConfigured

        with self.assertRaisesMessage(ImproperlyConfigured, "CACHE_URL must start with"):
            project_settings.cache_from_url("memcache://x")


class LoginThrottleTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = get_user_model().objects.create_user("ada", password=PASSWORD)

    def attempt(self, password, username="ada", address="10.0.0.1"):
        return self.client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)

    @override_settings(LOGIN_FAILURES_PER_USER=3)
    def test_guessing_a_password_is_throttled_with_429(self):
        for _ in range(3):
            self.assertEqual(self.attempt("wrong").status_code, 200)
        response = self.attempt(PASSWORD)
        self.assertContains(response, "Too many failed log-in attempts", status_code=429)
        self.assertGreater(int(response["Retry-After"]), 0)
        self.assertNotIn("_auth_user_id", self.client.session)

    @override_settings(LOGIN_FAILURES_PER_USER=3)
    def test_the_throttle_is_per_username_and_address(self):
        for _ in range(3):
            self.attempt("wrong")
        self.assertEqual(self.attempt(PASSWORD, address="10.0.0.2").status_code, 302)

    @override_settings(LOGIN_FAILURES_PER_USER=100, LOGIN_FAILURES_PER_ADDRESS=4)
    def test_one_address_guessing_many_usernames_is_throttled(self):
        for name in ("a", "b", "c", "d"):
            self.attempt("wrong", username=name)
        self.assertEqual(self.attempt(PASSWORD).status_code, 429)

    @override_settings(LOGIN_FAILURES_PER_USER=2)
    def test_the_admin_log_in_is_throttled_too(self):
        for _ in range(2):
            self.client.post(
                "/admin/login/", {"username": "ada", "password": "wrong"}, REMOTE_ADDR="10.0.0.1"
            )
        response = self.client.post(
            "/admin/login/", {"username": "ada", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
        )
        self.assertContains(response, "Too many failed log-in attempts")

    def test_a_right_password_logs_in(self):
        self.assertEqual(self.attempt(PASSWORD).status_code, 302)


class IngestRateLimitTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)
        _, cls.other_key = make_api_key(cls.workspace)

    @override_settings(INGEST_RATE_PER_MINUTE=2)
    def test_the_ingest_answers_429_with_retry_after_per_key(self):
        for _ in range(2):
            self.assertEqual(
                post_batch(self.client, self.key, [event("track", {"name": "x"})]).status_code, 200
            )
        response = post_batch(self.client, self.key, [event("track", {"name": "x"})])
        self.assertEqual(response.status_code, 429)
        self.assertIn("at most 2 ingest requests per minute", response.json()["detail"])
        self.assertTrue(1 <= int(response["Retry-After"]) <= 60)
        self.assertEqual(
            post_batch(self.client, self.other_key, [event("track", {"name": "y"})]).status_code, 200
        )

    @override_settings(INGEST_RATE_PER_MINUTE=0)
    def test_zero_turns_the_limit_off(self):
        for _ in range(3):
            self.assertEqual(
                post_batch(self.client, self.key, [event("track", {"name": "x"})]).status_code, 200
            )

    @override_settings(INGEST_RATE_PER_MINUTE=1)
    def test_plain_views_reuse_the_key_check_and_the_limit(self):
        @api_key_view
        @ingest_rate_limited
        def otlp_like(request):
            return HttpResponse(f"ok {request.workspace.slug}")

        self.assertTrue(otlp_like.api_key_required)
        self.assertFalse(otlp_like.login_required)
        factory = RequestFactory()
        self.assertEqual(otlp_like(factory.post("/v1/traces")).status_code, 401)
        signed = {"headers": {"Authorization": f"Bearer {self.key}"}}
        self.assertEqual(
            otlp_like(factory.post("/v1/traces", **signed)).content.decode(), f"ok {self.workspace.slug}"
        )
        limited = otlp_like(factory.post("/v1/traces", **signed))
        self.assertEqual(limited.status_code, 429)
        self.assertIn("Retry-After", limited)
