import os
import subprocess
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase

from backoffice.settings import database_from_url, envbool, envint

ROOT = Path(__file__).resolve().parents[2]


class SettingsParsingTest(SimpleTestCase):
    def setUp(self):
        self.addCleanup(os.environ.pop, "BO_TEST_VALUE", None)

    def test_booleans_accept_the_usual_spellings(self):
        for text, expected in [
            ("1", True),
            ("yes", True),
            ("ON", True),
            ("0", False),
            ("false", False),
            ("", False),
        ]:
            os.environ["BO_TEST_VALUE"] = text
            self.assertIs(envbool("BO_TEST_VALUE", "0"), expected)

    def test_a_bad_boolean_names_the_variable(self):
        os.environ["BO_TEST_VALUE"] = "maybe"
        with self.assertRaisesMessage(ImproperlyConfigured, "BO_TEST_VALUE"):
            envbool("BO_TEST_VALUE", "0")

    def test_a_bad_number_names_the_variable(self):
        os.environ["BO_TEST_VALUE"] = "lots"
        with self.assertRaisesMessage(ImproperlyConfigured, "BO_TEST_VALUE"):
            envint("BO_TEST_VALUE", 1)

    def test_database_urls_for_sqlite_and_postgresql(self):
        self.assertEqual(
            database_from_url("sqlite:////tmp/x.sqlite3")["ENGINE"], "django.db.backends.sqlite3"
        )
        pg = database_from_url("postgres://u:p@db.internal:5433/bo")
        self.assertEqual(
            (pg["ENGINE"], pg["HOST"], pg["PORT"], pg["NAME"]),
            ("django.db.backends.postgresql", "db.internal", 5433, "bo"),
        )

    def test_an_unsupported_database_url_fails_loudly(self):
        for url in ["mysql://x/y", "nonsense"]:
            with self.assertRaisesMessage(ImproperlyConfigured, "DATABASE_URL"):
                database_from_url(url)

    def test_without_a_secret_key_and_without_debug_the_start_fails(self):
        env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-c", "import django; django.setup()"],
            env={**env, "DJANGO_SETTINGS_MODULE": "backoffice.settings"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SECRET_KEY must be set", result.stderr)


class ReadmeCommandsTest(SimpleTestCase):
    def test_the_readme_commands_are_make_targets(self):
        readme = (ROOT / "README.md").read_text()
        makefile = (ROOT / "Makefile").read_text()
        for target in ["run", "test"]:
            self.assertIn(f"make {target}", readme)
            self.assertRegex(makefile, rf"(?m)^{target}:")

    def test_ci_runs_lint_both_databases_and_the_browser(self):
        ci = (ROOT / ".ci" / "run").read_text()
        for part in ["make lint", "sqlite:///", "postgres://", "-m browser", "chromium"]:
            self.assertIn(part, ci)
