from django.test import TestCase

from backoffice.models import Role
from tests.factories import make_member, make_message, make_run, make_session, make_workspace
from traces.models import Review, ReviewActivity
from traces.reviews import tickets as reviews


class FilingTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        session = make_session(cls.workspace)
        cls.reviewed_run = make_run(cls.workspace, session=session)
        cls.reply = make_message(session, run=cls.reviewed_run, role="assistant", content="Refunded!")
        cls.question = make_message(session, run=cls.reviewed_run, role="user", content="Refund?")
        cls.other_run = make_run(cls.workspace)

    def file(self, run=None, **fields):
        values = {"rating": "bad", "comment": "It promised a refund.", **fields}
        return reviews.file_review(run or self.reviewed_run, actor="ada", **values)

    def test_it_files_an_open_review_and_logs_who_filed_it(self):
        review = self.file(tags="Refund, policy ,refund", priority="high")
        self.assertEqual(review.status, "open")
        self.assertEqual(review.reviewed_by, "ada")
        self.assertEqual(review.tags, ["refund", "policy"])
        entry = review.activity.get()
        self.assertEqual((entry.actor, entry.action), ("ada", "created"))
        self.assertEqual(entry.changes["priority"], [None, "high"])

    def test_it_allows_one_review_per_run(self):
        first = self.file()
        with self.assertRaises(reviews.AlreadyReviewed) as caught:
            self.file()
        self.assertEqual(caught.exception.review, first)
        self.assertIn(f"already has review {first.pk}", str(caught.exception))

    def test_it_wants_a_comment_of_ten_characters(self):
        with self.assertRaises(reviews.ReviewError) as caught:
            self.file(comment="  too short  ")
        self.assertEqual(caught.exception.field, "comment")
        self.assertFalse(Review.objects.exists())

    def test_it_refuses_unknown_ratings_and_priorities(self):
        for field, value in (("rating", "awful"), ("priority", "asap")):
            with self.subTest(field=field), self.assertRaises(reviews.ReviewError) as caught:
                self.file(**{field: value})
            self.assertEqual(caught.exception.field, field)

    def test_it_targets_only_an_assistant_turn_of_the_same_run(self):
        self.assertEqual(self.file(target_message=self.reply).target_message, self.reply)
        with self.assertRaises(reviews.ReviewError) as caught:
            self.file(run=self.other_run, target_message=self.reply)
        self.assertEqual(caught.exception.field, "target_message")
        with self.assertRaises(reviews.ReviewError):
            reviews.check_target(self.reviewed_run, self.question)

    def test_it_refuses_tags_that_would_break_the_tag_filter(self):
        with self.assertRaises(reviews.ReviewError) as caught:
            self.file(tags=['say "hi"'])
        self.assertEqual(caught.exception.field, "tags")


class StatusTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.reviewer = make_member(cls.workspace, Role.REVIEWER, username="rita")

    def setUp(self):
        self.review = reviews.file_review(
            make_run(self.workspace), actor="ada", rating="bad", comment="It promised a refund."
        )

    def move(self, status, **fields):
        return reviews.update_review(self.review, actor="rita", user=self.reviewer, status=status, **fields)

    def test_resolving_stamps_who_and_when(self):
        self.move("resolved", corrected_output="No refund is possible, sorry.")
        self.review.refresh_from_db()
        self.assertEqual(self.review.status, "resolved")
        self.assertEqual(self.review.resolved_by, "rita")
        self.assertIsNotNone(self.review.resolved_at)
        entry = self.review.activity.last()
        self.assertEqual(entry.action, "resolved")
        self.assertEqual(entry.changes["status"], ["open", "resolved"])
        self.assertEqual(entry.changes["corrected_output"], ["", "No refund is possible, sorry."])

    def test_reopening_clears_the_stamps_and_the_log_keeps_the_history(self):
        self.move("resolved")
        self.move("open")
        self.review.refresh_from_db()
        self.assertEqual(
            (self.review.status, self.review.resolved_by, self.review.resolved_at), ("open", "", None)
        )
        actions = list(self.review.activity.values_list("action", flat=True))
        self.assertEqual(actions, ["created", "resolved", "reopened"])

    def test_starting_a_review_assigns_it_to_whoever_started_it(self):
        self.move("in_review")
        self.assertEqual(self.review.assignee, self.reviewer)
        self.assertEqual(self.review.activity.last().changes["assignee"], [None, "rita"])

    def test_every_allowed_move_lands(self):
        for start, targets in reviews.TRANSITIONS.items():
            for target in targets:
                with self.subTest(start=start, target=target):
                    Review.objects.filter(pk=self.review.pk).update(status=start)
                    self.review.refresh_from_db()
                    self.move(target)
                    self.assertEqual(Review.objects.get(pk=self.review.pk).status, target)

    def test_closed_reviews_only_reopen(self):
        for closed in ("resolved", "dismissed"):
            for target in ("in_review", "resolved", "dismissed"):
                if target == closed:
                    continue
                with self.subTest(closed=closed, target=target):
                    Review.objects.filter(pk=self.review.pk).update(status=closed)
                    self.review.refresh_from_db()
                    with self.assertRaises(reviews.ReviewError) as caught:
                        self.move(target)
                    self.assertEqual(caught.exception.field, "status")

    def test_an_unknown_status_names_the_field(self):
        with self.assertRaises(reviews.ReviewError) as caught:
            self.move("done")
        self.assertEqual(caught.exception.field, "status")

    def test_a_change_to_nothing_logs_nothing(self):
        self.assertEqual(reviews.update_review(self.review, actor="rita", rating="bad"), {})
        self.assertEqual(ReviewActivity.objects.filter(review=self.review).count(), 1)

    def test_actions_are_from_the_list_or_free_text(self):
        self.move(None, action_taken="prompt_changed")
        self.assertEqual(reviews.action_label(self.review.action_taken), "Prompt changed")
        self.move(None, action_taken="  Escalated   to legal ")
        self.assertEqual(self.review.action_taken, "Escalated to legal")
        with self.assertRaises(reviews.ReviewError):
            self.move(None, action_taken="x" * 201)
