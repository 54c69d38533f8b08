from datetime import UTC, datetime, timedelta
from unittest.mock import patch

from django.test import TestCase
from django.utils import timezone

from tests.factories import make_agent, make_cast, make_review, make_run, make_workspace

URL = "/w/{}/reviews/"


class ReviewQueueTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.bot = make_agent(cls.workspace, agent_id="support-bot", name="Support bot")
        cls.billing = make_agent(cls.workspace, agent_id="billing-bot", name="Billing bot")
        now = timezone.now()

        def review(name, hours_ago, **fields):
            run = make_run(cls.workspace, run_id=name, agent=fields.pop("agent", cls.bot))
            return make_review(run, created_at=now - timedelta(hours=hours_ago), **fields)

        cls.old_low = review("run-old-low", 50, priority="low", comment="Tone was curt with the user.")
        cls.new_urgent = review("run-new-urgent", 1, priority="urgent", tags=["refund", "policy"])
        cls.old_urgent = review("run-old-urgent", 30, priority="urgent", rating="neutral")
        cls.mid = review(
            "run-mid", 10, priority="medium", agent=cls.billing, assignee=cls.cast["reviewer"], tags=["tone"]
        )
        cls.resolved = review(
            "run-resolved",
            5,
            status="resolved",
            rating="good",
            corrected_output="Use the carrier's tracking page.",
            resolution_notes="Prompt updated for shipping questions.",
        )
        cls.dismissed = review("run-dismissed", 3, status="dismissed")
        other = cls.cast["other_workspace"]
        make_review(make_run(other, run_id="run-elsewhere"), priority="urgent", comment="Not ours at all.")

    def get(self, query="", user="viewer", **headers):
        self.client.force_login(self.cast[user])
        return self.client.get(URL.format("acme") + query, headers=headers)

    def runs(self, response):
        return [review.run.run_id for review in response.context["rows"]]

    def test_a_viewer_sees_the_queue_as_a_full_page(self):
        response = self.get()
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<html")
        self.assertContains(response, "run-new-urgent")
        self.assertContains(response, "Keyboard:")

    def test_htmx_gets_only_the_results(self):
        response = self.get("?status=all", HX_Request="true")
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'id="results"')

    def test_it_hides_the_queue_from_outsiders(self):
        self.assertEqual(self.get(user="outsider").status_code, 404)

    def test_it_sends_strangers_to_log_in(self):
        response = self.client.get(URL.format("acme"))
        self.assertEqual(response.status_code, 302)
        self.assertIn("/login/", response["Location"])

    def test_it_shows_what_still_needs_work_most_urgent_then_oldest_first(self):
        self.assertEqual(
            self.runs(self.get()), ["run-old-urgent", "run-new-urgent", "run-mid", "run-old-low"]
        )

    def test_it_sorts_newest_or_oldest_first(self):
        newest = self.runs(self.get("?status=all&sort=newest"))
        self.assertEqual(newest[:3], ["run-new-urgent", "run-dismissed", "run-resolved"])
        self.assertEqual(self.runs(self.get("?status=all&sort=oldest")), list(reversed(newest)))

    def test_it_never_lists_another_workspaces_reviews(self):
        self.assertNotIn("run-elsewhere", self.runs(self.get("?status=all")))

    def test_each_filter_narrows_the_queue(self):
        me = self.cast["reviewer"].username
        cases = {
            "?status=resolved": ["run-resolved"],
            "?status=dismissed": ["run-dismissed"],
            "?status=all&rating=good": ["run-resolved"],
            "?rating=neutral": ["run-old-urgent"],
            "?priority=low": ["run-old-low"],
            "?agent=billing-bot": ["run-mid"],
            "?tag=refund": ["run-new-urgent"],
            "?tag=REFUND": ["run-new-urgent"],
            "?tag=ref": [],
            f"?assignee={me}": ["run-mid"],
            "?status=all&q=curt": ["run-old-low"],
            "?status=all&q=tracking+page": ["run-resolved"],
            "?status=all&q=prompt+updated": ["run-resolved"],
        }
        for query, expected in cases.items():
            with self.subTest(query=query):
                self.assertEqual(sorted(self.runs(self.get(query))), sorted(expected))
        unassigned = self.runs(self.get("?assignee=none"))
        self.assertNotIn("run-mid", unassigned)
        self.assertIn("run-old-low", unassigned)

    def test_it_filters_by_the_day_a_review_was_filed(self):
        review = self.old_low
        day = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
        type(review).objects.filter(pk=review.pk).update(created_at=day)
        self.assertEqual(self.runs(self.get("?since=2026-03-02&until=2026-03-02")), ["run-old-low"])
        self.assertEqual(self.runs(self.get("?since=2026-03-03&until=2026-03-31")), [])

    def test_it_pages_by_keyset_without_repeating_or_skipping(self):
        seen = []
        query = "?status=all"
        with patch("traces.reviews.queries.PAGE_SIZE", 2):
            for _ in range(4):
                response = self.get(query)
                seen += self.runs(response)
                if not response.context["next_query"]:
                    break
                query = "?" + response.context["next_query"]
        self.assertEqual(len(seen), 6)
        self.assertEqual(len(set(seen)), 6)
        self.assertEqual(seen[:2], ["run-old-urgent", "run-new-urgent"])

    def test_bad_filters_answer_400_naming_the_field(self):
        for query, field in (
            ("?since=yesterday", "since"),
            ("?status=closed", "status"),
            ("?agent=nobody", "agent"),
            ("?after=1.2", "after"),
            ("?since=2026-03-05&until=2026-03-01", "until"),
        ):
            with self.subTest(query=query):
                response = self.get(query)
                self.assertEqual(response.status_code, 400)
                self.assertContains(response, f"<strong>{field}</strong>", status_code=400)

    def test_it_escapes_what_reviewers_wrote(self):
        make_review(make_run(self.workspace), comment="<script>alert('x')</script> bad answer")
        response = self.get("?status=all")
        self.assertNotContains(response, "<script>alert")
        self.assertContains(response, "&lt;script&gt;alert")

    def test_the_export_link_keeps_the_filters_that_apply_to_it(self):
        response = self.get("?status=open&agent=support-bot&rating=bad&q=curt&tag=tone")
        self.assertContains(
            response, "/w/acme/reviews/export.jsonl?rating=bad&amp;agent=support-bot&amp;tag=tone"
        )

    def test_viewers_get_no_status_keys_on_rows(self):
        self.assertNotContains(self.get(), "data-status-url")
        self.assertContains(self.get(user="reviewer"), "data-status-url")


class ReviewQueueQueriesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.agent = make_agent(cls.workspace)

    def add_reviews(self, count):
        for _ in range(count):
            make_review(
                make_run(self.workspace, agent=self.agent), assignee=self.cast["reviewer"], tags=["a"]
            )

    def test_the_page_costs_the_same_queries_for_2_and_20_reviews(self):
        self.client.force_login(self.cast["reviewer"])
        for count in (2, 18):
            self.add_reviews(count)
            # session, user, memberships (and the switcher's list), agents, assignees, queues, reviews
            with self.assertNumQueries(7):
                response = self.client.get("/w/acme/reviews/")
            with self.assertNumQueries(0):
                rows = list(response.context["rows"])
                [(row.run.run_id, row.run.agent.name, row.assignee.username) for row in rows]
            with self.assertNumQueries(7):
                self.client.get("/w/acme/reviews/", headers={"HX-Request": "true"})
        self.assertEqual(len(rows), 20)
