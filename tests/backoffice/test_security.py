import os
import runpy
import subprocess
import sys
from pathlib import Path
from unittest import mock

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import RequestFactory, TestCase, override_settings

from backoffice import settings as project_settings
from backoffice.api_auth import api_key_view
from backoffice.proxy import client_address
from backoffice.ratelimit import ingest_rate_limited
from tests.events import event, post_batch
from tests.factories import make_api_key, make_member, make_workspace

PASSWORD = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[2]
# What the suite's environment sets for itself (tests/environment.py): each test here says its own.
DEPLOYMENT_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL",
    "BEHIND_PROXY",
    "METRICS_TOKEN",
    "METRICS_PUBLIC",
)


def settings_environment(values):
    # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests for their own process; no deployment has it.
    dropped = (*DEPLOYMENT_VARIABLES, "DJANGO_ALLOW_ASYNC_UNSAFE")
    kept = {name: value for name, value in os.environ.items() if name not in dropped}
    return {**kept, **values}


def settings_under(**values):
    """The upper-case names backoffice.settings defines under `values` (and no other deployment variable)."""
    with mock.patch.dict(os.environ, settings_environment(values), clear=True):
        names = runpy.run_path(project_settings.__file__)
    return {name: value for name, value in names.items() if name.isupper()}


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

    def test_outside_debug_the_site_is_https_only_by_default(self):
        secure = settings_under(SECRET_KEY="x")
        self.assertTrue(secure["SESSION_COOKIE_SECURE"] and secure["CSRF_COOKIE_SECURE"])
        self.assertTrue(secure["SECURE_SSL_REDIRECT"])
        self.assertEqual(secure["SECURE_HSTS_SECONDS"], 31_536_000)
        self.assertEqual(secure["SECURE_REDIRECT_EXEMPT"], [r"^health$"])
        self.assertNotIn("SECURE_PROXY_SSL_HEADER", secure)

    def test_an_operator_serving_plain_http_says_so_with_secure_ssl_0(self):
        plain = settings_under(SECRET_KEY="x", SECURE_SSL="0")
        for name in (
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
        ):
            self.assertNotIn(name, plain)

    def test_debug_serves_plain_http_unless_told_otherwise(self):
        self.assertNotIn("SECURE_SSL_REDIRECT", settings_under(DEBUG="1"))
        self.assertTrue(settings_under(DEBUG="1", SECURE_SSL="1")["SECURE_SSL_REDIRECT"])

    def test_behind_a_proxy_its_forwarded_proto_says_whether_the_request_is_https(self):
        proxied = settings_under(SECRET_KEY="x", BEHIND_PROXY="1")
        self.assertEqual(proxied["SECURE_PROXY_SSL_HEADER"], ("HTTP_X_FORWARDED_PROTO", "https"))

    @override_settings(SECURE_SSL_REDIRECT=True, SECURE_REDIRECT_EXEMPT=[r"^health$"])
    def test_plain_http_is_redirected_to_https_except_the_health_probe(self):
        response = self.client.get("/login/")
        self.assertEqual(response.status_code, 301)
        self.assertEqual(response["Location"], "https://testserver/login/")
        self.assertEqual(self.client.get("/login/", secure=True).status_code, 200)
        self.assertEqual(self.client.get("/health").status_code, 200)

    @override_settings(SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"))
    def test_a_request_the_proxy_received_over_https_is_served(self):
        self.assertEqual(self.client.get("/login/", headers={"X-Forwarded-Proto": "https"}).status_code, 200)
        self.assertEqual(self.client.get("/login/", headers={"X-Forwarded-Proto": "http"}).status_code, 301)

    def test_the_production_like_environment_passes_check_deploy_without_a_warning(self):
        env = {
            "DEBUG": "0",
            "SECRET_KEY": "k" * 20 + "-deploy-check-only-0123456789abcdefghij",
            "ALLOWED_HOSTS": "backoffice.example.com",
            "DATABASE_URL": "sqlite:///:memory:",
        }
        result = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            env={**settings_environment(env), "DJANGO_SETTINGS_MODULE": "backoffice.settings"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        self.assertIn("no issues", result.stdout)

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


class ClientAddressTests(TestCase):
    def request(self, forwarded):
        return RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)

    def test_without_a_proxy_the_forwarded_header_is_the_clients_claim_and_ignored(self):
        self.assertEqual(client_address(self.request("203.0.113.7")), "10.0.0.9")

    @override_settings(BEHIND_PROXY=True)
    def test_behind_a_proxy_the_address_it_appended_is_the_clients(self):
        self.assertEqual(client_address(self.request("198.51.100.1, 203.0.113.7")), "203.0.113.7")
        self.assertEqual(client_address(self.request("2001:db8::1")), "2001:db8::1")

    @override_settings(BEHIND_PROXY=True)
    def test_behind_a_proxy_a_missing_or_garbled_header_falls_back_to_the_connection(self):
        self.assertEqual(client_address(self.request("")), "10.0.0.9")
        self.assertEqual(client_address(self.request("203.0.113.7, not-an-address")), "10.0.0.9")

    @override_settings(BEHIND_PROXY=True, LOGIN_FAILURES_PER_USER=100, LOGIN_FAILURES_PER_ADDRESS=2)
    def test_behind_a_proxy_log_ins_are_throttled_per_client_not_per_proxy(self):
        get_user_model().objects.create_user("ada", password=PASSWORD)

        def attempt(client_ip, given="wrong"):
            return self.client.post(
                "/login/",
                {"username": "ada", "password": given},
                REMOTE_ADDR="10.0.0.9",
                HTTP_X_FORWARDED_FOR=client_ip,
            )

        for _ in range(2):
            attempt("203.0.113.7")
        self.assertEqual(attempt("203.0.113.7", PASSWORD).status_code, 429)
        self.assertEqual(attempt("203.0.113.8", PASSWORD).status_code, 302)


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
