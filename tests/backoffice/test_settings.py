import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase

from backoffice.settings import database_from_url, envbool, envint, replicas_from_urls

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

    def test_replica_urls_become_standby_aliases_of_the_primary(self):
        primary = database_from_url("postgres://u@db.internal/bo")
        replicas = replicas_from_urls(["postgres://u@standby-1/bo", "postgres://u@standby-2/bo"], primary)
        self.assertEqual(list(replicas), ["replica_1", "replica_2"])
        self.assertEqual(replicas["replica_2"]["HOST"], "standby-2")
        self.assertEqual(replicas["replica_1"]["TEST"], {"MIRROR": "default"})
        self.assertEqual(replicas_from_urls([], primary), {})

    def test_a_replica_must_be_a_postgresql_standby_of_a_postgresql_primary(self):
        postgres, sqlite = database_from_url("postgres://u@db/bo"), database_from_url("sqlite:///x.sqlite3")
        for url, primary in [("sqlite:///y.sqlite3", postgres), ("postgres://u@standby/bo", sqlite)]:
            with self.assertRaisesMessage(ImproperlyConfigured, "DATABASE_REPLICA_URLS"):
                replicas_from_urls([url], primary)
        with self.assertRaisesMessage(ImproperlyConfigured, "DATABASE_REPLICA_URLS"):
            replicas_from_urls(["mysql://standby/bo"], postgres)


# The variables a deployment sets; each test of an entry point says its own, and reads no .env.
DEPLOYMENT_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL",
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "METRICS_TOKEN",
    "METRICS_PUBLIC",
)


def start(command, **env):
    """Runs `command` in the checkout the way an operator would, with only `env` configured."""
    kept = {name: value for name, value in os.environ.items() if name not in DEPLOYMENT_VARIABLES}
    return subprocess.run(  # noqa: S603
        command,
        env={**kept, "ENV_FILE": "", "DATABASE_URL": "sqlite:///:memory:", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


class EntryPointTest(SimpleTestCase):
    def assert_one_line_naming(self, result, program, variable):
        self.assertNotEqual(result.returncode, 0)
        self.assertNotIn("Traceback", result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.startswith(f"{program}: ")]
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn(variable, lines[0])

    def test_manage_py_without_a_secret_key_says_so_in_one_line(self):
        result = start([sys.executable, "manage.py", "check"])
        self.assert_one_line_naming(result, "manage.py", "SECRET_KEY must be set")
        self.assertEqual(result.stderr.count("\n"), 1)

    def test_manage_py_names_a_bad_value(self):
        result = start([sys.executable, "manage.py", "check"], DEBUG="maybe")
        self.assert_one_line_naming(result, "manage.py", "DEBUG must be one of")

    def test_manage_py_says_in_one_line_that_the_database_does_not_answer(self):
        result = start(
            [sys.executable, "manage.py", "migrate"], DEBUG="1", DATABASE_URL="sqlite:////nonexistent/dir/x"
        )
        self.assert_one_line_naming(result, "manage.py", "DATABASE_URL (/nonexistent/dir/x)")

    def test_manage_py_reads_the_checkouts_env_file_for_what_the_environment_leaves_unset(self):
        with tempfile.TemporaryDirectory() as folder:
            env_file = Path(folder) / ".env"
            env_file.write_text("DEBUG=1\nSECRET_KEY=from-the-file\nALLOWED_HOSTS=file.example\n")
            show = "from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY, s.ALLOWED_HOSTS)"
            command = [sys.executable, "manage.py", "shell", "--no-imports", "-c", show]
            from_file = start(command, ENV_FILE=str(env_file))
            overridden = start(
                command, ENV_FILE=str(env_file), SECRET_KEY="from-env", ALLOWED_HOSTS="env.example"
            )
        self.assertEqual(from_file.stdout.strip(), "True from-the-file ['file.example']", from_file.stderr)
        self.assertEqual(overridden.stdout.strip(), "True from-env ['env.example']", overridden.stderr)

    def test_the_wsgi_module_stops_with_one_line_and_the_status_gunicorn_stops_on(self):
        result = start([sys.executable, "-c", "import backoffice.wsgi"])
        self.assert_one_line_naming(result, "backoffice.wsgi", "SECRET_KEY must be set")
        self.assertEqual(result.returncode, 4)

    def test_gunicorn_stops_before_its_workers_with_one_line(self):
        port = free_port()
        result = start([sys.executable, "-m", "gunicorn", "backoffice.wsgi", "--bind", f"127.0.0.1:{port}"])
        self.assert_one_line_naming(result, "gunicorn", "SECRET_KEY must be set")
        self.assertNotIn("Booting worker", result.stderr)

    def test_gunicorn_says_once_that_metrics_are_public(self):
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "backoffice.wsgi", "--bind", f"127.0.0.1:{port}"]
        kept = {name: value for name, value in os.environ.items() if name not in DEPLOYMENT_VARIABLES}
        env = {**kept, "SECRET_KEY": "x", "DATABASE_URL": "sqlite:///:memory:", "METRICS_PUBLIC": "1"}
        server = subprocess.Popen(  # noqa: S603
            [*command, "--workers", "2"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_for_health(port, server)
        finally:
            server.terminate()
            _, stderr = server.communicate(timeout=60)
        self.assertEqual(stderr.count("GET /metrics is public (METRICS_PUBLIC=1)"), 1, stderr)


def wait_for_health(port, server, seconds=60):
    """Returns once GET /health answers 200; fails the test if the server exits or never answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"GET /health did not answer within {seconds} s")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
