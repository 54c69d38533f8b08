"""The filters, sorts and count of the Runs list (traces.run_filters), checked against the rows."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from tests.factories import make_agent, make_model_call, make_run, make_score, make_task
from tests.traces.drilldown import DrilldownTestCase, hx
from traces import run_filters
from traces.models import Run
from traces.run_filters import SORTS
from traces.search import index as search_index


class RunFiltersTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        now = timezone.now()
        bot = make_agent(cls.workspace, agent_id="bot", name="Bot")
        cls.a = make_run(
            cls.workspace,
            run_id="a",
            agent=bot,
            user_id="ann",
            tags=["vip", "beta"],
            metadata={"plan": "pro", "seats": 3},
            duration_ms=500,
            total_tokens=10,
            cost=Decimal("0.5"),
            started_at=now - timedelta(minutes=5),
        )
        cls.b = make_run(
            cls.workspace,
            run_id="b",
            workflow="billing",
            user_id="bob",
            tags=["beta"],
            metadata={"plan": "free"},
            duration_ms=9000,
            total_tokens=5000,
            cost=Decimal("2.25"),
            started_at=now - timedelta(hours=3),
        )
        cls.c = make_run(
            cls.workspace,
            run_id="c",
            status="failed",
            error={"message": "boom"},
            duration_ms=None,
            total_tokens=700,
            cost=None,
            started_at=now - timedelta(days=10),
        )
        make_model_call(cls.a, model="gpt-4o")
        make_model_call(cls.b, model="claude-sonnet")
        make_task(cls.a, name="retrieve")
        make_task(cls.c, name="retrieve", status="failed")
        make_task(cls.b, name="charge", status="ok")
        make_run(cls.cast["other_workspace"], run_id="elsewhere", tags=["vip"], user_id="ann")

    def listed(self, query):
        response = self.client.get(self.url(f"runs/?{query}"))
        self.assertEqual(response.status_code, 200, response.content[:2000])
        return [run.run_id for run in response.context["page"].rows]

    def test_each_filter_finds_its_runs(self):
        self.as_("viewer")
        cases = {
            "agent=bot": ["a"],
            "workflow=billing": ["b"],
            "status=failed": ["c"],
            "user=ann": ["a"],
            "tag=beta": ["a", "b"],
            "tag=beta&tag=vip": ["a"],
            "meta=plan%3Dpro": ["a"],
            "meta=seats%3D3": ["a"],
            "meta=seats%3D3.0": [],  # the value's text: 3 is "3"
            "meta=plan%3D%22pro%22": [],
            "meta=plan%3Dfree&tag=beta": ["b"],
            "model=claude-sonnet": ["b"],
            "step=retrieve": ["a", "c"],
            "failed_step=retrieve": ["c"],
            "error=on": ["c"],
            "min_duration=1": ["b"],
            "max_duration=1": ["a"],
            "min_tokens=600&max_tokens=800": ["c"],
            "min_cost=1": ["b"],
            "max_cost=1": ["a"],
            "period=1h": ["a"],
            "period=24h": ["a", "b"],
            "period=30d": ["a", "b", "c"],
            f"until={(timezone.now() - timedelta(days=2)).date()}": ["c"],
        }
        for query, expected in cases.items():
            with self.subTest(query):
                self.assertEqual(self.listed(query), expected)

    def test_every_sort_orders_the_rows_with_empty_values_highest(self):
        self.as_("viewer")
        cases = {
            "": ["a", "b", "c"],
            "sort=time": ["c", "b", "a"],
            "sort=-duration": ["c", "b", "a"],
            "sort=duration": ["a", "b", "c"],
            "sort=-tokens": ["b", "c", "a"],
            "sort=tokens": ["a", "c", "b"],
            "sort=-cost": ["c", "b", "a"],
            "sort=cost": ["a", "b", "c"],
        }
        for query, expected in cases.items():
            with self.subTest(query):
                self.assertEqual(self.listed(query), expected)

    def test_the_count_says_how_many_match(self):
        self.as_("viewer")
        self.assertContains(self.client.get(self.url("runs/?tag=beta")), "2 runs match these filters")
        self.assertContains(self.client.get(self.url("runs/")), "3 runs")

    def test_the_count_stops_at_its_limit(self):
        self.as_("viewer")
        limit, run_filters.COUNT_LIMIT = run_filters.COUNT_LIMIT, 2
        try:
            response = self.client.get(self.url("runs/"))
        finally:
            run_filters.COUNT_LIMIT = limit
        self.assertContains(response, "More than 2 runs")

    def test_headers_sort_and_rows_show_tags(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/?sort=-cost"))
        self.assertContains(response, 'aria-sort="descending"')
        self.assertContains(response, 'href="/w/acme/runs/?sort=cost"')
        self.assertContains(response, 'href="/w/acme/runs/?sort=-tokens"')
        self.assertContains(response, '<a class="tag" href="/w/acme/runs/?tag=vip">vip</a>', html=True)

    def test_columns_can_be_hidden(self):
        self.as_("viewer")
        response = self.client.get(self.url("runs/?col=status&col=cost"))
        self.assertContains(response, "<th>Status</th>", html=True)
        self.assertNotContains(response, "<th>Agent</th>", html=True)
        self.assertNotContains(response, '<span class="badge good">')

    def test_bad_values_are_named(self):
        self.as_("viewer")
        for query, field in (
            ("sort=size", "sort"),
            ("meta=novalue", "meta"),
            ("min_tokens=-1", "min_tokens"),
            ("min_cost=2&max_cost=1", "max_cost"),
            ("period=2y", "period"),
            ("period=7d&since=2024-01-01", "period"),
            ("sort=tokens&after=1.5.3", "after"),
            ("sort=time&after=n.3", "after"),
        ):
            with self.subTest(query):
                fragment = self.client.get(self.url(f"runs/?{query}"), headers=hx("rows"))
                self.assertContains(fragment, field, status_code=400)
                page = self.client.get(self.url(f"runs/?{query}"))
                self.assertContains(page, '<span class="error">', status_code=400)
                self.assertContains(page, "<html", status_code=400)

    def test_q_finds_runs_by_their_stored_text(self):
        self.as_("viewer")
        Run.objects.filter(pk=self.a.pk).update(output="You are Nova, the billing helper")
        Run.objects.filter(pk=self.c.pk).update(error={"message": "Rate limit reached"})
        search_index.backfill(self.workspace)
        self.assertEqual(self.listed("q=nova"), ["a"])
        self.assertEqual(self.listed("q=rate+limit"), ["c"])
        self.assertEqual(self.listed("q=rate&status=completed"), [])
        self.assertEqual(self.listed("q=nowhere"), [])

    def test_score_conditions_find_runs_by_their_scores(self):
        self.as_("viewer")
        make_score(self.a, name="helpfulness", value=2.0)
        make_score(self.b, name="helpfulness", value=5.0)
        make_score(self.b, name="tone", data_type="categorical", value=None, string_value="rude")
        cases = {
            "score=helpfulness%3C3": ["a"],
            "score=helpfulness%3E%3D2": ["a", "b"],
            "score=tone%3Drude": ["b"],
            "score=tone%3Drude&score=helpfulness%3C3": [],
            "score=helpfulness%3C3&tag=beta": ["a"],
        }
        for query, expected in cases.items():
            with self.subTest(query):
                self.assertEqual(self.listed(query), expected)
        for bad in ("score=helpfulness", "score=helpfulness%3Cmany"):
            with self.subTest(bad):
                self.assertContains(
                    self.client.get(self.url(f"runs/?{bad}")),
                    "score condition" if bad.endswith("helpfulness") else "not a number",
                    status_code=400,
                )

    def test_another_workspace_is_never_listed(self):
        self.as_("viewer")
        self.assertNotIn("elsewhere", self.listed("tag=vip&user=ann"))


class RunSortPagesTest(DrilldownTestCase):
    def test_every_sort_pages_through_all_runs_once_both_ways(self):
        now = timezone.now()
        for i in range(130):
            make_run(
                self.workspace,
                run_id=f"r{i:03d}",
                started_at=now - timedelta(seconds=i // 3),
                duration_ms=None if i % 7 == 0 else (i % 5) * 100,
                total_tokens=i % 4,
                cost=None if i % 6 == 0 else Decimal(i % 3) / 10,
            )
        self.as_("viewer")
        for sort in SORTS:
            with self.subTest(sort):
                seen, url, last = [], self.url(f"runs/?sort={sort}"), None
                while url:
                    response = self.client.get(url)
                    last = response
                    seen += [run.run_id for run in response.context["page"].rows]
                    url = response.context["older_url"]
                self.assertEqual(len(seen), 130)
                self.assertEqual(len(set(seen)), 130)
                back, url = [], last.context["newer_url"]
                while url:
                    response = self.client.get(url)
                    back = [run.run_id for run in response.context["page"].rows] + back
                    url = response.context["newer_url"]
                self.assertEqual(back + [r.run_id for r in last.context["page"].rows], seen)
