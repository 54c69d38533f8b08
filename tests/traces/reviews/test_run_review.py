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


class RunReviewTabTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        session = make_session(cls.workspace)
        cls.unreviewed = make_run(cls.workspace, run_id="run-1", session=session, output={"text": "Done"})
        make_message(session, run=cls.unreviewed, role="user", content="Where is my order?", event_id="ev-q")
        cls.reply = make_message(
            session, run=cls.unreviewed, role="assistant", content="It shipped <b>today</b>.", event_id="ev-a"
        )
        cls.reviewed = make_run(cls.workspace, run_id="run-2")
        cls.review = make_review(
            cls.reviewed, comment="Ignored the user's question.", corrected_output="Fixed"
        )
        cls.foreign = make_run(cls.cast["other_workspace"], run_id="run-elsewhere")

    def get(self, run_id="run-1", user="reviewer", query="", **headers):
        self.client.force_login(self.cast[user])
        return self.client.get(f"/w/acme/runs/{run_id}/review/{query}", headers=headers)

    def test_a_reviewer_gets_the_form_beside_the_conversation(self):
        response = self.get()
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<html")
        self.assertContains(response, "File a review")
        self.assertContains(response, "Review this reply")
        self.assertContains(response, "It shipped &lt;b&gt;today&lt;/b&gt;.")

    def test_a_reply_picked_from_its_bubble_is_the_target_and_the_original(self):
        response = self.get(query="?message=ev-a")
        self.assertEqual(response.context["form"]["target"].value(), "ev-a")
        self.assertContains(response, '<option value="ev-a" selected>')
        self.assertContains(response, "is-target")

    def test_a_viewer_reads_but_gets_no_form(self):
        response = self.get(user="viewer")
        self.assertEqual(response.status_code, 200)
        self.assertIsNone(response.context["form"])
        self.assertContains(response, "No review yet")

    def test_a_reviewed_run_shows_its_review_instead_of_a_form(self):
        response = self.get("run-2")
        self.assertIsNone(response.context["form"])
        self.assertContains(response, "Ignored the user&#x27;s question.")
        self.assertContains(response, f"/w/acme/reviews/{self.review.pk}/")

    def test_it_is_a_tab_of_the_run_page(self):
        response = self.get()
        self.assertContains(response, 'id="tab-review"')
        self.assertContains(response, 'id="run-header"')
        self.assertEqual(response.context["current_tab"], "review")

    def test_chat_bubbles_offer_reviewers_to_review_a_reply(self):
        link = "/w/acme/runs/run-1/review/?message=ev-a#review-form"
        self.client.force_login(self.cast["reviewer"])
        self.assertContains(self.client.get("/w/acme/runs/run-1/chat/"), link)
        self.client.force_login(self.cast["viewer"])
        self.assertNotContains(self.client.get("/w/acme/runs/run-1/chat/"), "Review this reply")

    def test_htmx_gets_the_tab_without_the_page(self):
        response = self.get(HX_Request="true")
        self.assertNotContains(response, "<html")
        self.assertContains(response, 'id="review-tab"')

    def test_it_hides_other_workspaces_runs(self):
        self.assertEqual(self.get("run-elsewhere").status_code, 404)
        self.assertEqual(self.get(user="outsider").status_code, 404)

    def test_the_tab_costs_the_same_queries_for_a_long_conversation(self):
        agent = make_agent(self.workspace)
        session = make_session(self.workspace)
        run = make_run(self.workspace, run_id="run-long", session=session, agent=agent)
        self.client.force_login(self.cast["reviewer"])
        for turns in (2, 20):
            while run.messages.count() < turns:
                make_message(session, run=run, role="assistant", content="More")
            # session, user, membership, run, review, turns, score configs, scores
            with self.assertNumQueries(8):
                response = self.client.get("/w/acme/runs/run-long/review/", headers={"HX-Request": "true"})
            self.assertEqual(len(response.context["turns"]), turns)
            with self.assertNumQueries(8):  # the switcher's list came with the membership
                self.client.get("/w/acme/runs/run-long/review/")


class ReviewCreateTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        session = make_session(cls.workspace)
        cls.target_run = make_run(cls.workspace, run_id="run-1", session=session)
        cls.reply = make_message(
            session, run=cls.target_run, role="assistant", content="Yes", event_id="ev-a"
        )
        cls.foreign = make_run(cls.cast["other_workspace"], run_id="run-elsewhere")

    def post(self, user="reviewer", run_id="run-1", **data):
        self.client.force_login(self.cast[user])
        fields = {"rating": "bad", "comment": "It said yes to everything.", "priority": "high", **data}
        return self.client.post(f"/w/acme/runs/{run_id}/review/create/", fields)

    def test_a_reviewer_files_a_review_aimed_at_a_reply(self):
        response = self.post(target="ev-a", tags="yes-man, tone", corrected_output="It depends on your plan.")
        self.assertRedirects(response, "/w/acme/runs/run-1/review/")
        review = Review.objects.get(run=self.target_run)
        self.assertEqual(review.target_message, self.reply)
        self.assertEqual(review.tags, ["yes-man", "tone"])
        self.assertEqual(review.reviewed_by, self.cast["reviewer"].username)
        self.assertEqual(review.corrected_output, "It depends on your plan.")
        self.assertEqual(review.activity.get().action, "created")

    def test_admins_file_reviews_too(self):
        self.assertEqual(self.post(user="admin").status_code, 302)

    def test_viewers_may_not_file(self):
        self.assertEqual(self.post(user="viewer").status_code, 403)
        self.assertFalse(Review.objects.exists())

    def test_outsiders_get_404(self):
        self.assertEqual(self.post(user="outsider").status_code, 404)
        self.assertEqual(self.post(run_id="run-elsewhere").status_code, 404)

    def test_a_short_comment_re_renders_the_form_with_the_reason(self):
        response = self.post(comment="meh")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "write at least 10 characters")
        self.assertFalse(Review.objects.exists())

    def test_a_reply_of_another_run_is_refused(self):
        response = self.post(target="ev-nope")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["form"].errors["target"])

    def test_a_second_review_is_not_filed(self):
        self.post()
        response = self.post(comment="A second opinion on this run.")
        self.assertRedirects(response, "/w/acme/runs/run-1/review/")
        self.assertEqual(Review.objects.get().comment, "It said yes to everything.")

    def test_get_is_not_allowed(self):
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.get("/w/acme/runs/run-1/review/create/").status_code, 405)
