from unittest import mock

from django.db import OperationalError
from django.test import SimpleTestCase, TestCase, override_settings

from backoffice import startup
from metrics.models import TrackedEvent
from metrics.rollups import tracked_events as rollups
from tests.factories import make_model_call, make_run, make_task, make_workspace
from traces.models import Run
from traces.rollups import daily as trace_rollups


@override_settings(METRICS_TOKEN="s3cret")
class PrometheusTest(TestCase):
    def scrape(self):
        return self.client.get("/metrics", headers={"Authorization": "Bearer s3cret"})

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        run = make_run(cls.workspace, status="failed", prompt_tokens=100, completion_tokens=20)
        make_run(cls.workspace, status="completed", prompt_tokens=10, completion_tokens=5)
        make_task(run, type="tool", status="failed")
        make_task(run, type="llm", status="ok")
        make_task(run, type="tool", status="running", started_at=None)  # in no roll-up: it has no day
        make_model_call(
            run, model="gpt-4o", status="error", prompt_tokens=7, completion_tokens=3, cost="0.25"
        )
        TrackedEvent.objects.create(
            workspace=cls.workspace, event_id="e", name="signup", timestamp=run.started_at
        )
        rollups.rebuild(cls.workspace)  # as ingest would have kept it

    def test_it_serves_prometheus_text_to_the_token_without_login(self):
        response = self.scrape()
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("text/plain; version="))
        text = response.content.decode()
        for line in [
            'backoffice_runs_total{status="failed",workspace="acme"} 1.0',
            'backoffice_runs_total{status="completed",workspace="acme"} 1.0',
            'backoffice_run_tokens_total{kind="prompt",workspace="acme"} 110.0',
            'backoffice_tasks_total{status="ok",workspace="acme"} 1.0',
            'backoffice_tool_calls_total{status="failed",workspace="acme"} 1.0',
            'backoffice_tasks_total{status="running",workspace="acme"} 1.0',
            'backoffice_tool_calls_total{status="running",workspace="acme"} 1.0',
            'backoffice_llm_calls_total{model="gpt-4o",status="error",workspace="acme"} 1.0',
            'backoffice_llm_tokens_total{kind="completion",model="gpt-4o",workspace="acme"} 3.0',
            'backoffice_llm_cost_usd_total{model="gpt-4o",workspace="acme"} 0.25',
            'backoffice_business_events_total{workspace="acme"} 1.0',
            "backoffice_workspaces 1.0",
        ]:
            self.assertIn(line, text)

    def test_it_reads_the_roll_ups_and_leaves_out_the_keys_whose_rows_have_gone(self):
        gone = Run.objects.get(status="completed")
        scope = trace_rollups.Scope.of(runs=[gone.pk])
        trace_rollups.subtract(scope)
        gone.delete()  # its roll-up row stays, with n = 0, until purge prunes it
        text = self.scrape().content.decode()
        self.assertNotIn('backoffice_runs_total{status="completed"', text)
        self.assertIn('backoffice_run_tokens_total{kind="prompt",workspace="acme"} 100.0', text)

    def test_a_scrape_takes_the_same_queries_whatever_the_data(self):
        with self.assertNumQueries(17):
            self.scrape()
        for _ in range(10):
            make_run(make_workspace())
        with self.assertNumQueries(17):
            self.scrape()

    def test_a_configured_token_is_required(self):
        self.assertEqual(self.client.get("/metrics").status_code, 401)
        wrong = self.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        self.assertEqual(wrong.status_code, 401)
        self.assertEqual(wrong["WWW-Authenticate"], 'Bearer realm="metrics"')
        right = self.client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        self.assertEqual(right.status_code, 200)

    @override_settings(METRICS_PUBLIC=True)
    def test_a_configured_token_is_required_even_when_metrics_are_declared_public(self):
        self.assertEqual(self.client.get("/metrics").status_code, 401)


class PrometheusAccessTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_run(make_workspace(slug="secret-customer"))

    @override_settings(METRICS_TOKEN="", METRICS_PUBLIC=False)
    def test_without_a_token_it_is_closed_and_says_how_to_open_it(self):
        with self.assertNumQueries(0):
            response = self.client.get("/metrics")
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response["Content-Type"], "text/plain")
        text = response.content.decode()
        self.assertEqual(text.count("\n"), 1)
        self.assertIn("METRICS_TOKEN", text)
        self.assertIn("METRICS_PUBLIC=1", text)
        self.assertNotIn("secret-customer", text)

    @override_settings(METRICS_TOKEN="", METRICS_PUBLIC=True)
    def test_the_operator_can_open_it_to_anyone(self):
        response = self.client.get("/metrics")
        self.assertContains(response, 'workspace="secret-customer"')

    @override_settings(METRICS_TOKEN="", METRICS_PUBLIC=False, DEBUG=True)
    def test_it_is_open_under_debug_for_a_local_checkout(self):
        self.assertEqual(self.client.get("/metrics").status_code, 200)


class MetricsPublicWarningTest(SimpleTestCase):
    def test_a_server_starting_with_public_metrics_gets_one_line_to_log(self):
        with override_settings(METRICS_PUBLIC=True, METRICS_TOKEN="", DEBUG=False):
            warning = startup.metrics_public_warning()
        self.assertIn("METRICS_PUBLIC=1", warning)
        self.assertNotIn("\n", warning)

    def test_nothing_to_say_when_it_is_closed_guarded_by_a_token_or_under_debug(self):
        for overrides in [
            {"METRICS_PUBLIC": False, "METRICS_TOKEN": ""},
            {"METRICS_PUBLIC": True, "METRICS_TOKEN": "s3cret"},
            {"METRICS_PUBLIC": True, "METRICS_TOKEN": "", "DEBUG": True},
        ]:
            with override_settings(**overrides):
                self.assertIsNone(startup.metrics_public_warning())


class HealthTest(TestCase):
    def test_it_answers_200_when_the_database_answers(self):
        response = self.client.get("/health")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "ok")
        self.assertEqual(response.json()["database"], "ok")

    def test_it_answers_503_when_the_database_does_not(self):
        with (
            mock.patch(
                "django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")
            ),
            self.assertLogs("metrics.views.public", "ERROR"),
        ):
            response = self.client.get("/health")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["database"], "unreachable")
