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
        self.assertEqual((facts.usage.prompt_tokens, facts.usage.completion_tokens), (11, 7))
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
            }
        )
        # Langfuse's "input" leaves the cached tokens out; the stored prompt is the whole input.
        self.assertEqual(
            (facts.usage.prompt_tokens, facts.usage.completion_tokens, facts.usage.cached_tokens), (50, 4, 20)
        )
        self.assertEqual(facts.usage.cost, Decimal("0.0001234568"))
        self.assertEqual(facts.completion_start.isoformat(), "2026-11-20T09:00:00.250000+00:00")

    def test_a_span_with_token_counts_but_no_kind_is_a_model_call(self):
        facts = read_span({"llm.token_count.prompt": "12", "llm.token_count.completion": 3})
        self.assertEqual((facts.type, facts.is_model_call, facts.usage.prompt_tokens), ("llm", True, 12))

    def test_unknown_kinds_are_custom_and_numbers_that_are_not_numbers_are_ignored(self):
        facts = read_span(
            {"openinference.span.kind": "GUARDRAIL", "gen_ai.usage.input_tokens": "x", "llm.cost.total": "x"}
        )
        self.assertEqual(
            (facts.type, facts.usage.prompt_tokens, facts.usage.cost, facts.is_model_call),
            ("custom", None, None, False),
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


class FinishReasonTest(SimpleTestCase):
    def test_every_convention_gives_the_finish_reason(self):
        output = [{"role": "assistant", "parts": [], "finish_reason": "length"}]
        for attrs, expected in (
            ({"gen_ai.response.finish_reasons": ["stop", "length"]}, "stop"),
            ({"gen_ai.response.finish_reasons": json.dumps(["tool_calls"])}, "tool_calls"),
            ({"llm.finish_reason": "stop"}, "stop"),
            ({"gen_ai.completion.0.finish_reason": "tool_calls"}, "tool_calls"),
            ({"langfuse.observation.metadata.finish_reason": json.dumps("content_filter")}, "content_filter"),
            ({"gen_ai.output.messages": json.dumps(output)}, "length"),
            ({"gen_ai.output.messages": output}, "length"),
            ({"gen_ai.response.finish_reasons": []}, None),
        ):
            with self.subTest(attrs=attrs):
                self.assertEqual(read_span(attrs).finish_reason, expected)


class ModelCallRuleTest(SimpleTestCase):
    def test_only_a_call_to_a_model_by_its_convention_is_a_model_call(self):
        usage = {"gen_ai.usage.input_tokens": 1000, "llm.token_count.prompt": 1000}
        for kind, is_call in (
            ({"openinference.span.kind": "LLM"}, True),
            ({"openinference.span.kind": "EMBEDDING"}, True),
            ({"gen_ai.operation.name": "chat"}, True),
            ({"gen_ai.operation.name": "text_completion"}, True),
            ({"gen_ai.operation.name": "generate_content"}, True),
            ({"langfuse.observation.type": "generation"}, True),
            ({"llm.request.type": "chat"}, True),
            ({"openinference.span.kind": "CHAIN"}, False),
            ({"openinference.span.kind": "AGENT"}, False),
            ({"gen_ai.operation.name": "invoke_agent"}, False),
            ({"langfuse.observation.type": "span"}, False),
            ({"traceloop.span.kind": "workflow"}, False),
            ({"traceloop.span.kind": "task"}, False),
            ({"gen_ai.operation.name": "execute_task", "traceloop.span.kind": "task"}, False),
        ):
            with self.subTest(kind=kind):
                self.assertEqual(read_span({**kind, **usage}).is_model_call, is_call)

    def test_openllmetry_spans_are_typed_by_their_kind_or_operation(self):
        for attrs, expected in (
            ({"traceloop.span.kind": "workflow"}, "function"),
            ({"traceloop.span.kind": "tool"}, "tool"),
            ({"gen_ai.operation.name": "execute_task", "traceloop.span.kind": "task"}, "function"),
            ({"gen_ai.operation.name": "invoke_agent", "traceloop.span.kind": "agent"}, "agent"),
            ({"gen_ai.operation.name": "chat", "llm.request.type": "chat"}, "llm"),
            ({"llm.request.type": "completion"}, "llm"),
        ):
            with self.subTest(attrs=attrs):
                self.assertEqual(read_span(attrs).type, expected)

    def test_a_failed_call_without_a_response_is_a_model_call_named_by_its_request(self):
        facts = read_span(
            {"openinference.span.kind": "LLM", "llm.invocation_parameters": json.dumps({"model": "gpt-4o"})}
        )
        self.assertEqual((facts.is_model_call, facts.model, facts.has_usage), (True, "gpt-4o", False))


class ErrorAndTimingTest(SimpleTestCase):
    def test_the_error_type_comes_from_error_type_else_an_http_error_status(self):
        for attrs, expected in (
            ({"error.type": "RateLimitError", "http.response.status_code": 429}, "RateLimitError"),
            ({"error.type": "<class 'openai.RateLimitError'>"}, "openai.RateLimitError"),
            ({"http.response.status_code": 429}, "HTTP 429"),
            ({"http.status_code": "500"}, "HTTP 500"),
            ({"http.response.status_code": 200}, None),
            ({}, None),
        ):
            with self.subTest(attrs=attrs):
                self.assertEqual(read_span(attrs).error_type, expected)

    def test_time_to_first_chunk_is_read_in_seconds_and_nonsense_is_left_out(self):
        for value, expected in ((0.25, 250), ("1.5", 1500), (-1, None), ("x", None), (float("inf"), None)):
            with self.subTest(value=value):
                facts = read_span({"gen_ai.response.time_to_first_chunk": value})
                self.assertEqual(facts.ttft_ms, expected)
                self.assertIsNone(facts.problem)
