"""What a model call costs: the client's figure as sent, else a workspace price, else genai-prices at the
call's time; unknown (NULL) when nothing prices it, and totals that add up the known costs only."""

import importlib
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import genai_prices
from django.apps import apps
from django.test import TestCase

from backoffice import cost_recompute
from tests.events import BASE, event
from tests.factories import make_agent, make_workspace
from tests.traces.test_ingest_api import IngestTestCase
from traces import ingest
from traces.ingest.pricing import PriceBook
from traces.models import ModelCall, ModelPrice, RedactionRule, Run, Session, Task, TraceRollup
from traces.rollups.daily import differences

KINDS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_creation_tokens", "reasoning_tokens")
remove_seeded_prices = importlib.import_module("traces.migrations.0013_remove_default_prices")


def package_price(model, **tokens):
    priced = genai_prices.calc_price(genai_prices.Usage(**tokens), model, genai_request_timestamp=BASE)
    return priced.input_price, priced.output_price


def llm_call(model="gpt-4o-mini", **body):
    return event("llm.call", {"run_id": "r1", "model": model, **body})


class DefaultPricesTest(IngestTestCase):
    def cost_of(self, call_id):
        return ModelCall.objects.values_list("input_cost", "output_cost", "cost").get(call_id=call_id)

    def test_a_known_model_is_priced_by_genai_prices(self):
        self.send([llm_call(call_id="c", prompt_tokens=1000, completion_tokens=500)])
        input_cost, output_cost = package_price("gpt-4o-mini", input_tokens=1000, output_tokens=500)
        self.assertEqual(self.cost_of("c"), (input_cost, output_cost, input_cost + output_cost))
        self.assertGreater(input_cost, 0)

    def test_cached_reads_are_priced_at_the_packages_cached_rate(self):
        self.send(
            [
                llm_call(call_id="plain", prompt_tokens=1000, completion_tokens=0),
                llm_call(call_id="cached", prompt_tokens=1000, cached_tokens=800, completion_tokens=0),
            ]
        )
        expected, _ = package_price("gpt-4o-mini", input_tokens=1000, cache_read_tokens=800)
        self.assertEqual(self.cost_of("cached")[0], expected)
        self.assertLess(self.cost_of("cached")[0], self.cost_of("plain")[0])

    def test_cache_creation_tokens_are_recorded_and_priced_at_the_cache_write_rate(self):
        model = "claude-sonnet-4-5"
        self.send(
            [
                llm_call(model, call_id="plain", prompt_tokens=1000),
                llm_call(model, call_id="written", prompt_tokens=1000, cache_creation_tokens=1000),
            ]
        )
        expected, _ = package_price(model, input_tokens=1000, cache_write_tokens=1000)
        self.assertEqual(self.cost_of("written")[0], expected)
        self.assertGreater(self.cost_of("written")[0], self.cost_of("plain")[0])
        self.assertEqual(ModelCall.objects.get(call_id="written").cache_creation_tokens, 1000)

    def test_reasoning_tokens_are_recorded_within_the_completion(self):
        self.send([llm_call(call_id="c", prompt_tokens=10, completion_tokens=50, reasoning_tokens=30)])
        call = ModelCall.objects.get(call_id="c")
        self.assertEqual((call.completion_tokens, call.reasoning_tokens, call.total_tokens), (50, 30, 60))
        _, output_cost = package_price("gpt-4o-mini", output_tokens=50, output_reasoning_tokens=30)
        self.assertEqual(call.output_cost, output_cost)

    def test_a_provider_the_package_does_not_know_falls_back_to_the_model_name(self):
        self.send([llm_call(call_id="c", provider="in-house-gateway", prompt_tokens=1000)])
        self.assertEqual(self.cost_of("c")[0], package_price("gpt-4o-mini", input_tokens=1000)[0])

    def test_a_workspace_price_wins_over_the_default(self):
        ModelPrice.objects.create(
            workspace=self.workspace, model_pattern="gpt-4o-mini", input_per_million=1, output_per_million=2
        )
        self.send([llm_call(call_id="c", prompt_tokens=1000, completion_tokens=1000)])
        self.assertEqual(self.cost_of("c"), (Decimal("0.001"), Decimal("0.002"), Decimal("0.003")))

    def test_prices_are_those_in_force_at_the_calls_time(self):
        calls = []
        real = genai_prices.calc_price

        def spy(usage, model, **options):
            calls.append(options["genai_request_timestamp"])
            return real(usage, model, **options)

        genai_prices.calc_price = spy
        try:
            PriceBook(self.workspace).cost("gpt-4o-mini", "openai", BASE, dict.fromkeys(KINDS, 1))
        finally:
            genai_prices.calc_price = real
        self.assertEqual(calls, [BASE])


class UnknownCostTest(IngestTestCase):
    def test_an_unknown_model_has_an_unknown_cost_not_zero(self):
        self.send([llm_call("house-model-7", call_id="c", prompt_tokens=100, completion_tokens=10)])
        call = ModelCall.objects.get(call_id="c")
        self.assertEqual(
            (call.input_cost, call.output_cost, call.cost, call.cost_sent), (None, None, None, False)
        )

    def test_totals_over_unknown_costs_only_are_unknown(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "a", "session_id": "s1"}),
                event("step.start", {"run_id": "r1", "step_id": "s", "name": "think"}),
                llm_call("house-model-7", step_id="s", prompt_tokens=100),
            ]
        )
        self.assertEqual(
            (Run.objects.get().cost, Task.objects.get().cost, Session.objects.get().cost), (None, None, None)
        )
        self.assertEqual(differences(self.workspace), [])

    def test_totals_over_a_mix_are_the_sum_of_the_known_costs(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "a", "session_id": "s1"}),
                event("step.start", {"run_id": "r1", "step_id": "s", "name": "think"}),
                llm_call("house-model-7", step_id="s", prompt_tokens=100),
                llm_call(step_id="s", cost="0.25"),
            ]
        )
        # A later batch adds another unknown one: the totals the fold recomputes stay the known sum.
        self.send([llm_call("house-model-8", step_id="s", prompt_tokens=5)])
        self.assertEqual(
            (Run.objects.get().cost, Task.objects.get().cost, Session.objects.get().cost),
            (Decimal("0.25"), Decimal("0.25"), Decimal("0.25")),
        )
        rollup = TraceRollup.objects.filter(workspace=self.workspace, source="model_calls", n__gt=0)
        self.assertEqual(sum(row.cost_count for row in rollup), 1)
        self.assertEqual(sum(row.n for row in rollup), 3)
        self.assertEqual(differences(self.workspace), [])


class SentCostTest(IngestTestCase):
    def test_a_sent_cost_is_kept_with_its_input_and_output_split(self):
        self.send([llm_call(call_id="c", prompt_tokens=10, input_cost="0.000032", output_cost="0.000048")])
        call = ModelCall.objects.get(call_id="c")
        self.assertEqual(
            (call.input_cost, call.output_cost, call.cost, call.cost_sent),
            (Decimal("0.000032"), Decimal("0.000048"), Decimal("0.00008"), True),
        )

    def test_a_sent_total_alone_leaves_the_split_unknown(self):
        self.send([llm_call(call_id="c", prompt_tokens=10, cost="0.5")])
        call = ModelCall.objects.get(call_id="c")
        self.assertEqual((call.input_cost, call.output_cost, call.cost), (None, None, Decimal("0.5")))

    def test_a_sent_zero_is_a_known_zero(self):
        self.send([llm_call("house-model-7", call_id="c", prompt_tokens=10, cost=0)])
        self.assertEqual(ModelCall.objects.get(call_id="c").cost, 0)


class RecomputeTest(IngestTestCase):
    def test_recompute_prices_unknown_calls_once_a_price_exists_and_keeps_sent_costs(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "a"}),
                llm_call("house-model-7", call_id="unknown", prompt_tokens=1000, cache_creation_tokens=10),
                llm_call("house-model-7", call_id="sent", prompt_tokens=1000, cost="0.5"),
            ]
        )
        ModelPrice.objects.create(
            workspace=self.workspace, model_pattern="house-model-*", input_per_million=2
        )
        day = BASE.date()
        job = cost_recompute.start(self.workspace, None, day - timedelta(days=1), day + timedelta(days=1))
        job = cost_recompute.step(job.pk, self.workspace)
        self.assertEqual((job.done, job.changed), (2, 1))
        costs = dict(ModelCall.objects.values_list("call_id", "cost"))
        self.assertEqual(costs, {"unknown": Decimal("0.002"), "sent": Decimal("0.5")})
        self.assertEqual(Run.objects.get().cost, Decimal("0.502"))
        self.assertEqual(differences(self.workspace), [])

    def test_recompute_makes_a_cost_unknown_when_its_price_is_gone(self):
        price = ModelPrice.objects.create(
            workspace=self.workspace, model_pattern="house-model-*", input_per_million=2
        )
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "a"}),
                llm_call("house-model-7", prompt_tokens=10),
            ]
        )
        price.delete()
        day = BASE.date()
        job = cost_recompute.start(self.workspace, None, day, day)
        cost_recompute.step(job.pk, self.workspace)
        self.assertEqual((ModelCall.objects.get().cost, Run.objects.get().cost), (None, None))


class SeededPricesMigrationTest(TestCase):
    def test_it_removes_the_seeded_defaults_and_keeps_rows_people_added_or_changed(self):
        workspace = make_workspace()
        seeded = ModelPrice.objects.create(
            model_pattern="gpt-4o-mini*",
            input_per_million=Decimal("0.15"),
            output_per_million=Decimal("0.60"),
            cached_per_million=Decimal("0.075"),
        )
        changed = ModelPrice.objects.create(model_pattern="gpt-4o*", input_per_million=Decimal("9"))
        own = ModelPrice.objects.create(
            workspace=workspace,
            model_pattern="gpt-4o-mini*",
            input_per_million=Decimal("0.15"),
            output_per_million=Decimal("0.60"),
            cached_per_million=Decimal("0.075"),
        )
        remove_seeded_prices.remove_seeded(apps, None)
        self.assertEqual(set(ModelPrice.objects.values_list("pk", flat=True)), {changed.pk, own.pk})
        self.assertFalse(ModelPrice.objects.filter(pk=seeded.pk).exists())


class RedactedWorkspaceTest(IngestTestCase):
    def test_redaction_rules_never_touch_the_amounts_of_a_sent_cost(self):
        RedactionRule.objects.create(workspace=self.workspace, pattern=r"[0-9]+", replacement="#")
        response = self.send([llm_call(call_id="c", prompt_tokens=10, input_cost="0.25", output_cost="0.5")])
        self.assertEqual(response.json()["results"][0]["status"], "accepted")
        call = ModelCall.objects.get(call_id="c")
        self.assertEqual(
            (call.input_cost, call.output_cost, call.cost), (Decimal("0.25"), Decimal("0.5"), Decimal("0.75"))
        )


class PricedBeforeTheLockTest(IngestTestCase):
    """genai-prices reads no row, so a batch asks it before the workspace lock: batches of a workspace
    wait for each other there, not for the price package."""

    def test_the_package_is_asked_before_the_lock_and_not_again_under_it(self):
        happened = []
        calc_price, lock_workspace = genai_prices.calc_price, ingest.lock_workspace

        def price(*args, **kwargs):
            happened.append("price")
            return calc_price(*args, **kwargs)

        def lock(workspace):
            happened.append("lock")
            return lock_workspace(workspace)

        with (
            mock.patch.object(genai_prices, "calc_price", price),
            mock.patch.object(ingest, "lock_workspace", lock),
        ):
            self.send([llm_call(call_id=f"c{n}", prompt_tokens=100 + n) for n in range(3)])
        self.assertEqual(happened, ["price", "price", "price", "lock"])
        expected, _ = package_price("gpt-4o-mini", input_tokens=102)
        self.assertEqual(ModelCall.objects.get(call_id="c2").input_cost, expected)

    def test_a_call_whose_usage_the_payload_mode_cuts_is_priced_on_what_is_stored(self):
        # The usage inside the response is cut with it: priced ahead on it, the call is priced again.
        make_agent(self.workspace, agent_id="min", mode="minimal")
        response = {"usage": {"prompt_tokens": 1000, "completion_tokens": 500}}
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "min"}),
                llm_call(call_id="c", response=response),
            ]
        )
        call = ModelCall.objects.get(call_id="c")
        self.assertEqual((call.prompt_tokens, call.completion_tokens), (0, 0))
        self.assertEqual(call.cost, Decimal(0))
