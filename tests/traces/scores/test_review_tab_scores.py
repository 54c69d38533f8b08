from django.test import TestCase

from backoffice.models import Role
from tests.factories import (
    make_cast,
    make_member,
    make_message,
    make_review,
    make_run,
    make_score,
    make_score_config,
    make_session,
    make_workspace,
)
from traces.models import Score


class ReviewTabScoresTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.second = make_member(cls.workspace, Role.REVIEWER, username="sam")
        cls.session = make_session(cls.workspace)
        cls.scored = make_run(cls.workspace, run_id="run-1", session=cls.session)
        make_message(cls.session, run=cls.scored, role="user", content="Where is my order?", event_id="ev-q")
        cls.reply = make_message(
            cls.session, run=cls.scored, role="assistant", content="Shipped.", event_id="ev-a"
        )
        cls.helpfulness = make_score_config(cls.workspace, name="helpfulness", min_value=1, max_value=5)
        cls.tone = make_score_config(
            cls.workspace,
            name="tone",
            data_type="categorical",
            categories=[{"label": "ok", "value": 0}, {"label": "rude", "value": 1}],
        )
        cls.hallucination = make_score_config(cls.workspace, name="hallucination", data_type="boolean")
        make_score_config(cls.workspace, name="retired", archived=True)
        cls.foreign = make_run(cls.cast["other_workspace"], run_id="run-elsewhere")

    def post(self, run_id="run-1", user="reviewer", **data):
        self.client.force_login(user if not isinstance(user, str) else self.cast[user])
        return self.client.post(f"/w/acme/runs/{run_id}/scores/", data)

    def fields(self, helpfulness="", tone="", hallucination="", **rest):
        fields = {
            f"config_{self.helpfulness.pk}": helpfulness,
            f"config_{self.tone.pk}": tone,
            f"config_{self.hallucination.pk}": hallucination,
            **rest,
        }
        return {f"score-{name}": value for name, value in fields.items()}

    def test_a_reviewer_gets_a_field_per_active_config(self):
        self.client.force_login(self.cast["reviewer"])
        response = self.client.get("/w/acme/runs/run-1/review/")
        self.assertContains(response, "Your scores")
        form = response.context["score_form"]
        self.assertEqual(
            [field.label for field in form.config_fields()], ["hallucination", "helpfulness", "tone"]
        )
        self.assertContains(response, "Score this reply")

    def test_a_reviewers_scores_are_saved_and_scoring_again_replaces_them(self):
        response = self.post(**self.fields(helpfulness="4", tone="rude", comment="Curt answer"))
        self.assertRedirects(response, "/w/acme/runs/run-1/review/#scores", fetch_redirect_response=False)
        self.post(**self.fields(helpfulness="5"))
        scores = {score.name: score for score in Score.objects.all()}
        self.assertEqual(sorted(scores), ["helpfulness", "tone"])
        self.assertEqual((scores["helpfulness"].value, scores["helpfulness"].source), (5.0, "reviewer"))
        self.assertEqual((scores["tone"].string_value, scores["tone"].user), ("rude", self.cast["reviewer"]))

    def test_several_reviewers_each_keep_their_own_scores_on_a_reply(self):
        self.post(**self.fields(helpfulness="4", target="ev-a"))
        self.post(user=self.second, **self.fields(helpfulness="2", target="ev-a"))
        rows = Score.objects.order_by("value").values_list("user", "author", "value", "message__event_id")
        reviewer = self.cast["reviewer"]
        expected = [(self.second.pk, "sam", 2.0, "ev-a"), (reviewer.pk, reviewer.username, 4.0, "ev-a")]
        self.assertEqual(list(rows), expected)

    def test_a_value_its_config_refuses_is_shown_on_its_field(self):
        response = self.client_post_htmx(**self.fields(helpfulness="9"))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "<html")
        self.assertIn(f"config_{self.helpfulness.pk}", response.context["score_form"].errors)
        self.assertFalse(Score.objects.exists())

    def test_from_the_tab_it_answers_the_scores_pane(self):
        response = self.client_post_htmx(**self.fields(hallucination="true"))
        self.assertContains(response, 'id="scores"')
        self.assertContains(response, "Saved.")
        self.assertNotContains(response, "<html")
        self.assertEqual(Score.objects.get().string_value, "true")

    def client_post_htmx(self, **data):
        self.client.force_login(self.cast["reviewer"])
        return self.client.post("/w/acme/runs/run-1/scores/", data, headers={"HX-Request": "true"})

    def test_viewers_cannot_score_and_outsiders_get_404(self):
        self.assertEqual(self.post(user="viewer", **self.fields(helpfulness="3")).status_code, 403)
        self.assertEqual(self.post(run_id="run-elsewhere", **self.fields(helpfulness="3")).status_code, 404)
        self.assertFalse(Score.objects.exists())

    def test_scoring_leaves_the_one_review_of_the_run_as_it_is(self):
        review = make_review(self.scored)
        self.post(**self.fields(helpfulness="3"))
        self.client.force_login(self.cast["reviewer"])
        response = self.client.get("/w/acme/runs/run-1/review/")
        self.assertEqual(response.context["review"], review)
        self.assertEqual(len(response.context["scores"]), 1)

    def test_the_tab_costs_the_same_queries_whatever_the_scores(self):
        self.client.force_login(self.cast["reviewer"])
        self.client.get("/w/acme/runs/run-1/review/")
        for count in (2, 20):
            while Score.objects.count() < count:
                make_score(self.scored, message=self.reply, author="judge")
            # session, user, membership, run, review, turns, score configs, scores
            with self.assertNumQueries(8):
                response = self.client.get("/w/acme/runs/run-1/review/")
            self.assertEqual(len(response.context["scores"]), count)
            with self.assertNumQueries(0):
                str(response.content)
