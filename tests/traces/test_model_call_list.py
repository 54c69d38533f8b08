from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from tests.factories import make_model_call, make_run
from tests.traces.drilldown import HX, DrilldownTestCase, hx
from traces.models import ModelCall
from traces.rollups.model_calls import model_rollup


class ModelCallListTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        now = timezone.now()
        cls.calls_run = make_run(cls.workspace, run_id="r1", started_at=now)
        # Latencies 100, 200, … 2000 ms for gpt-4o-mini; one call without a latency; one error.
        for i in range(1, 21):
            make_model_call(
                cls.calls_run, latency_ms=i * 100, created_at=now - timedelta(seconds=i), step_id="s1"
            )
        make_model_call(cls.calls_run, latency_ms=None, created_at=now)
        make_model_call(
            cls.calls_run,
            model="claude-3-5-haiku",
            provider="anthropic",
            latency_ms=900,
            status="error",
            error={"message": "overloaded"},
            cost=Decimal("0.02"),
            created_at=now - timedelta(minutes=5),
        )
        make_model_call(cls.calls_run, model="old-model", created_at=now - timedelta(days=30))
        make_model_call(make_run(cls.cast["other_workspace"]), model="their-model")

    def test_it_lists_calls_newest_first_with_tokens_latency_cost_and_status(self):
        self.as_("viewer")
        response = self.client.get(self.url("model-calls/"))
        self.assert_full_page(response)
        self.assertContains(response, "claude-3-5-haiku")
        self.assertContains(response, "100 / 50 / 0")
        self.assertContains(response, '<span class="badge failed">Error</span>', html=True)
        self.assertNotContains(response, "their-model")
        self.assertContains(response, 'href="/w/acme/runs/r1/tasks/s1/"')

    def test_the_rollup_gives_p50_and_p95_latency_per_model_in_sql(self):
        rows = {row.model: row for row in model_rollup(ModelCall.objects.filter(workspace=self.workspace))}
        mini = rows["gpt-4o-mini"]
        self.assertEqual((mini.calls, mini.p50_ms, mini.p95_ms), (21, 1000, 1900))
        self.assertEqual(mini.total_tokens, 21 * 150)
        self.assertEqual(mini.cost, Decimal("0.0084"))
        self.assertEqual(mini.errors, 0)
        haiku = rows["claude-3-5-haiku"]
        self.assertEqual((haiku.calls, haiku.p50_ms, haiku.p95_ms, haiku.error_rate), (1, 900, 900, 100))

    def test_the_rollup_covers_the_last_7_days_unless_a_range_is_chosen(self):
        self.as_("viewer")
        recent = self.client.get(self.url("model-calls/"))
        self.assertNotIn("old-model", {row.model for row in recent.context["rollup"]})
        since = (timezone.now() - timedelta(days=40)).date()
        chosen = self.client.get(self.url(f"model-calls/?since={since}"))
        self.assertIn("old-model", {row.model for row in chosen.context["rollup"]})

    def test_it_filters_by_model_provider_status_and_date(self):
        self.as_("viewer")
        cases = {
            "model=claude-3-5-haiku": 1,
            "provider=anthropic": 1,
            "status=error": 1,
            "status=ok": 22,
            f"until={(timezone.now() - timedelta(days=20)).date()}": 1,
        }
        for query, count in cases.items():
            with self.subTest(query):
                self.assertEqual(
                    len(self.client.get(self.url(f"model-calls/?{query}")).context["page"].rows), count
                )

    def test_it_answers_htmx_with_the_results_fragment(self):
        self.as_("viewer")
        response = self.client.get(self.url("model-calls/?model=gpt-4o-mini"), headers=hx("results"))
        self.assert_fragment(response)
        self.assertContains(response, 'id="results"')

    def test_paging_swaps_the_list_alone_without_recomputing_the_roll_up(self):
        self.as_("viewer")
        with self.assertNumQueries(5):  # the page and its bounded count; the roll-up is the sixth
            response = self.client.get(self.url("model-calls/?model=gpt-4o-mini"), headers=hx("calls"))
        self.assert_fragment(response)
        self.assertContains(response, 'id="calls"')
        self.assertNotContains(response, 'id="results"')
        self.assertNotContains(response, "By model")
        for i in range(40):  # past one page of 50
            make_model_call(self.calls_run, created_at=timezone.now() - timedelta(hours=1, seconds=i))
        page = self.client.get(self.url("model-calls/")).content.decode()
        self.assertIn('<section id="calls"', page)
        self.assertIn('hx-target="#calls" hx-swap="outerHTML" hx-push-url="true">Older', page)

    def test_it_rejects_bad_filters(self):
        self.as_("viewer")
        self.assertContains(
            self.client.get(self.url("model-calls/?status=maybe"), headers=HX), "status", status_code=400
        )

    def test_it_is_hidden_from_outsiders(self):
        self.assert_hidden_from_outsiders("model-calls/")


class ModelCallQueriesTest(DrilldownTestCase):
    def test_it_issues_the_same_queries_for_2_and_200_calls(self):
        self.as_("viewer")
        run = make_run(self.workspace)
        for count in (2, 198):
            for i in range(count):
                make_model_call(run, model=f"model-{i % 7}", latency_ms=i, step_id="s" if i % 2 else "")
            with self.assertNumQueries(6):
                self.client.get(self.url("model-calls/"))


class ModelCallRowsEscapeTest(DrilldownTestCase):
    def test_models_providers_and_steps_are_escaped(self):
        run = make_run(self.workspace, run_id="r<1>")
        make_model_call(run, model="m<script>", provider="p&q", step_id="s<b>")
        self.as_("viewer")
        body = self.client.get(self.url("model-calls/")).content.decode()
        self.assertIn("<td>m&lt;script&gt;</td>", body)
        self.assertIn("p&amp;q", body)
        self.assertIn("/runs/r%3C1%3E/tasks/s%3Cb%3E/", body)
        self.assertNotIn("<script>", body.split("</head>")[1])
