"""/metrics: the durations, running runs, model errors, gates and tools every deployment should watch."""

from unittest import mock

from django.test import TestCase, override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_agent, make_model_call, make_run, make_task, make_workspace
from traces.rollups import daily as trace_rollups


def scrape(client):
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def samples(family, name=None, **labels):
    """{sample name: value} of the family's samples carrying these labels (the `le` of buckets kept)."""
    found = {}
    for sample in family.samples:
        if name and sample.name != name:
            continue
        if all(sample.labels.get(key) == value for key, value in labels.items()):
            key = sample.name + (f"@{sample.labels['le']}" if "le" in sample.labels else "")
            found[key] = found.get(key, 0) + sample.value
    return found


@override_settings(METRICS_TOKEN="s3cret")
class RunFiguresTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        bot = make_agent(cls.workspace, agent_id="order-bot")
        fast = make_run(cls.workspace, agent=bot, workflow="checkout", duration_ms=400)
        make_run(cls.workspace, agent=bot, workflow="checkout", duration_ms=45_000, status="failed")
        make_run(
            cls.workspace, agent=bot, workflow="checkout", status="running", ended_at=None, duration_ms=None
        )
        make_task(fast, type="tool", name="search", status="ok", duration_ms=120)
        make_task(fast, type="tool", name="search", status="failed", duration_ms=3000)
        make_task(fast, type="tool", name="refund", status="ok", duration_ms=90)
        make_task(fast, type="function", status="ok", duration_ms=300)
        for status in ("approved", "approved", "rejected", "failed", "waiting"):
            make_task(fast, type="gate", status=status, duration_ms=None)
        make_model_call(fast, latency_ms=800)
        make_model_call(
            fast, status="error", latency_ms=200, error={"type": "RateLimitError", "message": "slow"}
        )
        make_model_call(fast, status="error", latency_ms=None, error="boom")

    def test_run_step_tool_and_llm_durations_are_histograms_by_agent_and_workflow(self):
        families = scrape(self.client)
        labels = {"workspace": "acme", "agent": "order-bot", "workflow": "checkout"}
        runs = families["backoffice_run_duration_seconds"]
        self.assertEqual(runs.type, "histogram")
        got = samples(runs, **labels)
        # The running run has no duration yet: two runs ended, at 0.4 s and 45 s.
        self.assertEqual(got["backoffice_run_duration_seconds_count"], 2)
        self.assertEqual(got["backoffice_run_duration_seconds_sum"], 45.4)
        self.assertEqual(got["backoffice_run_duration_seconds_bucket@0.5"], 1)
        self.assertEqual(got["backoffice_run_duration_seconds_bucket@30.0"], 1)
        self.assertEqual(got["backoffice_run_duration_seconds_bucket@60.0"], 2)
        self.assertEqual(got["backoffice_run_duration_seconds_bucket@+Inf"], 2)
        tools = samples(families["backoffice_tool_duration_seconds"], **labels)
        self.assertEqual(tools["backoffice_tool_duration_seconds_count"], 3)
        self.assertEqual(tools["backoffice_tool_duration_seconds_bucket@0.1"], 1)
        steps = samples(families["backoffice_step_duration_seconds"], **labels)
        self.assertEqual(steps["backoffice_step_duration_seconds_count"], 1)
        llm = samples(families["backoffice_llm_duration_seconds"], **labels)
        self.assertEqual(llm["backoffice_llm_duration_seconds_count"], 2)
        self.assertEqual(llm["backoffice_llm_duration_seconds_bucket@0.25"], 1)
        self.assertEqual(llm["backoffice_llm_duration_seconds_sum"], 1.0)

    def test_running_runs_are_a_gauge(self):
        running = scrape(self.client)["backoffice_runs_running"]
        self.assertEqual(running.type, "gauge")
        self.assertEqual(
            samples(running, agent="order-bot", workflow="checkout"), {"backoffice_runs_running": 1}
        )

    def test_llm_errors_gates_and_tools_are_counted(self):
        families = scrape(self.client)
        errors = families["backoffice_llm_errors"]
        self.assertEqual(errors.type, "counter")
        self.assertEqual(samples(errors, error_type="RateLimitError"), {"backoffice_llm_errors_total": 1})
        self.assertEqual(samples(errors, error_type="unknown"), {"backoffice_llm_errors_total": 1})
        gates = families["backoffice_gate_requests"]
        outcomes = {s.labels["outcome"]: s.value for s in gates.samples if s.name.endswith("_total")}
        self.assertEqual(outcomes, {"approved": 2, "rejected": 1, "timed_out": 1})
        calls = samples(families["backoffice_tool_invocations"], tool="search")
        failures = samples(families["backoffice_tool_failures"], tool="search")
        self.assertEqual(calls, {"backoffice_tool_invocations_total": 2})
        self.assertEqual(failures, {"backoffice_tool_failures_total": 1})
        self.assertEqual(samples(families["backoffice_tool_failures"], tool="refund"), {})
        tokens = samples(families["backoffice_llm_tokens"], kind="cached")
        self.assertIn("backoffice_llm_tokens_total", tokens)

    def test_agents_and_workflows_past_the_top_are_folded_into_other(self):
        for index in range(3):
            agent = make_agent(self.workspace, agent_id=f"minor-{index}")
            make_run(self.workspace, agent=agent, workflow=f"flow-{index}", duration_ms=100)
        with mock.patch("metrics.exposition.TOP", 2):
            runs = scrape(self.client)["backoffice_run_duration_seconds"]
        pairs = {(s.labels["agent"], s.labels["workflow"]) for s in runs.samples if s.name.endswith("_count")}
        # order-bot and checkout have the most runs; minor-0 and flow-0 win the tie by name.
        self.assertEqual(pairs, {("order-bot", "checkout"), ("minor-0", "flow-0"), ("other", "other")})
        other = samples(runs, "backoffice_run_duration_seconds_count", agent="other")
        self.assertEqual(other, {"backoffice_run_duration_seconds_count": 2})

    def test_the_roll_ups_hold_the_buckets_and_error_types_a_rebuild_gives(self):
        self.assertEqual(trace_rollups.differences(self.workspace), [])

    def test_a_scrape_takes_the_same_queries_whatever_the_data(self):
        with self.assertNumQueries(17):
            scrape(self.client)
        for index in range(12):
            other = make_workspace()
            run = make_run(other, agent=make_agent(other), workflow=f"w{index}")
            make_task(run, type="tool", name=f"t{index}")
            make_model_call(run, status="error", error={"type": f"E{index}"})
        with self.assertNumQueries(17):
            scrape(self.client)
