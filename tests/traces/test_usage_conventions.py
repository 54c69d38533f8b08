"""Token kinds and sent costs, read from every convention that carries them (traces.ingest.usage).

Stored counts: the prompt is the whole input (cached reads and cache writes included), the completion
includes reasoning; cached, cache-creation and reasoning tokens are their own columns too.
"""

import json
from decimal import Decimal

from django.test import SimpleTestCase

from tests.events import event
from tests.traces.test_ingest_api import IngestTestCase
from traces.ingest.conventions import read_span
from traces.ingest.usage import read_span_usage, read_usage_object
from traces.models import ModelCall

KINDS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_creation_tokens", "reasoning_tokens")


def kinds(usage):
    return tuple(getattr(usage, kind) for kind in KINDS)


class SpanAttributesTest(SimpleTestCase):
    def test_genai_semconv_names_every_token_kind(self):
        usage = read_span_usage(
            {
                "gen_ai.usage.input_tokens": 90,
                "gen_ai.usage.output_tokens": 20,
                "gen_ai.usage.cache_read.input_tokens": 20,
                "gen_ai.usage.cache_creation.input_tokens": 30,
                "gen_ai.usage.reasoning.output_tokens": 6,
            }
        )
        self.assertEqual(kinds(usage), (90, 20, 20, 30, 6))

    def test_openllmetry_older_names_are_read_too(self):
        usage = read_span_usage(
            {
                "gen_ai.usage.input_tokens": 60,
                "gen_ai.usage.output_tokens": 15,
                "gen_ai.usage.cache_read_input_tokens": 10,
                "gen_ai.usage.cache_creation_input_tokens": 5,
                "gen_ai.usage.reasoning_tokens": 4,
            }
        )
        self.assertEqual(kinds(usage), (60, 15, 10, 5, 4))

    def test_openllmetry_anthropic_cache_write_name_is_cache_creation(self):
        usage = read_span_usage(
            {"gen_ai.usage.input_tokens": 40, "gen_ai.usage.cache_write.input_tokens": 12}
        )
        self.assertEqual(usage.cache_creation_tokens, 12)

    def test_openinference_prompt_and_completion_details(self):
        usage = read_span_usage(
            {
                "llm.token_count.prompt": 60,
                "llm.token_count.completion": 15,
                "llm.token_count.prompt_details.cache_read": 10,
                "llm.token_count.prompt_details.cache_write": 3,
                "llm.token_count.completion_details.reasoning": 4,
            }
        )
        self.assertEqual(kinds(usage), (60, 15, 10, 3, 4))

    def test_span_facts_carry_the_new_kinds(self):
        facts = read_span({"gen_ai.operation.name": "chat", "gen_ai.usage.reasoning.output_tokens": 7})
        self.assertEqual((facts.usage.reasoning_tokens, facts.usage.cache_creation_tokens), (7, None))

    def test_a_count_out_of_range_rejects_the_span_naming_the_attribute(self):
        usage = read_span_usage({"gen_ai.usage.input_tokens": 5, "gen_ai.usage.reasoning.output_tokens": -1})
        self.assertEqual(usage.problem[0], "gen_ai.usage.reasoning.output_tokens")


class LangfuseUsageDetailsTest(SimpleTestCase):
    def test_nested_openai_usage_gives_cached_and_reasoning_tokens(self):
        details = {
            "prompt_tokens": 60,
            "completion_tokens": 15,
            "total_tokens": 75,
            "prompt_tokens_details": {"cached_tokens": 10, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 4},
        }
        usage = read_span_usage({"langfuse.observation.usage_details": json.dumps(details)})
        self.assertEqual(kinds(usage), (60, 15, 10, None, 4))

    def test_flat_langfuse_keys_leave_the_cache_out_of_the_input(self):
        details = {"input": 30, "output": 4, "cache_read_input_tokens": 20, "input_cache_creation": 5}
        usage = read_span_usage({"langfuse.observation.usage_details": json.dumps(details)})
        self.assertEqual(kinds(usage), (55, 4, 20, 5, None))

    def test_span_attributes_win_over_the_usage_details(self):
        usage = read_span_usage(
            {
                "gen_ai.usage.input_tokens": 100,
                "langfuse.observation.usage_details": json.dumps({"input": 1, "input_cached_tokens": 7}),
            }
        )
        self.assertEqual((usage.prompt_tokens, usage.cached_tokens), (100, 7))


class UsageObjectTest(SimpleTestCase):
    def test_anthropic_input_tokens_leave_cache_reads_and_writes_out(self):
        usage = read_usage_object(
            {
                "input_tokens": 40,
                "output_tokens": 12,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 50,
            }
        )
        self.assertEqual(kinds(usage), (190, 12, 100, 50, None))

    def test_openai_responses_input_tokens_already_hold_the_cached_ones(self):
        # Its total adds up without the cached tokens: they are part of the input.
        usage = read_usage_object(
            {
                "input_tokens": 90,
                "output_tokens": 20,
                "total_tokens": 110,
                "input_tokens_details": {"cached_tokens": 20},
                "output_tokens_details": {"reasoning_tokens": 6},
            }
        )
        self.assertEqual(kinds(usage), (90, 20, 20, None, 6))


class SentCostTest(SimpleTestCase):
    def test_langfuse_cost_details_keep_input_and_output(self):
        usage = read_span_usage(
            {
                "langfuse.observation.usage_details": json.dumps({"input": 40, "output": 12}),
                "langfuse.observation.cost_details": json.dumps(
                    {"input": 3.2e-05, "output": 4.8e-05, "total": 7.999999999999999e-05}
                ),
            }
        )
        self.assertEqual(
            (usage.input_cost, usage.output_cost, usage.cost),
            (Decimal("0.000032"), Decimal("0.000048"), Decimal("0.00008")),
        )

    def test_langfuse_cost_details_without_a_total_add_up_with_their_cache_parts(self):
        usage = read_span_usage(
            {
                "langfuse.observation.usage_details": json.dumps({"input": 40, "output": 12}),
                "langfuse.observation.cost_details": json.dumps(
                    {"input": 0.1, "input_cached_tokens": 0.02, "output": 0.3}
                ),
            }
        )
        self.assertEqual(
            (usage.input_cost, usage.output_cost, usage.cost),
            (Decimal("0.12"), Decimal("0.3"), Decimal("0.42")),
        )

    def test_openinference_prompt_and_completion_costs_are_the_split(self):
        usage = read_span_usage(
            {"llm.token_count.prompt": 10, "llm.cost.prompt": 0.001, "llm.cost.completion": 0.002}
        )
        self.assertEqual(
            (usage.input_cost, usage.output_cost, usage.cost),
            (Decimal("0.001"), Decimal("0.002"), Decimal("0.003")),
        )

    def test_a_total_alone_leaves_the_split_unknown(self):
        usage = read_span_usage({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cost": "0.5"})
        self.assertEqual((usage.input_cost, usage.output_cost, usage.cost), (None, None, Decimal("0.5")))

    def test_a_zero_cost_on_a_call_without_tokens_is_no_cost_at_all(self):
        # langfuse.openai writes {"input": 0, "output": 0, "total": 0} for a call that failed.
        usage = read_span_usage(
            {"langfuse.observation.cost_details": json.dumps({"input": 0, "output": 0, "total": 0})}
        )
        self.assertEqual((usage.input_cost, usage.output_cost, usage.cost), (None, None, None))


class EventApiUsageTest(IngestTestCase):
    def call(self, **body):
        response = self.send([event("llm.call", {"run_id": "r1", "model": "house-model", **body})])
        self.assertEqual(response.status_code, 200, response.content)
        return response

    def stored(self):
        return ModelCall.objects.values_list(*KINDS).get(workspace=self.workspace)

    def test_an_openai_usage_object_gives_the_nested_kinds(self):
        self.call(
            usage={
                "prompt_tokens": 60,
                "completion_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 10},
                "completion_tokens_details": {"reasoning_tokens": 4},
            }
        )
        self.assertEqual(self.stored(), (60, 15, 10, 0, 4))

    def test_the_usage_of_the_response_is_read_when_the_body_has_none(self):
        self.call(
            response={
                "content": "hi",
                "usage": {"input_tokens": 40, "output_tokens": 12, "cache_creation_input_tokens": 8},
            }
        )
        self.assertEqual(self.stored(), (48, 12, 0, 8, 0))

    def test_the_body_fields_win_over_its_usage_object(self):
        self.call(prompt_tokens=5, cache_creation_tokens=2, reasoning_tokens=1, usage={"prompt_tokens": 99})
        self.assertEqual(self.stored(), (5, 0, 0, 2, 1))

    def test_a_usage_object_out_of_range_rejects_the_event_naming_the_field(self):
        response = self.send(
            [event("llm.call", {"run_id": "r1", "model": "m", "usage": {"prompt_tokens": -3}})]
        )
        result = response.json()["results"][0]
        self.assertEqual((result["status"], result["field"]), ("rejected", "body.usage"))
        self.assertFalse(ModelCall.objects.exists())
