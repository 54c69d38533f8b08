import json

from django.test import TestCase

from backoffice.models import AuditEntry
from tests.factories import (
    make_api_key,
    make_message,
    make_run,
    make_score,
    make_score_config,
    make_session,
    make_task,
    make_workspace,
)
from traces.models import Score, ScoreConfig


class ScoresApiTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        _, cls.key = make_api_key(cls.workspace, label="judge-pipeline", scopes=("ingest",))
        _, cls.reader = make_api_key(cls.workspace, label="reader", scopes=("read",))
        cls.session = make_session(cls.workspace, session_id="conv-1")
        cls.scored_run = make_run(cls.workspace, run_id="run-1", session=cls.session)
        cls.task = make_task(cls.scored_run, step_id="step-1")
        cls.reply = make_message(
            cls.session, run=cls.scored_run, role="assistant", content="Yes", event_id="ev-a"
        )
        cls.other = make_workspace()
        cls.foreign = make_run(cls.other, run_id="run-elsewhere")
        make_score_config(cls.workspace, name="helpfulness", data_type="numeric", min_value=1, max_value=5)
        make_score_config(
            cls.workspace,
            name="tone",
            data_type="categorical",
            categories=[
                {"label": "ok", "value": 0},
                {"label": "curt", "value": 1},
                {"label": "rude", "value": 2},
            ],
        )
        make_score_config(cls.workspace, name="hallucination", data_type="boolean")

    def call(self, method, path, body=None, key=None):
        headers = {"Authorization": f"Bearer {key or self.key}"}
        if body is None:
            return getattr(self.client, method)("/api/v1" + path, headers=headers)
        return getattr(self.client, method)(
            "/api/v1" + path, json.dumps(body), content_type="application/json", headers=headers
        )

    def score(self, **fields):
        return self.call("post", "/scores", {"run_id": "run-1", **fields})

    def test_it_stores_a_numeric_score_within_its_range(self):
        response = self.score(name="helpfulness", value=4, comment="Clear", id="s-1")
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual((body["id"], body["value"], body["data_type"]), ("s-1", 4.0, "numeric"))
        self.assertEqual(
            (body["source"], body["author"], body["session_id"]), ("api", "judge-pipeline", "conv-1")
        )

    def test_a_score_outside_its_configs_range_is_rejected_naming_the_value(self):
        response = self.score(name="helpfulness", value=9)
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["field"], "value")
        self.assertIn("above the maximum", response.json()["detail"])
        self.assertFalse(Score.objects.exists())

    def test_a_categorical_score_must_be_one_of_its_labels(self):
        response = self.score(name="tone", value="rude", message_id="ev-a")
        self.assertEqual(response.status_code, 201)
        self.assertEqual((response.json()["value"], response.json()["numeric_value"]), ("rude", 2.0))
        self.assertEqual(response.json()["message_id"], "ev-a")
        bad = self.score(name="tone", value="sarcastic")
        self.assertEqual((bad.status_code, bad.json()["field"]), (422, "value"))
        self.assertIn("ok, curt, rude", bad.json()["detail"])

    def test_a_type_other_than_the_configs_is_rejected_naming_data_type(self):
        response = self.score(name="hallucination", value=3, data_type="numeric")
        self.assertEqual((response.status_code, response.json()["field"]), (422, "data_type"))

    def test_a_boolean_score_takes_true_false_or_one_zero(self):
        for value, expected in ((True, True), (0, False), ("true", True)):
            with self.subTest(value=value):
                response = self.score(name="hallucination", value=value, task_id="step-1")
                self.assertEqual(response.status_code, 201)
                self.assertIs(response.json()["value"], expected)
                self.assertEqual(response.json()["task_id"], "step-1")
        self.assertEqual(self.score(name="hallucination", value="maybe").json()["field"], "value")

    def test_a_score_without_a_config_takes_its_type_from_the_value(self):
        response = self.score(name="latency_ok", value=True)
        self.assertEqual((response.status_code, response.json()["data_type"]), (201, "boolean"))

    def test_sending_the_same_id_again_replaces_the_score(self):
        self.assertEqual(self.score(name="helpfulness", value=2, id="s-9").status_code, 201)
        again = self.score(name="helpfulness", value=5, id="s-9")
        self.assertEqual(again.status_code, 200)
        self.assertEqual(Score.objects.get().value, 5.0)

    def test_what_the_score_names_must_be_in_the_workspace(self):
        for fields, field in (
            ({"run_id": "run-elsewhere"}, "run_id"),
            ({"task_id": "nope"}, "task_id"),
            ({"message_id": "nope"}, "message_id"),
            ({"session_id": "nope"}, "session_id"),
            ({"run_id": None}, "run_id"),
        ):
            with self.subTest(field=field):
                response = self.score(name="helpfulness", value=3, **fields)
                self.assertEqual((response.status_code, response.json()["field"]), (422, field))

    def test_a_conversation_alone_can_be_scored(self):
        response = self.score(run_id=None, session_id="conv-1", name="helpfulness", value=3)
        self.assertEqual((response.status_code, response.json()["run_id"]), (201, None))

    def test_missing_fields_and_keys_without_the_ingest_scope_are_refused(self):
        self.assertEqual(self.call("post", "/scores", {"run_id": "run-1"}).json()["field"], "name")
        refused = self.call("post", "/scores", {"run_id": "run-1", "name": "x", "value": 1}, key=self.reader)
        self.assertEqual((refused.status_code, refused.json()["field"]), (403, "scope"))

    def test_a_batch_answers_per_score_and_stores_the_valid_ones(self):
        scores = [
            {"run_id": "run-1", "name": "helpfulness", "value": 3},
            {"run_id": "run-1", "name": "helpfulness", "value": 0},
            {"run_id": "run-1", "name": "tone", "value": "ok", "source": "judge"},
        ]
        response = self.call("post", "/scores/batch", {"scores": scores})
        self.assertEqual(response.status_code, 207)
        body = response.json()
        self.assertEqual((body["created"], body["rejected"]), (2, 1))
        self.assertEqual((body["results"][1]["field"], body["results"][1]["status"]), ("value", "rejected"))
        self.assertEqual(Score.objects.get(name="tone").source, "judge")

    def test_it_lists_scores_by_run_and_name_in_keyset_pages(self):
        for n in range(5):
            make_score(self.scored_run, name="helpfulness", value=n, client_id=f"h{n}")
        make_score(self.scored_run, name="tone", data_type="categorical", string_value="ok", client_id="t")
        make_score(self.foreign, name="helpfulness", client_id="elsewhere")
        self.call("get", "/scores?limit=1")  # the key's first use this minute notes it
        seen, after = [], None
        while True:
            query = "/scores?run_id=run-1&name=helpfulness&limit=2" + (f"&after={after}" if after else "")
            with self.assertNumQueries(2):  # the key, the page
                page = self.call("get", query).json()
            seen += [item["id"] for item in page["items"]]
            after = page["next_after"]
            if not after:
                break
        self.assertEqual(seen, ["h4", "h3", "h2", "h1", "h0"])
        self.assertEqual(self.call("get", "/scores?after=bogus").json()["field"], "after")

    def test_a_runs_scores_appear_in_the_run(self):
        make_score(self.scored_run, name="helpfulness", value=4, client_id="mine")
        response = self.call("get", "/runs/run-1", key=self.reader)
        self.assertEqual([s["id"] for s in response.json()["scores"]], ["mine"])

    def test_score_configs_are_listed_added_and_audited(self):
        body = {
            "name": "accuracy",
            "data_type": "categorical",
            "categories": [{"label": "right", "value": 1}, {"label": "wrong", "value": 0}],
        }
        response = self.call("post", "/score-configs", body)
        self.assertEqual(response.status_code, 201)
        self.assertEqual(self.call("post", "/score-configs", body).status_code, 409)
        names = [config["name"] for config in self.call("get", "/score-configs").json()]
        self.assertEqual(names, ["accuracy", "hallucination", "helpfulness", "tone"])
        entry = AuditEntry.objects.get(action="score_config.created")
        self.assertEqual(entry.target, "accuracy")
        self.assertTrue(entry.actor_name.startswith("key judge-pipeline ("), entry.actor_name)

    def test_a_config_that_contradicts_itself_is_rejected_naming_the_field(self):
        for body, field in (
            ({"data_type": "categorical"}, "categories"),
            ({"data_type": "numeric", "min_value": 5, "max_value": 1}, "max_value"),
            ({"data_type": "boolean", "min_value": 0}, "min_value"),
            (
                {
                    "data_type": "categorical",
                    "categories": [{"label": "a", "value": 1}, {"label": "a", "value": 2}],
                },
                "categories.1.label",
            ),
        ):
            with self.subTest(field=field):
                response = self.call("post", "/score-configs", {"name": "x", **body})
                self.assertEqual((response.status_code, response.json()["field"]), (422, field))
        self.assertFalse(ScoreConfig.objects.filter(name="x").exists())
