"""The training export's examples: the whole conversation, the agent's prompt, tool calls paired by id."""

import json
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.test import SimpleTestCase, TestCase
from django.utils import timezone

from backoffice.models import Workspace
from tests.factories import (
    make_agent,
    make_cast,
    make_message,
    make_model_call,
    make_review,
    make_run,
    make_session,
    make_task,
    make_workspace,
)
from traces.demo.support import SYSTEM_PROMPT
from traces.ingest.conventions import as_messages
from traces.models import Review, Run
from traces.reviews.examples import sent_prompt, stable_id

from .finetune_format import assert_valid, problems

URL = "/w/acme/reviews/export.jsonl"


def request(*messages):
    return {"model": "gpt-4o", "messages": [{"role": role, "content": text} for role, text in messages]}


class TrainingExampleTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        bot = make_agent(cls.workspace, agent_id="support-bot")
        at = timezone.now() - timedelta(days=3)

        # Two runs of one conversation, recorded as the demo's client records them: tool results as
        # chat turns tied to their tool task by step, the prompts only in the model calls.
        session = make_session(cls.workspace)
        first = make_run(cls.workspace, run_id="run-first", session=session, agent=bot, started_at=at)
        second = make_run(
            cls.workspace,
            run_id="run-second",
            session=session,
            agent=bot,
            started_at=at + timedelta(minutes=5),
        )
        make_model_call(first, request=request(("system", "Classify the intent."), ("user", "Hi")))
        make_model_call(
            first,
            request=request(("system", "You are Nova."), ("user", "Hi, where is my order?")),
            created_at=at + timedelta(seconds=1),
        )
        make_model_call(
            second,
            request=request(
                ("user", "Hi, where is my order?"), ("assistant", "Which one?"), ("user", "1042")
            ),
        )
        make_task(second, step_id="lookup_order", name="lookup_order", type="tool", input={"order": "1042"})
        make_task(second, step_id="search_kb", name="search_kb", type="tool", input={"q": "lost parcel"})
        turns = [
            (first, "user", "Hi, where is my order?", ""),
            (first, "assistant", "Which one?", ""),
            (second, "system", "Chat moved to WhatsApp", ""),
            (second, "user", "1042", ""),
            (
                second,
                "tool",
                {"type": "tool_result", "tool": "lookup_order", "data": {"status": "lost"}},
                "lookup_order",
            ),
            (second, "tool", {"type": "tool_result", "tool": "search_kb", "data": {"hits": []}}, "search_kb"),
            (second, "assistant", "It arrived yesterday.", ""),
            (second, "system", "Handed over to a human", ""),
        ]
        for run, role, content, step in turns:
            make_message(session, run=run, role=role, content=content, step_id=step)
        cls.corrected = make_review(
            second, status="resolved", rating="bad", corrected_output="The carrier lost it; I opened a claim."
        )

        # OTLP turns: the prompt is a turn already, the call and its result are parts with no ids.
        session = make_session(cls.workspace)
        otlp = make_run(cls.workspace, run_id="run-otlp", session=session, agent=bot, started_at=at)
        make_model_call(
            otlp,
            request=[{"role": "system", "content": "You are Ada."}, {"role": "user", "content": "Paris?"}],
        )
        call = {"type": "tool_call", "id": None, "name": "get weather", "arguments": {"city": "Paris"}}
        cls.asking = None
        for role, content in [
            ("system", "You are Ada."),
            ("user", "Weather in Paris?"),
            ("assistant", {"type": "parts", "parts": [{"type": "text", "text": "Let me check."}, call]}),
            ("tool", {"type": "tool_result", "id": None, "result": "18C"}),
            ("assistant", "It is 18°C in Paris."),
        ]:
            turn = make_message(session, run=otlp, role=role, content=content)
            cls.asking = cls.asking or (turn if role == "assistant" else None)
        cls.otlp = make_review(otlp, status="resolved", rating="good")

        # A call nothing answered, then a result whose call was never recorded.
        session = make_session(cls.workspace)
        loose = make_run(cls.workspace, run_id="run-loose", session=session, agent=bot, started_at=at)
        refund = {"id": "call_9", "type": "function", "function": {"name": "refund", "arguments": "{}"}}
        for role, content, metadata in [
            ("user", "Refund me", {}),
            ("assistant", "", {"tool_calls": [refund]}),
            ("user", "Hello?", {}),
            ("tool", "ok", {"tool_call_id": "call_x"}),
            ("assistant", "Done.", {}),
        ]:
            make_message(session, run=loose, role=role, content=content, metadata=metadata)
        cls.loose = make_review(loose, status="resolved", rating="neutral")

        # Only what the user saw is a turn; the tool exchange is in the model call's request.
        session = make_session(cls.workspace)
        quiet = make_run(cls.workspace, run_id="run-quiet", session=session, agent=bot, started_at=at)
        make_message(session, run=quiet, role="user", content="Is NW-1 shipped?")
        reply = make_message(session, run=quiet, role="assistant", content="Yes, it left today.")
        asked = {
            "id": "call_abc",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"id": "NW-1"}'},
        }
        sent = [
            {"role": "system", "content": "You are Nova."},
            {"role": "user", "content": "Is NW-1 shipped?"},
            {"role": "assistant", "content": None, "tool_calls": [asked]},
            {"role": "tool", "tool_call_id": "call_abc", "content": '{"status": "shipped"}'},
        ]
        make_model_call(quiet, request={"model": "gpt-4o", "messages": sent}, created_at=reply.created_at)
        make_review(quiet, status="resolved", rating="good")

    def export(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 200)
        return b"".join(response.streaming_content).decode().splitlines()

    def examples(self):
        return {
            json.loads(line)["metadata"]["run_id"]: json.loads(line)["messages"] for line in self.export()
        }

    def test_every_line_is_a_valid_fine_tuning_example(self):
        lines = self.export()
        self.assertEqual(len(lines), 4)
        assert_valid(lines)

    def test_it_holds_the_earlier_turns_and_the_prompt_and_pairs_the_tool_results_with_calls(self):
        lookup, search = stable_id("run-second", "lookup_order"), stable_id("run-second", "search_kb")

        def answering(call_id, text):
            return {"role": "tool", "content": text, "tool_call_id": call_id}

        def calling(call_id, name, arguments):
            return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}

        self.assertEqual(
            self.examples()["run-second"],
            [
                {"role": "system", "content": "You are Nova."},
                {"role": "user", "content": "Hi, where is my order?"},
                {"role": "assistant", "content": "Which one?", "weight": 0},
                {"role": "system", "content": "Chat moved to WhatsApp"},
                {"role": "user", "content": "1042"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        calling(lookup, "lookup_order", '{"order": "1042"}'),
                        calling(search, "search_kb", '{"q": "lost parcel"}'),
                    ],
                },
                answering(lookup, '{"status": "lost"}'),
                answering(search, '{"hits": []}'),
                {"role": "assistant", "content": "The carrier lost it; I opened a claim."},
            ],
        )

    def test_the_reviewed_reply_ends_the_example_when_nothing_corrects_it(self):
        Review.objects.filter(pk=self.corrected.pk).update(corrected_output="")
        messages = self.examples()["run-second"]
        self.assertEqual(messages[-1], {"role": "assistant", "content": "It arrived yesterday."})

    def test_tool_call_parts_get_stable_ids_and_their_results_answer_them(self):
        call_id = stable_id("run-otlp", self.asking.event_id, 0)
        self.assertEqual(
            self.examples()["run-otlp"],
            [
                {"role": "system", "content": "You are Ada."},
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": "Let me check.",
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "content": "18C", "tool_call_id": call_id},
                {"role": "assistant", "content": "It is 18°C in Paris."},
            ],
        )
        self.assertEqual(self.export(), self.export())

    def test_a_tool_exchange_only_the_model_call_recorded_comes_from_its_request(self):
        self.assertEqual(
            self.examples()["run-quiet"],
            [
                {"role": "system", "content": "You are Nova."},
                {"role": "user", "content": "Is NW-1 shipped?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_abc",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": '{"id": "NW-1"}'},
                        }
                    ],
                },
                {"role": "tool", "content": '{"status": "shipped"}', "tool_call_id": "call_abc"},
                {"role": "assistant", "content": "Yes, it left today."},
            ],
        )

    def test_an_unanswered_call_goes_and_a_result_without_a_call_gets_one(self):
        self.assertEqual(
            self.examples()["run-loose"],
            [
                {"role": "user", "content": "Refund me"},
                {"role": "user", "content": "Hello?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"id": "call_x", "type": "function", "function": {"name": "tool", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "content": "ok", "tool_call_id": "call_x"},
                {"role": "assistant", "content": "Done."},
            ],
        )


class DemoExportTest(TestCase):
    """Every run of the demo that has a reply, reviewed and resolved, exports as a valid example."""

    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", "--anchor", "2026-11-20T09:00:00+00:00", stdout=StringIO())
        cls.workspace = Workspace.objects.get(slug="demo")
        cls.viewer = make_cast(cls.workspace)["viewer"]
        unreviewed = Run.objects.filter(workspace=cls.workspace, review__isnull=True)
        Review.objects.bulk_create(
            Review(
                workspace=cls.workspace,
                run=run,
                rating="bad" if index % 3 == 0 else "good",
                comment="Reviewed for the export test.",
                status="resolved",
                corrected_output="A corrected answer." if index % 3 == 0 else "",
            )
            for index, run in enumerate(unreviewed)
        )
        Review.objects.filter(workspace=cls.workspace).update(status="resolved")

    def test_every_line_is_valid_and_the_demo_shows_prompts_and_tool_calls(self):
        self.client.force_login(self.viewer)
        response = self.client.get("/w/demo/reviews/export.jsonl")
        lines = b"".join(response.streaming_content).decode().splitlines()
        self.assertGreater(len(lines), 300)
        assert_valid(lines)
        messages = [json.loads(line)["messages"] for line in lines]
        self.assertTrue(any(m[0] == {"role": "system", "content": SYSTEM_PROMPT} for m in messages))
        self.assertTrue(any("tool_calls" in message for m in messages for message in m))
        self.assertTrue(any(message.get("weight") == 0 for m in messages for message in m))

    def test_the_validator_rejects_what_the_export_wrote_before(self):
        """Tool results with no call before them: the lines the old export wrote for the demo."""
        old = {
            "messages": [
                {"role": "user", "content": "Where is order 1042?"},
                {"role": "tool", "content": '{"status": "shipped"}'},
                {"role": "assistant", "content": "It has shipped."},
            ]
        }
        self.assertTrue(problems(json.dumps(old)))


class SentPromptTest(SimpleTestCase):
    def test_it_reads_the_system_message_or_the_requests_own_system(self):
        openai = {"messages": [{"role": "system", "content": "Be warm."}, {"role": "user", "content": "Hi"}]}
        anthropic = {
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Never guess."}],
            "messages": [{"role": "user", "content": "Hi"}],
        }
        cases = [
            (openai, "Be warm."),
            (anthropic, "Be brief.\nNever guess."),
            ({"system": "Be kind.", "messages": []}, "Be kind."),
            ({"system": "  ", "messages": []}, None),
            ([{"role": "user", "content": "Hi"}], None),
            (None, None),
        ]
        for request, prompt in cases:
            with self.subTest(request=request):
                self.assertEqual(sent_prompt(request, as_messages(request, "user")), prompt)
