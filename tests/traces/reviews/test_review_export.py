import json
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

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

EXPECTED = Path(__file__).parent / "data" / "review_export.jsonl"
URL = "/w/acme/reviews/export.jsonl"


def day(n):
    return datetime(2026, 3, n, 12, 0, tzinfo=UTC)


class ReviewExportTest(TestCase):
    """The export against a file checked by hand: tests/traces/data/review_export.jsonl."""

    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        bot = make_agent(cls.workspace, agent_id="support-bot")
        sales = make_agent(cls.workspace, agent_id="sales-bot")

        # A: a tool-using conversation; the correction replaces the targeted reply, later turns go.
        session = make_session(cls.workspace)
        run_a = make_run(cls.workspace, run_id="run-export-a", session=session, agent=bot)
        turns = [
            ("system", "You are Acme's support agent.", {}),
            ("user", "Where is order 1042?", {}),
            (
                "assistant",
                "",
                {
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "track_order", "arguments": '{"order": "1042"}'},
                        }
                    ]
                },
            ),
            ("tool", '{"status": "lost"}', {"tool_call_id": "call_1"}),
            ("assistant", "Your order arrived yesterday.", {}),
            ("user", "No it did not!", {}),
            ("assistant", "Sorry about that.", {}),
        ]
        made = [make_message(session, run=run_a, role=r, content=c, metadata=m) for r, c, m in turns]
        cls.review_a = make_review(
            run_a,
            status="resolved",
            rating="bad",
            target_message=made[4],
            corrected_output="The carrier reports order 1042 as lost. I have opened a claim; "
            "you will hear from us within 24 hours.",
            tags=["lost-parcel"],
            created_at=day(1),
        )

        # B: a good run kept whole; structured text content is read as text, custom turns are left out.
        session = make_session(cls.workspace)
        run_b = make_run(cls.workspace, run_id="run-export-b", session=session, agent=bot)
        make_message(session, run=run_b, role="user", content="What are your opening hours?")
        make_message(
            session,
            run=run_b,
            role="assistant",
            content={"type": "text", "text": "We are open 9:00–17:00, Monday to Friday."},
        )
        make_message(session, run=run_b, role="custom", content="internal note")
        cls.review_b = make_review(run_b, status="resolved", rating="good", created_at=day(2))

        # C: no chat turns: the run's input and the corrected output.
        run_c = make_run(
            cls.workspace,
            run_id="run-export-c",
            agent=sales,
            input={"question": "Cancel my plan"},
            output="Done.",
        )
        cls.review_c = make_review(
            run_c,
            status="resolved",
            rating="bad",
            corrected_output="I can't cancel plans myself; this page does it: https://acme.example/cancel",
            created_at=day(3),
        )

        # Left out: a resolved review with no reply at all, an open review, another workspace's review.
        make_review(make_run(cls.workspace, run_id="run-empty"), status="resolved", created_at=day(4))
        make_review(make_run(cls.workspace, run_id="run-open", output="Hi"), status="open", created_at=day(5))
        make_review(make_run(cls.cast["other_workspace"], output="Hi"), status="resolved", created_at=day(6))

    def export(self, query="", user="viewer"):
        self.client.force_login(self.cast[user])
        return self.client.get(URL + query)

    def lines(self, response):
        return b"".join(response.streaming_content).decode().splitlines()

    def expected(self):
        text = EXPECTED.read_text()
        for name in ("a", "b", "c"):
            text = text.replace(f"REVIEW_{name.upper()}", str(getattr(self, f"review_{name}").pk))
        return text.splitlines()

    def test_it_matches_the_hand_checked_file(self):
        response = self.export()
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.streaming)
        self.assertEqual(response["Content-Type"], "application/jsonl")
        self.assertIn('attachment; filename="reviews-acme-', response["Content-Disposition"])
        lines = self.lines(response)
        self.assertEqual([json.loads(line) for line in lines], [json.loads(line) for line in self.expected()])
        self.assertEqual(lines, self.expected())

    def test_it_filters_by_agent_rating_tag_and_date(self):
        cases = {
            "?agent=sales-bot": ["run-export-c"],
            "?rating=good": ["run-export-b"],
            "?tag=lost-parcel": ["run-export-a"],
            "?since=2026-03-02&until=2026-03-03": ["run-export-b", "run-export-c"],
        }
        for query, runs in cases.items():
            with self.subTest(query=query):
                lines = self.lines(self.export(query))
                self.assertEqual([json.loads(line)["metadata"]["run_id"] for line in lines], runs)

    def test_bad_filters_answer_400_naming_the_field(self):
        response = self.export("?since=March")
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "since:", status_code=400)

    def test_outsiders_get_404(self):
        self.assertEqual(self.export(user="outsider").status_code, 404)

    def test_it_reads_in_chunks_with_three_queries_each(self):
        self.client.force_login(self.cast["viewer"])
        with patch("traces.reviews.export.CHUNK", 2):
            response = self.client.get(URL)
            # Two chunks of reviews (A, B then C, empty), each with one query for its turns and one for
            # its model calls (their system prompts); no turn names a tool task, so no query for those.
            with self.assertNumQueries(6):
                lines = self.lines(response)
        self.assertEqual(len(lines), 3)
