from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
from django.test import TestCase

from backoffice import cost_recompute
from backoffice.models import AuditEntry, CostRecomputeJob
from tests.factories import make_cast, make_model_call, make_run, make_session, make_task, make_workspace
from traces.models import ModelCall, ModelPrice

WHEN = datetime(2026, 3, 10, 12, tzinfo=UTC)


def url(workspace, path=""):
    return f"/w/{workspace.slug}/settings/prices/{path}"


class PricePageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def test_it_names_the_default_price_source_and_shows_the_workspace_overrides(self):
        ModelPrice.objects.create(model_pattern="gpt-4o*", input_per_million=3)  # added for every workspace
        ModelPrice.objects.create(workspace=self.workspace, model_pattern="gpt-4o*", input_per_million=2)
        ModelPrice.objects.create(workspace=self.cast["other_workspace"], model_pattern="secret-model")
        response = self.client.get(url(self.workspace))
        self.assertContains(response, f"genai-prices {genai_prices.__version__}")
        self.assertContains(response, "overridden")
        self.assertNotContains(response, "secret-model")
        self.assertEqual([p.model_pattern for p in response.context["overrides"]], ["gpt-4o*"])

    def test_it_issues_the_same_number_of_queries_for_few_and_many_prices(self):
        with self.assertNumQueries(5):
            self.client.get(url(self.workspace))
        for i in range(20):
            ModelPrice.objects.create(workspace=self.workspace, model_pattern=f"model-{i}")
        with self.assertNumQueries(5):
            self.client.get(url(self.workspace))

    def test_an_admin_adds_and_deletes_an_override(self):
        form = {
            "model_pattern": "my-model*",
            "input_per_million": "1.5",
            "output_per_million": "3",
            "cached_per_million": "0",
            "effective_from": "2026-01-01",
        }
        self.assertRedirects(self.client.post(url(self.workspace, "new/"), form), url(self.workspace))
        price = ModelPrice.objects.get(workspace=self.workspace)
        self.assertEqual(price.input_per_million, Decimal("1.5"))
        self.client.post(url(self.workspace, f"{price.pk}/delete/"))
        self.assertFalse(ModelPrice.objects.filter(workspace=self.workspace).exists())
        self.assertEqual(
            list(AuditEntry.objects.order_by("id").values_list("action", flat=True)),
            ["price.created", "price.deleted"],
        )

    def test_a_negative_price_names_the_field(self):
        form = {
            "model_pattern": "x",
            "input_per_million": "-1",
            "output_per_million": "0",
            "cached_per_million": "0",
        }
        response = self.client.post(url(self.workspace, "new/"), form)
        self.assertContains(response, "A price cannot be negative")

    def test_a_default_price_cannot_be_deleted_from_a_workspace(self):
        default = ModelPrice.objects.create(model_pattern="gpt-4o*", input_per_million=3)
        self.assertEqual(self.client.post(url(self.workspace, f"{default.pk}/delete/")).status_code, 404)

    def test_a_reviewer_cannot_add_prices(self):
        self.client.force_login(self.cast["reviewer"])
        response = self.client.post(url(self.workspace, "new/"), {"model_pattern": "x"})
        self.assertEqual(response.status_code, 403)


class RecomputeTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        ModelPrice.objects.create(
            workspace=cls.workspace, model_pattern="house-model", input_per_million=10, output_per_million=20
        )
        cls.session = make_session(cls.workspace)
        cls.the_run = make_run(cls.workspace, session=cls.session, started_at=WHEN, cost=0)
        cls.task = make_task(cls.the_run)
        cls.calls = [
            make_model_call(
                cls.the_run,
                task=cls.task,
                model="house-model",
                prompt_tokens=1000,
                completion_tokens=500,
                cost=0,
                created_at=WHEN,
            )
            for _ in range(5)
        ]
        # A cost the client sent is kept; a call outside the period is left alone.
        cls.sent = make_model_call(
            cls.the_run, model="house-model", cost=Decimal("9"), cost_sent=True, created_at=WHEN
        )
        cls.outside = make_model_call(
            cls.the_run, model="house-model", cost=0, created_at=datetime(2025, 1, 1, tzinfo=UTC)
        )

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def start(self):
        form = {"period_start": "2026-03-01", "period_end": "2026-03-31"}
        return self.client.post(url(self.workspace, "recompute/"), form)

    def test_recompute_runs_in_bounded_batches_and_updates_the_roll_ups(self):
        response = self.start()
        job = CostRecomputeJob.objects.get()
        self.assertRedirects(response, url(self.workspace, f"recompute/{job.pk}/"))
        self.assertEqual(job.total, 6)
        job = cost_recompute.step(job.pk, self.workspace, batch=4)
        self.assertEqual((job.status, job.done, job.changed), ("running", 4, 4))
        job = cost_recompute.step(job.pk, self.workspace, batch=4)
        self.assertEqual((job.status, job.done, job.changed), ("done", 6, 5))
        expected = Decimal("0.02")  # 1000 × $10/M + 500 × $20/M
        self.assertEqual(ModelCall.objects.get(pk=self.calls[0].pk).cost, expected)
        self.assertEqual(ModelCall.objects.get(pk=self.sent.pk).cost, Decimal("9"))
        self.assertEqual(ModelCall.objects.get(pk=self.outside.pk).cost, 0)
        self.the_run.refresh_from_db()
        self.session.refresh_from_db()
        self.task.refresh_from_db()
        self.assertEqual(self.the_run.cost, 5 * expected + Decimal("9"))
        self.assertEqual(self.session.cost, self.the_run.cost)
        self.assertEqual(self.task.cost, 5 * expected)

    def test_the_progress_page_polls_a_step_until_done(self):
        self.start()
        job = CostRecomputeJob.objects.get()
        page = self.client.get(url(self.workspace, f"recompute/{job.pk}/"))
        self.assertContains(page, "<html")
        self.assertContains(page, f'hx-post="{url(self.workspace, f"recompute/{job.pk}/step/")}"')
        fragment = self.client.post(
            url(self.workspace, f"recompute/{job.pk}/step/"), headers={"HX-Request": "true"}
        )
        self.assertNotContains(fragment, "<html")
        self.assertContains(fragment, 'data-progress="done">6<')
        self.assertNotContains(fragment, "hx-post")
        plain = self.client.post(url(self.workspace, f"recompute/{job.pk}/step/"))
        self.assertRedirects(plain, url(self.workspace, f"recompute/{job.pk}/"))

    def test_a_period_ending_before_it_starts_names_the_field(self):
        response = self.client.post(
            url(self.workspace, "recompute/"), {"period_start": "2026-03-31", "period_end": "2026-03-01"}
        )
        self.assertContains(response, "The end of the period comes before its start")
        self.assertFalse(CostRecomputeJob.objects.exists())

    def test_a_job_of_another_workspace_is_not_found(self):
        job = cost_recompute.start(self.cast["other_workspace"], None, WHEN.date(), WHEN.date())
        self.assertEqual(self.client.get(url(self.workspace, f"recompute/{job.pk}/")).status_code, 404)
        self.assertEqual(self.client.post(url(self.workspace, f"recompute/{job.pk}/step/")).status_code, 404)

    def test_a_viewer_cannot_start_a_recompute(self):
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.start().status_code, 403)
