"""Reviewer agreement against figures computed by hand (the working is in the comments)."""

import math

from django.test import TestCase

from backoffice.models import Role
from tests.factories import (
    make_api_key,
    make_cast,
    make_member,
    make_message,
    make_run,
    make_score,
    make_score_config,
    make_session,
    make_workspace,
)
from traces.scores.agreement import agreement, cohens_kappa, fleiss_kappa

TONE = [  # one row per run: reviewers a, b, c (None: not scored)
    ("ok", "ok", "ok"),
    ("ok", "rude", "ok"),
    ("rude", "rude", None),
    ("ok", "ok", "rude"),
]
HELPFULNESS = [(1, 2), (2, 4), (3, 7)]  # reviewers a, b


class AgreementTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.raters = [
            make_member(cls.workspace, Role.REVIEWER, username=name) for name in ("ann", "bob", "cy")
        ]
        make_score_config(
            cls.workspace,
            name="tone",
            data_type="categorical",
            categories=[{"label": "ok", "value": 0}, {"label": "rude", "value": 1}],
        )
        make_score_config(cls.workspace, name="helpfulness")
        make_score_config(cls.workspace, name="unscored")
        session = make_session(cls.workspace)
        for n, labels in enumerate(TONE):
            run = make_run(cls.workspace, run_id=f"tone-{n}", session=session)
            for user, label in zip(cls.raters, labels, strict=True):
                if label:
                    cls.give(run, user, "tone", string_value=label, data_type="categorical")
        for n, values in enumerate(HELPFULNESS):
            run = make_run(cls.workspace, run_id=f"help-{n}", session=session)
            reply = make_message(session, run=run, role="assistant", content="Hi")
            for user, value in zip(cls.raters, values, strict=False):
                cls.give(run, user, "helpfulness", value=float(value), message=reply)
        # Not agreement: one reviewer alone, a judge's score, a score of another workspace.
        lone = make_run(cls.workspace, run_id="lone", session=session)
        cls.give(lone, cls.raters[0], "tone", string_value="ok", data_type="categorical")
        make_score(lone, name="tone", data_type="categorical", string_value="rude", source="judge")
        foreign = make_run(cls.cast["other_workspace"])
        make_score(foreign, name="tone", string_value="rude", source="reviewer", user=cls.raters[1])

    @classmethod
    def give(cls, run, user, name, **fields):
        make_score(run, name=name, source="reviewer", user=user, author=user.username, **fields)

    def test_cohens_and_fleiss_kappa_match_the_hand_computed_figures(self):
        # a-b: 3/4 agree; p_e = .75·.5 + .25·.5 = .5 → (.75 − .5)/.5
        self.assertAlmostEqual(cohens_kappa(["ok", "ok", "rude", "ok"], ["ok", "rude", "rude", "ok"]), 0.5)
        # P_i = 1, 1/3, 1, 1/3 → P̄ = 2/3; p = 7/11, 4/11 → P̄e = 65/121; κ = 47/168
        items = [["ok", "ok", "ok"], ["ok", "rude", "ok"], ["rude", "rude"], ["ok", "ok", "rude"]]
        self.assertAlmostEqual(fleiss_kappa(items), 47 / 168)
        self.assertIsNone(cohens_kappa(["ok", "ok"], ["ok", "ok"]))  # one category: undefined

    def test_the_workspaces_agreement_per_config_and_reviewer_pair(self):
        with self.assertNumQueries(2):
            found = {config.name: config for config in agreement(self.workspace)}
        self.assertEqual(sorted(found), ["helpfulness", "tone"])
        tone = found["tone"]
        # Pairs on each run: 3 of 3 agree, 1 of 3, 1 of 1, 1 of 3 → 6 of 10.
        self.assertEqual((tone.items, tone.reviewers), (4, 3))
        self.assertAlmostEqual(tone.agreement, 0.6)
        self.assertAlmostEqual(tone.fleiss_kappa, 47 / 168)
        pairs = {(pair.first, pair.second): pair for pair in tone.pairs}
        # a-c: 2/3 agree, p_e = 1·2/3 → 0. b-c: 1/3 agree, p_e = 5/9 → (1/3 − 5/9)/(4/9) = −.5.
        expected = {
            ("ann", "bob"): (4, 0.75, 0.5),
            ("ann", "cy"): (3, 2 / 3, 0.0),
            ("bob", "cy"): (3, 1 / 3, -0.5),
        }
        for key, (shared, agreed, kappa) in expected.items():
            with self.subTest(pair=key):
                self.assertEqual(pairs[key].shared, shared)
                self.assertAlmostEqual(pairs[key].agreement, agreed)
                self.assertAlmostEqual(pairs[key].kappa, kappa)
        helpfulness = found["helpfulness"]
        (pair,) = helpfulness.pairs
        # a = 1, 2, 3; b = 2, 4, 7: Σdadb = 5, Σda² = 2, Σdb² = 114/9 → r = 15/√228
        self.assertAlmostEqual(pair.correlation, 15 / math.sqrt(228))
        self.assertEqual((pair.agreement, helpfulness.fleiss_kappa), (0, None))

    def test_the_stats_page_shows_agreement(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get("/w/acme/reviews/stats/")
        self.assertContains(response, "Reviewer agreement")
        self.assertContains(response, '<strong data-figure="agreement">60%</strong>', html=False)
        self.assertContains(response, '<strong data-figure="fleiss">0.28</strong>', html=False)
        self.assertContains(response, "Correlation (Pearson)")

    def test_the_stats_api_gives_the_same_figures(self):
        _, key = make_api_key(self.workspace, scopes=["read"])
        response = self.client.get("/api/v1/reviews/stats", headers={"Authorization": f"Bearer {key}"})
        self.assertEqual(response.status_code, 200)
        found = {config["name"]: config for config in response.json()["agreement"]}
        tone = found["tone"]
        self.assertEqual((tone["data_type"], tone["items"], tone["reviewers"]), ("categorical", 4, 3))
        self.assertAlmostEqual(tone["agreement"], 0.6)
        self.assertAlmostEqual(tone["fleiss_kappa"], 47 / 168)
        pair = next(p for p in tone["pairs"] if (p["first"], p["second"]) == ("bob", "cy"))
        self.assertEqual(pair["shared"], 3)
        self.assertAlmostEqual(pair["kappa"], -0.5)
        self.assertIsNone(pair["correlation"])
        (helpfulness_pair,) = found["helpfulness"]["pairs"]
        self.assertAlmostEqual(helpfulness_pair["correlation"], 15 / math.sqrt(228))
