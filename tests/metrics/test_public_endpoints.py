from unittest import mock

from django.db import OperationalError
from django.test import TestCase, override_settings

from metrics.models import TrackedEvent
from metrics.rollups import tracked_events as rollups
from tests.factories import make_model_call, make_run, make_task, make_workspace
from traces.models import Run
from traces.rollups import daily as trace_rollups


class PrometheusTest(TestCase):
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

    def test_it_serves_prometheus_text_without_login(self):
        response = self.client.get("/metrics")
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
        text = self.client.get("/metrics").content.decode()
        self.assertNotIn('backoffice_runs_total{status="completed"', text)
        self.assertIn('backoffice_run_tokens_total{kind="prompt",workspace="acme"} 100.0', text)

    def test_a_scrape_takes_the_same_queries_whatever_the_data(self):
        with self.assertNumQueries(9):
            self.client.get("/metrics")
        for _ in range(10):
            make_run(make_workspace())
        with self.assertNumQueries(9):
            self.client.get("/metrics")

    @override_settings(METRICS_TOKEN="s3cret")
    def test_a_configured_token_is_required(self):
        self.assertEqual(self.client.get("/metrics").status_code, 401)
        wrong = self.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        self.assertEqual(wrong.status_code, 401)
        self.assertEqual(wrong["WWW-Authenticate"], 'Bearer realm="metrics"')
        right = self.client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        self.assertEqual(right.status_code, 200)


class HealthTest(TestCase):
    def test_it_answers_200_when_the_database_answers(self):
        response = self.client.get("/health")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok", "database": "ok"})

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
