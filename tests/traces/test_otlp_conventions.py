"""Reading span attributes through each convention's names, older ones included."""

import json
from decimal import Decimal

from django.test import SimpleTestCase

from traces.ingest.conventions import read_span


class ConventionsTest(SimpleTestCase):
    def test_it_reads_the_older_genai_names(self):
        facts = read_span(
            {
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4",
                "gen_ai.usage.prompt_tokens": 11,
                "gen_ai.usage.completion_tokens": 7,
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": "Hi",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.content": "Hello",
            }
        )
        self.assertEqual((facts.type, facts.provider, facts.model), ("llm", "openai", "gpt-4"))
        self.assertEqual((facts.prompt_tokens, facts.completion_tokens), (11, 7))
        self.assertEqual(facts.input_messages, [{"role": "user", "content": "Hi"}])
        self.assertEqual(facts.output_messages, [{"role": "assistant", "content": "Hello"}])
        self.assertNotIn("gen_ai.prompt.0.content", facts.attributes)

    def test_it_reads_openai_style_messages_with_tool_calls(self):
        history = [
            {"role": "developer", "content": "Be brief."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "found"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "And?"}, {"type": "image_url", "image_url": {}}],
            },
        ]
        facts = read_span(
            {"langfuse.observation.type": "generation", "langfuse.observation.input": json.dumps(history)}
        )
        self.assertEqual(
            facts.input_messages,
            [
                {"role": "system", "content": "Be brief."},
                {
                    "role": "assistant",
                    "content": {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"q": "x"}},
                },
                {"role": "tool", "content": {"type": "tool_result", "id": "c1", "result": "found"}},
                {
                    "role": "user",
                    "content": {
                        "type": "parts",
                        "parts": [{"type": "text", "text": "And?"}, {"type": "image_url", "image_url": {}}],
                    },
                },
            ],
        )

    def test_it_reads_openinference_tool_calls_and_contents(self):
        facts = read_span(
            {
                "openinference.span.kind": "LLM",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.tool_calls.0.tool_call.id": "t1",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "search",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"q": "refunds"}',
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.contents.0.message_content.type": "text",
                "llm.input_messages.0.message.contents.0.message_content.text": "Find refunds",
            }
        )
        self.assertEqual(facts.input_messages, [{"role": "user", "content": "Find refunds"}])
        self.assertEqual(
            facts.output_messages,
            [
                {
                    "role": "assistant",
                    "content": {
                        "type": "tool_call",
                        "id": "t1",
                        "name": "search",
                        "arguments": {"q": "refunds"},
                    },
                }
            ],
        )

    def test_it_reads_structured_genai_messages_as_well_as_json_strings(self):
        structured = [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]
        self.assertEqual(
            read_span({"gen_ai.input.messages": structured}).input_messages,
            [{"role": "user", "content": "Hi"}],
        )

    def test_it_reads_langfuse_usage_and_cost_details(self):
        facts = read_span(
            {
                "langfuse.observation.type": "generation",
                "langfuse.observation.model.name": "claude",
                "langfuse.observation.usage_details": json.dumps(
                    {"input": 30, "output": 4, "input_cached_tokens": 20}
                ),
                "langfuse.observation.cost_details": json.dumps({"total": 0.00012345678912}),
                "langfuse.observation.completion_start_time": json.dumps("2026-11-20T09:00:00.250000Z"),
                "langfuse.trace.metadata.team": json.dumps("support"),
            }
        )
        self.assertEqual((facts.prompt_tokens, facts.completion_tokens, facts.cached_tokens), (30, 4, 20))
        self.assertEqual(facts.cost, Decimal("0.0001234568"))
        self.assertEqual(facts.completion_start.isoformat(), "2026-11-20T09:00:00.250000+00:00")
        self.assertEqual(facts.metadata, {"team": "support"})

    def test_a_span_with_token_counts_but_no_kind_is_a_model_call(self):
        facts = read_span({"llm.token_count.prompt": "12", "llm.token_count.completion": 3})
        self.assertEqual((facts.type, facts.is_model_call, facts.prompt_tokens), ("llm", True, 12))

    def test_unknown_kinds_are_custom_and_numbers_that_are_not_numbers_are_ignored(self):
        facts = read_span(
            {"openinference.span.kind": "GUARDRAIL", "gen_ai.usage.input_tokens": "x", "llm.cost.total": "x"}
        )
        self.assertEqual(
            (facts.type, facts.prompt_tokens, facts.cost, facts.is_model_call), ("custom", None, None, False)
        )
        self.assertIsNone(facts.problem)

    def test_negative_or_oversized_counts_and_costs_name_the_attribute_that_rejects_the_span(self):
        for attrs, attribute in (
            ({"gen_ai.usage.input_tokens": -3}, "gen_ai.usage.input_tokens"),
            ({"llm.token_count.completion": 1e13}, "llm.token_count.completion"),
            ({"llm.cost.total": 1e18}, "llm.cost.total"),
            ({"gen_ai.usage.cost": -0.5}, "gen_ai.usage.cost"),
        ):
            with self.subTest(attrs=attrs):
                self.assertEqual(read_span(attrs).problem[0], attribute)
