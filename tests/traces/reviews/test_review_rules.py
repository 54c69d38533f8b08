import importlib
import json
from datetime import timedelta

from django.apps import apps as django_apps
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.models import Role
from tests.events import event, post_batch
from tests.factories import make_api_key, make_member, make_review, make_run, make_score, make_workspace
from traces.models import Review, ReviewQueue, ReviewRule, ReviewRuleMatch
from traces.reviews import rules


def run_events(run_id, *, fail=False, at=0.0):
    end = (
        ("run.failed", {"run_id": run_id, "error": "boom"}) if fail else ("run.complete", {"run_id": run_id})
    )
    return [
        event("run.start", {"run_id": run_id, "agent_id": "support-bot", "workflow": "refund"}, at=at),
        event(*end, at=at + 1),
    ]


class RulesOnNewRunsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)
        cls.ann = make_member(cls.workspace, Role.REVIEWER, username="ann")
        cls.bob = make_member(cls.workspace, Role.REVIEWER, username="bob")
        cls.vic = make_member(cls.workspace, Role.VIEWER, username="vic")
        cls.queue = ReviewQueue.objects.create(workspace=cls.workspace, name="Refunds")
        cls.queue.members.set([cls.bob, cls.ann, cls.vic])

    def rule(self, **fields):
        values = {"name": "Failures", "filter": "status=failed", "queue": self.queue, **fields}
        return ReviewRule.objects.create(workspace=self.workspace, **values)

    def test_a_run_that_fails_gets_a_review_in_the_rules_queue(self):
        rule = self.rule(priority="high", tags=["refund"])
        response = post_batch(self.client, self.key, run_events("r-1", fail=True) + run_events("r-2"))
        self.assertEqual(response.status_code, 200)
        review = Review.objects.get()
        self.assertEqual(review.run.run_id, "r-1")
        self.assertEqual((review.queue, review.rule, review.priority), (self.queue, rule, "high"))
        self.assertEqual(review.tags, ["refund"])
        self.assertEqual(review.assignee, self.ann)  # first in turn: usernames in order
        self.assertEqual(review.activity.get().actor, "rule Failures")
        rule.refresh_from_db()
        self.assertEqual((rule.matched_count, rule.sampled_count), (1, 1))

    def test_the_review_page_shows_what_the_rule_did(self):
        self.rule(priority="urgent")
        post_batch(self.client, self.key, run_events("r-1", fail=True))
        self.client.force_login(self.ann)
        review = Review.objects.get()
        response = self.client.get(f"/w/{self.workspace.slug}/reviews/{review.pk}/")
        self.assertContains(response, "rule Failures")
        self.assertContains(response, "Refunds")

    def test_reviews_go_round_robin_over_the_queues_working_members(self):
        self.rule()
        batch = [e for n in range(5) for e in run_events(f"r-{n}", fail=True, at=n * 10)]
        post_batch(self.client, self.key, batch)
        assignees = Review.objects.order_by("run__run_id").values_list("assignee__username", flat=True)
        # The viewer is a member of the queue but may not work reviews.
        self.assertEqual(sorted(assignees), ["ann", "ann", "ann", "bob", "bob"])
        self.queue.refresh_from_db()
        self.assertEqual(self.queue.rotation, 5)
        post_batch(self.client, self.key, run_events("r-9", fail=True, at=100))
        self.assertEqual(Review.objects.get(run__run_id="r-9").assignee, self.bob)

    def test_the_rules_assignee_wins_over_the_queue(self):
        self.rule(assignee=self.bob)
        post_batch(self.client, self.key, run_events("r-1", fail=True))
        self.assertEqual(Review.objects.get().assignee, self.bob)

    def test_a_run_still_running_or_already_reviewed_is_left_alone(self):
        self.rule(filter="")
        post_batch(self.client, self.key, run_events("r-1")[:1])
        self.assertFalse(Review.objects.exists())
        run = make_run(self.workspace, run_id="r-2", status="running")
        make_review(run, comment="A person got here first.")
        post_batch(self.client, self.key, [event("run.complete", {"run_id": "r-2"}, at=5)])
        self.assertEqual(Review.objects.get().comment, "A person got here first.")

    def test_disabled_rules_and_other_workspaces_rules_do_not_apply(self):
        self.rule(enabled=False)
        ReviewRule.objects.create(workspace=make_workspace(), name="Elsewhere", filter="")
        post_batch(self.client, self.key, run_events("r-1", fail=True))
        self.assertFalse(Review.objects.exists())

    def test_the_first_rule_in_order_opens_the_one_review(self):
        first = self.rule(name="A failures", priority="urgent")
        second = self.rule(name="B everything", filter="", queue=None)
        post_batch(self.client, self.key, run_events("r-1", fail=True) + run_events("r-2", at=5))
        reviews = dict(Review.objects.values_list("run__run_id", "rule__name"))
        self.assertEqual(reviews, {"r-1": first.name, "r-2": second.name})

    def test_rules_cost_ingest_the_same_queries_for_2_runs_and_for_20(self):
        self.rule()
        self.rule(name="Expensive", filter="min_cost=1", queue=None)
        post_batch(self.client, self.key, run_events("first", fail=True))  # creates the agent
        counts = []
        for prefix, size in (("a", 2), ("b", 20)):
            batch = [e for n in range(size) for e in run_events(f"{prefix}-{n}", fail=True, at=n)]
            with CaptureQueriesContext(connection) as captured:
                post_batch(self.client, self.key, batch)
            counts.append(len(captured.captured_queries))
        self.assertEqual(counts[0], counts[1])
        self.assertEqual(Review.objects.count(), 23)


class SamplingTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.rule = ReviewRule.objects.create(workspace=cls.workspace, name="Half", sample_rate=0.5)
        start = timezone.now() - timedelta(days=2)
        cls.runs = [
            make_run(cls.workspace, run_id=f"run-{n:03d}", started_at=start + timedelta(minutes=n))
            for n in range(100)
        ]
        cls.since, cls.until = start - timedelta(hours=1), start + timedelta(days=1)

    def test_sampling_is_the_same_for_a_rule_and_a_run_every_time(self):
        picked = {run.run_id for run in self.runs if rules.sampled(self.rule, run.run_id)}
        self.assertEqual(picked, {run.run_id for run in self.runs if rules.sampled(self.rule, run.run_id)})
        self.assertTrue(30 < len(picked) < 70)
        # Another rule at the same rate picks another subset.
        other = ReviewRule(pk=self.rule.pk + 1, sample_rate=0.5)
        self.assertNotEqual(picked, {run.run_id for run in self.runs if rules.sampled(other, run.run_id)})

    def test_a_backfill_opens_reviews_for_the_sampled_runs_and_counts_them(self):
        picked = {run.run_id for run in self.runs if rules.sampled(self.rule, run.run_id)}
        self.assertEqual(rules.backfill(self.rule, self.since, self.until), (100, len(picked)))
        self.assertEqual(set(Review.objects.values_list("run__run_id", flat=True)), picked)
        self.rule.refresh_from_db()
        self.assertEqual((self.rule.matched_count, self.rule.sampled_count), (100, len(picked)))

    def test_a_backfill_run_again_changes_nothing(self):
        rules.backfill(self.rule, self.since, self.until)
        reviews = Review.objects.count()
        self.assertEqual(rules.backfill(self.rule, self.since, self.until), (0, 0))
        self.assertEqual(Review.objects.count(), reviews)
        self.rule.refresh_from_db()
        self.assertEqual(self.rule.matched_count, 100)
        self.assertEqual(ReviewRuleMatch.objects.count(), 100)

    def test_a_backfill_keeps_to_its_range_and_the_filter(self):
        self.rule.sample_rate, self.rule.filter = 1, "score=helpfulness<3"
        self.rule.save()
        low, high = self.runs[3], self.runs[4]
        make_score(low, name="helpfulness", value=2)
        make_score(high, name="helpfulness", value=5)
        make_score(self.runs[5], name="helpfulness", value=1)
        until = self.runs[5].started_at
        self.assertEqual(rules.backfill(self.rule, self.since, until), (1, 1))
        self.assertEqual(Review.objects.get().run, low)


class RuleFilterTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()

    def test_a_runs_list_link_is_a_filter(self):
        text = "https://bo.example/w/acme/runs/?status=failed&min_cost=0.5&failed_step=charge"
        self.assertEqual(
            rules.clean_filter(self.workspace, text), "status=failed&min_cost=0.5&failed_step=charge"
        )

    def test_a_bad_filter_is_refused_naming_the_parameter(self):
        for text, words in (
            ("status=nope", "status"),
            ("sort=-cost", "sort"),
            ("colour=red", "colour"),
            ("score=helpfulness<x", "score"),
            ("agent=ghost", "agent"),
        ):
            with self.subTest(text), self.assertRaises(rules.ReviewError) as raised:
                rules.clean_filter(self.workspace, text)
            self.assertEqual(raised.exception.field, "filter")
            self.assertIn(words, raised.exception.message)


class UnratedUntilRatedTest(TestCase):
    """A rule has no verdict: the review it opens is unrated wherever it shows, until a person rates it."""

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        _, cls.key = make_api_key(cls.workspace, scopes=["ingest", "read"])
        cls.ann = make_member(cls.workspace, Role.REVIEWER, username="ann")
        ReviewRule.objects.create(workspace=cls.workspace, name="Failures", filter="status=failed")
        post_batch(cls.client_class(), cls.key, run_events("r-1", fail=True))
        cls.review = Review.objects.get()
        make_review(make_run(cls.workspace, run_id="r-2"), rating="neutral", status="resolved")

    def setUp(self):
        self.client.force_login(self.ann)

    def api(self, path):
        return self.client.get(f"/api/v1/{path}", headers={"Authorization": f"Bearer {self.key}"}).json()

    def test_it_is_stored_unrated(self):
        self.assertEqual(self.review.rating, "")
        self.assertEqual(self.review.rating_label, "Unrated")

    def test_the_queue_shows_it_unrated_and_filters_on_it(self):
        queue = self.client.get("/w/acme/reviews/?status=all")
        self.assertContains(queue, '<span class="badge unrated">Unrated</span>', count=1)
        self.assertContains(queue, '<span class="badge neutral">Neutral</span>', count=1)
        unrated = self.client.get("/w/acme/reviews/?status=all&rating=unrated").context["rows"]
        self.assertEqual([review.pk for review in unrated], [self.review.pk])
        neutral = self.client.get("/w/acme/reviews/?status=all&rating=neutral").context["rows"]
        self.assertNotIn(self.review.pk, [review.pk for review in neutral])
        runs = self.client.get("/w/acme/runs/?col=review")
        self.assertContains(runs, '<span class="badge unrated">Unrated</span>', count=1)

    def test_the_stats_count_it_apart_from_neutral(self):
        by_rating = {item["value"]: item["count"] for item in self.api("reviews/stats")["by_rating"]}
        self.assertEqual(by_rating, {"good": 0, "neutral": 1, "bad": 0, "unrated": 1})
        self.assertContains(
            self.client.get("/w/acme/reviews/stats/"), '<span class="badge unrated">Unrated</span>'
        )

    def test_the_api_and_the_evaluation_export_give_no_rating(self):
        self.assertIsNone(self.api(f"reviews/{self.review.pk}")["rating"])
        export = self.client.get("/w/acme/reviews/evaluation.jsonl?status=all")
        lines = b"".join(export.streaming_content).decode().splitlines()
        ratings = {
            json.loads(line)["review"]["run_id"]: json.loads(line)["review"]["rating"] for line in lines
        }
        self.assertEqual(ratings, {"r-1": None, "r-2": "neutral"})

    def test_a_person_rates_it_through_the_form_which_asks_for_a_rating(self):
        edit = f"/w/acme/reviews/{self.review.pk}/edit/"
        data = {"comment": self.review.comment, "priority": self.review.priority}
        page = self.client.get(f"/w/acme/reviews/{self.review.pk}/")
        self.assertNotContains(page, 'value="neutral" checked')
        self.assertIn("rating", self.client.post(edit, data).context["form"].errors)
        self.client.post(edit, {**data, "rating": "good"})
        self.review.refresh_from_db()
        self.assertEqual(self.review.rating, "good")
        self.assertEqual(self.review.activity.last().changes["rating"], ["", "good"])


class UnratedMigrationTest(TestCase):
    def test_rule_reviews_nobody_edited_become_unrated(self):
        migration = importlib.import_module("traces.migrations.0024_rule_reviews_unrated")
        workspace = make_workspace()
        rule = ReviewRule.objects.create(workspace=workspace, name="Failures", filter="status=failed")
        untouched, started, edited, filed = (
            make_review(make_run(workspace), rating="neutral", rule=rule if i < 3 else None) for i in range(4)
        )
        started.activity.create(actor="ann", action="started", changes={"status": ["open", "in_review"]})
        edited.activity.create(actor="ann", action="edited", changes={"priority": ["medium", "high"]})
        migration.unrate_untouched_rule_reviews(django_apps, None)
        ratings = [Review.objects.get(pk=review.pk).rating for review in (untouched, started, edited, filed)]
        self.assertEqual(ratings, ["", "", "neutral", "neutral"])
