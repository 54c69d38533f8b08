from django.test import TestCase

from tests.factories import (
    make_agent,
    make_cast,
    make_message,
    make_review,
    make_run,
    make_session,
    make_workspace,
)
from traces.models import Review
from traces.reviews import tickets as reviews


class ReviewDetailTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        session = make_session(cls.workspace)
        agent = make_agent(cls.workspace, name="Support bot")
        cls.reviewed_run = make_run(cls.workspace, run_id="run-1", session=session, agent=agent)
        make_message(session, run=cls.reviewed_run, role="user", content="Can I get a refund?")
        cls.reply = make_message(session, run=cls.reviewed_run, role="assistant", content="Sure, refunded!")
        cls.review = reviews.file_review(
            cls.reviewed_run,
            actor="ada",
            rating="bad",
            comment="Promised a refund it cannot give.",
            target_message=cls.reply,
        )
        reviews.update_review(cls.review, actor="ada", corrected_output="Refunds take a manager's approval.")
        cls.foreign = make_review(make_run(cls.cast["other_workspace"]))

    def get(self, user="viewer", review=None):
        self.client.force_login(self.cast[user])
        return self.client.get(f"/w/acme/reviews/{(review or self.review).pk}/")

    def test_a_viewer_reads_the_review_with_its_run_conversation_and_log(self):
        response = self.get()
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<html")
        self.assertContains(response, "Promised a refund it cannot give.")
        self.assertContains(response, "Refunds take a manager&#x27;s approval.")
        self.assertContains(response, "Support bot")
        self.assertContains(response, "is-target")
        self.assertContains(response, "filed the review")
        self.assertIsNone(response.context["form"])
        self.assertEqual(response.context["moves"], ())

    def test_a_reviewer_gets_the_workflow_buttons_and_the_edit_form(self):
        response = self.get("reviewer")
        self.assertContains(response, 'data-hotkey="r"')
        self.assertContains(response, 'data-hotkey="i"')
        self.assertContains(response, "Edit review")

    def test_it_hides_reviews_of_other_workspaces(self):
        self.assertEqual(self.get(review=self.foreign).status_code, 404)
        self.assertEqual(self.get("outsider").status_code, 404)

    def test_the_page_costs_the_same_queries_for_short_and_long_conversations(self):
        session = self.reviewed_run.session
        self.client.force_login(self.cast["reviewer"])
        for turns in (2, 20):
            while self.reviewed_run.messages.count() < turns:
                make_message(session, run=self.reviewed_run, role="assistant", content="More")
            # session, user, memberships (the switcher too), review with run, turns, assignees, queues,
            # activity
            with self.assertNumQueries(8):
                response = self.client.get(f"/w/acme/reviews/{self.review.pk}/")
            self.assertEqual(len(response.context["turns"]), turns)


class ReviewChangesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        session = make_session(cls.workspace)
        cls.reviewed_run = make_run(cls.workspace, run_id="run-1", session=session)
        cls.reply = make_message(
            session, run=cls.reviewed_run, role="assistant", content="Yes", event_id="ev-a"
        )

    def setUp(self):
        self.review = reviews.file_review(
            self.reviewed_run, actor="ada", rating="bad", comment="It said yes to everything."
        )

    def post(self, verb, user="reviewer", headers=None, **data):
        self.client.force_login(self.cast[user])
        return self.client.post(f"/w/acme/reviews/{self.review.pk}/{verb}/", data, headers=headers or {})

    def edit(self, user="reviewer", **changes):
        data = {"rating": "bad", "comment": "It said yes to everything.", "priority": "medium", **changes}
        return self.post("edit", user, **data)

    def test_a_reviewer_edits_and_every_change_is_logged(self):
        reviewer = self.cast["reviewer"]
        response = self.edit(
            priority="urgent",
            assignee=reviewer.username,
            target="ev-a",
            corrected_output="It depends on the plan.",
            action="other",
            action_other="Escalated to the billing team",
            resolution_notes="Plan rules added to the prompt.",
        )
        self.assertRedirects(response, f"/w/acme/reviews/{self.review.pk}/")
        self.review.refresh_from_db()
        self.assertEqual(self.review.priority, "urgent")
        self.assertEqual(self.review.assignee, reviewer)
        self.assertEqual(self.review.target_message, self.reply)
        self.assertEqual(self.review.action_taken, "Escalated to the billing team")
        entry = self.review.activity.last()
        self.assertEqual((entry.actor, entry.action), (reviewer.username, "edited"))
        self.assertEqual(entry.changes["priority"], ["medium", "urgent"])
        self.assertEqual(entry.changes["target_message"], [None, "ev-a"])

    def test_an_action_from_the_list_is_kept_as_its_key(self):
        self.edit(action="bug_filed")
        self.review.refresh_from_db()
        self.assertEqual(self.review.action_taken, "bug_filed")

    def test_other_without_text_asks_for_the_action(self):
        response = self.edit(action="other")
        self.assertEqual(response.status_code, 200)
        self.assertIn("action_other", response.context["form"].errors)

    def test_an_invalid_edit_re_renders_with_the_reason(self):
        response = self.edit(comment="short")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "write at least 10 characters")
        self.assertContains(response, 'id="edit" open')

    def test_assignees_must_be_reviewers_or_admins(self):
        response = self.edit(assignee=self.cast["viewer"].username)
        self.assertEqual(response.status_code, 200)
        self.assertIn("assignee", response.context["form"].errors)

    def test_resolving_from_the_page_stamps_and_redirects(self):
        response = self.post("status", status="resolved")
        self.assertRedirects(response, f"/w/acme/reviews/{self.review.pk}/")
        self.review.refresh_from_db()
        self.assertEqual(self.review.resolved_by, self.cast["reviewer"].username)

    def test_a_refused_move_answers_422_with_the_reason(self):
        self.post("status", status="resolved")
        response = self.post("status", status="dismissed")
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "cannot move to dismissed", status_code=422)

    def test_the_queue_gets_the_updated_row_back(self):
        response = self.post("status", headers={"HX-Request": "true"}, status="in_review")
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "<html")
        self.assertContains(response, f'id="review-row-{self.review.pk}"')
        self.assertContains(response, "In review")

    def test_the_queue_shows_a_refused_move_in_the_row(self):
        response = self.post("status", headers={"HX-Request": "true"}, status="bogus")
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "must be one of", status_code=422)

    def test_viewers_may_not_change_anything(self):
        for verb in ("edit", "status", "delete"):
            with self.subTest(verb=verb):
                self.assertEqual(self.post(verb, "viewer", status="resolved").status_code, 403)
        self.review.refresh_from_db()
        self.assertEqual(self.review.status, "open")

    def test_outsiders_get_404(self):
        self.assertEqual(self.post("status", "outsider", status="resolved").status_code, 404)

    def test_a_reviewer_deletes_a_review_and_the_run_can_be_reviewed_again(self):
        response = self.post("delete")
        self.assertRedirects(response, "/w/acme/reviews/")
        self.assertFalse(Review.objects.exists())
        self.client.post(
            "/w/acme/runs/run-1/review/create/",
            {"rating": "good", "comment": "Fine on second look.", "priority": "low"},
        )
        self.assertEqual(Review.objects.get().rating, "good")

    def test_admins_change_reviews_too(self):
        self.assertEqual(self.post("status", "admin", status="dismissed").status_code, 302)
