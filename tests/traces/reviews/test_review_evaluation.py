"""The evaluation dataset: a reviewed set as JSONL and CSV, from the pages and the API."""

import csv
import io
import json
from datetime import timedelta
from unittest.mock import patch

from django.test import TestCase
from django.utils import timezone

from backoffice.models import Role
from tests.factories import (
    make_agent,
    make_api_key,
    make_cast,
    make_member,
    make_message,
    make_review,
    make_run,
    make_score,
    make_session,
    make_workspace,
)
from traces.reviews.evaluation import COLUMNS

PAGE = "/w/acme/reviews/evaluation"
API = "/api/v1/reviews/export/evaluation"


class EvaluationExportTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.rita = make_member(cls.workspace, Role.REVIEWER, username="rita")
        bot = make_agent(cls.workspace, agent_id="support-bot")
        filed = timezone.now() - timedelta(days=3)

        session = make_session(cls.workspace)
        corrected = make_run(cls.workspace, run_id="run-corrected", session=session, agent=bot)
        make_message(session, run=corrected, role="user", content="Where is order 1042?")
        make_message(session, run=corrected, role="assistant", content="It arrived yesterday.")
        cls.corrected = make_review(
            corrected,
            status="resolved",
            rating="bad",
            comment='=HYPERLINK("http://evil.example")',
            tags=["lost-parcel", "tone"],
            resolution_notes="@SUM(A1:A2)",
            corrected_output="-1 parcels are lost; I opened a claim.",
            created_at=filed,
        )
        # An open review of a run without chat turns: its input and output; nothing corrected.
        accepted = make_run(
            cls.workspace, run_id="run-accepted", agent=bot, input="+31 6 1234", output="Done."
        )
        cls.accepted = make_review(
            accepted,
            status="open",
            rating="good",
            comment="Fine answer.",
            assignee=cls.rita,
            created_at=filed + timedelta(hours=1),
        )
        # Still running: nothing answered yet, nothing expected.
        running = make_run(cls.workspace, run_id="run-running", status="running", input="Hello?", output=None)
        make_review(running, status="in_review", rating="neutral", created_at=filed + timedelta(hours=2))
        make_review(
            make_run(cls.cast["other_workspace"], run_id="run-elsewhere", output="Hi"), status="resolved"
        )

    def page(self, extension, query="", user="viewer"):
        self.client.force_login(self.cast[user])
        return self.client.get(f"{PAGE}.{extension}{query}")

    def lines(self, response):
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.streaming)
        return b"".join(response.streaming_content).decode().splitlines()

    def items(self, query="?status=all"):
        return [json.loads(line) for line in self.lines(self.page("jsonl", query))]

    def rows(self, response):
        return list(csv.DictReader(io.StringIO("\n".join(self.lines(response)))))

    def test_each_review_is_an_input_an_expected_output_and_its_verdict(self):
        items = self.items()
        self.assertEqual(
            [item["review"]["run_id"] for item in items], ["run-corrected", "run-accepted", "run-running"]
        )
        corrected, accepted, running = items
        self.assertEqual(corrected["input"], [{"role": "user", "content": "Where is order 1042?"}])
        self.assertEqual(corrected["output"], "It arrived yesterday.")
        self.assertEqual(corrected["expected_output"], "-1 parcels are lost; I opened a claim.")
        self.assertEqual(
            corrected["review"],
            {
                "id": self.corrected.pk,
                "run_id": "run-corrected",
                "agent_id": "support-bot",
                "status": "resolved",
                "rating": "bad",
                "tags": ["lost-parcel", "tone"],
                "comment": '=HYPERLINK("http://evil.example")',
                "resolution_notes": "@SUM(A1:A2)",
                "action_taken": "",
                "was_corrected": True,
            },
        )
        self.assertEqual(accepted["input"], [{"role": "user", "content": "+31 6 1234"}])
        self.assertEqual((accepted["output"], accepted["expected_output"]), ("Done.", "Done."))
        self.assertEqual((running["output"], running["expected_output"]), (None, None))
        self.assertEqual(running["review"]["agent_id"], None)

    def test_each_item_carries_its_runs_scores(self):
        run = self.corrected.run
        make_score(run, name="helpfulness", value=2, source="reviewer", author="rita", comment="Vague.")
        make_score(run, name="hallucination", data_type="boolean", value=1, string_value="true")
        make_score(run, name="tone", data_type="categorical", value=2, string_value="rude", source="judge")
        corrected, accepted, _ = self.items()
        self.assertEqual(
            [(score["name"], score["value"]) for score in corrected["scores"]],
            [("hallucination", True), ("helpfulness", 2.0), ("tone", "rude")],
        )
        self.assertEqual(corrected["scores"][1]["author"], "rita")
        self.assertEqual(corrected["scores"][2]["source"], "judge")
        self.assertEqual(accepted["scores"], [])
        rows = self.rows(self.page("csv", "?status=all"))
        self.assertEqual(rows[0]["scores"], "hallucination=true; helpfulness=2; tone=rude")
        self.assertEqual(rows[1]["scores"], "")

    def test_it_takes_the_review_lists_filters(self):
        cases = {
            "": ["run-accepted", "run-running"],  # the list's default: the active queue
            "?status=resolved": ["run-corrected"],
            "?status=all&rating=good": ["run-accepted"],
            "?status=all&assignee=rita": ["run-accepted"],
            "?status=all&assignee=none": ["run-corrected", "run-running"],
            "?status=all&q=claim": ["run-corrected"],
            "?status=all&tag=tone&agent=support-bot": ["run-corrected"],
        }
        for query, runs in cases.items():
            with self.subTest(query=query):
                self.assertEqual([item["review"]["run_id"] for item in self.items(query)], runs)

    def test_the_csv_has_a_row_per_review_with_formulas_written_as_text(self):
        response = self.page("csv", "?status=all")
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertIn('attachment; filename="evaluation-acme-', response["Content-Disposition"])
        self.assertTrue(response["Content-Disposition"].endswith('.csv"'))
        rows = self.rows(response)
        self.assertEqual(list(rows[0]), list(COLUMNS))
        first = rows[0]
        self.assertEqual(first["comment"], '\'=HYPERLINK("http://evil.example")')
        self.assertEqual(first["resolution_notes"], "'@SUM(A1:A2)")
        self.assertEqual(first["expected_output"], "'-1 parcels are lost; I opened a claim.")
        self.assertEqual(first["tags"], "lost-parcel, tone")
        self.assertEqual(first["was_corrected"], "yes")
        self.assertEqual(first["last_user_message"], "Where is order 1042?")
        self.assertEqual(json.loads(first["input"]), [{"role": "user", "content": "Where is order 1042?"}])
        self.assertEqual(rows[1]["last_user_message"], "'+31 6 1234")
        self.assertEqual((rows[2]["output"], rows[2]["expected_output"]), ("", ""))

    def test_bad_filters_answer_400_naming_the_field(self):
        for query, field in (("?since=March", "since:"), ("?status=lost", "status:"), ("?after=x", None)):
            with self.subTest(query=query):
                response = self.page("csv", query)
                if field is None:  # paging is not a filter of the export: ignored
                    self.assertEqual(response.status_code, 200)
                    continue
                self.assertContains(response, field, status_code=400)

    def test_outsiders_get_404_and_strangers_the_login_page(self):
        self.assertEqual(self.page("jsonl", user="outsider").status_code, 404)
        self.client.logout()
        response = self.client.get(f"{PAGE}.csv")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/login", response["Location"])

    def test_it_reads_in_chunks_with_a_fixed_number_of_queries_each(self):
        self.client.force_login(self.cast["viewer"])
        for size, chunks in ((1, 3), (2, 2)):
            with self.subTest(chunk=size), patch("traces.reviews.export.CHUNK", size):
                response = self.client.get(f"{PAGE}.csv?status=all")
                # Each chunk: its reviews, their turns, their model calls (no tool turn: no task
                # query), their runs' scores.
                with self.assertNumQueries(4 * chunks):
                    rows = self.rows(response)
                self.assertEqual(len(rows), 3)

    def test_the_api_answers_both_formats_with_a_read_key(self):
        _, key = make_api_key(self.workspace, scopes=["read"])
        headers = {"Authorization": f"Bearer {key}"}
        response = self.client.get(API + "?format=csv&rating=bad", headers=headers)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertEqual([row["run_id"] for row in self.rows(response)], ["run-corrected"])
        response = self.client.get(API, headers=headers)
        self.assertEqual(response["Content-Type"], "application/jsonl")
        runs = [json.loads(line)["review"]["run_id"] for line in self.lines(response)]
        self.assertEqual(runs, ["run-corrected", "run-accepted", "run-running"])

    def test_the_api_names_a_bad_format_and_wants_the_read_scope(self):
        _, key = make_api_key(self.workspace, scopes=["read"])
        response = self.client.get(API + "?format=xml", headers={"Authorization": f"Bearer {key}"})
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["field"], "format")
        _, ingest_only = make_api_key(self.workspace, scopes=["ingest"])
        response = self.client.get(API, headers={"Authorization": f"Bearer {ingest_only}"})
        self.assertEqual(response.status_code, 403)
