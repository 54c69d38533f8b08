from datetime import UTC, date, datetime, timedelta

from django.test import TestCase

from tests.factories import make_agent, make_cast, make_review, make_run, make_workspace
from traces.models import Review
from traces.reviews.stats import review_figures

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class ReviewFiguresTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        bot = make_agent(cls.workspace, agent_id="bot", name="Support bot")

        def review(days, **fields):
            return make_review(
                make_run(cls.workspace, agent=fields.pop("agent", bot)),
                created_at=MONDAY + timedelta(days=days),
                **fields,
            )

        # Week of March 2: three filed, one resolved within 6 hours, one in the week after.
        review(0, status="resolved", resolved_at=MONDAY + timedelta(hours=6), rating="good", priority="high")
        review(1, status="resolved", resolved_at=MONDAY + timedelta(days=8, hours=6), priority="urgent")
        review(2, status="in_review")
        # Week of March 9: one open without an agent, one dismissed.
        review(7, agent=None)
        review(8, status="dismissed", rating="neutral", priority="low")
        # Outside the range, and another workspace's.
        review(-30)
        make_review(make_run(cls.cast["other_workspace"]), created_at=MONDAY)

    def figures(self):
        reviews = Review.objects.filter(workspace=self.workspace)
        return review_figures(reviews, date(2026, 3, 1), date(2026, 3, 15))

    def test_it_counts_by_status_rating_and_priority(self):
        stats = self.figures()
        self.assertEqual(stats["total"], 5)
        by = {name: {c["value"]: c["count"] for c in stats[name]} for name in ("by_status", "by_rating")}
        self.assertEqual(by["by_status"], {"open": 1, "in_review": 1, "resolved": 2, "dismissed": 1})
        self.assertEqual(by["by_rating"], {"good": 1, "neutral": 1, "bad": 3, "unrated": 0})
        self.assertEqual({c["value"]: c["count"] for c in stats["by_priority"]}["medium"], 2)

    def test_it_averages_the_hours_to_resolve(self):
        # 6 hours, and from Tuesday 9:00 to the next Tuesday 15:00 (174 hours): 90 on average.
        self.assertEqual(self.figures()["avg_resolution_hours"], 90.0)

    def test_it_counts_opened_and_resolved_per_week(self):
        weeks = {w["week"]: (w["opened"], w["resolved"]) for w in self.figures()["weeks"]}
        self.assertEqual(
            weeks, {date(2026, 2, 23): (0, 0), date(2026, 3, 2): (3, 1), date(2026, 3, 9): (2, 1)}
        )

    def test_it_breaks_down_per_agent(self):
        agents = {a["agent_id"]: a for a in self.figures()["agents"]}
        self.assertEqual(agents["bot"]["total"], 4)
        self.assertEqual(agents["bot"]["resolved"], 2)
        self.assertEqual(agents["bot"]["avg_resolution_hours"], 90.0)
        self.assertEqual(agents[None]["total"], 1)


class ReviewStatsPageTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.agent = make_agent(cls.workspace, agent_id="bot")

    def get(self, query="", user="viewer", **headers):
        self.client.force_login(self.cast[user])
        return self.client.get("/w/acme/reviews/stats/" + query, headers=headers)

    def test_a_viewer_sees_the_stats(self):
        make_review(make_run(self.workspace, agent=self.agent), status="resolved")
        response = self.get()
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<html")
        self.assertContains(response, 'data-figure="resolved">1<')

    def test_htmx_gets_only_the_figures(self):
        response = self.get("?agent=bot", HX_Request="true")
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'id="figures"')

    def test_outsiders_get_404(self):
        self.assertEqual(self.get(user="outsider").status_code, 404)

    def test_a_bad_date_answers_400_naming_it(self):
        response = self.get("?since=soon")
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "<strong>since</strong>", status_code=400)

    def test_the_page_costs_the_same_queries_for_few_and_many_reviews(self):
        self.client.force_login(self.cast["viewer"])
        for count in (2, 18):
            for _ in range(count):
                make_review(make_run(self.workspace, agent=self.agent))
            # session, user, memberships (the switcher too), agents, totals, opened, resolved, per agent,
            # score configs and reviewers' scores (agreement)
            with self.assertNumQueries(10):
                self.client.get("/w/acme/reviews/stats/")
