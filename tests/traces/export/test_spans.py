"""Runs sent through the event batch API, exported as spans and read back by OTLP ingest: what a span
can say comes back (the run, its tree, its model calls), under ids of OTLP's shape."""

from django.test import TestCase

from tests.events import workflow_run
from tests.factories import make_workspace
from traces.export.spans import requests_of, span_id, trace_id
from traces.ingest import ingest_batch
from traces.ingest.otlp import ingest_spans
from traces.models import ModelCall, Run, Task


def export_into(workspace, run, spans_per_request=500):
    run = Run.objects.select_related("agent", "session").get(pk=run.pk)
    for request in requests_of(run, spans_per_request):
        assert not ingest_spans(workspace, request).rejected


class EventBatchRunTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.original, cls.copy = make_workspace(), make_workspace()
        ingest_batch(cls.original, workflow_run("order-42", fail=True))
        cls.original_run = Run.objects.get(workspace=cls.original)
        # Small requests: a run split over several comes back whole.
        export_into(cls.copy, cls.original_run, spans_per_request=3)
        cls.exported = Run.objects.select_related("agent", "session").get(workspace=cls.copy)

    def test_the_run_keeps_what_it_said(self):
        run, exported = self.original_run, self.exported
        self.assertEqual(exported.run_id, trace_id("order-42"))
        fields = [
            "status",
            "workflow",
            "user_id",
            "input",
            "started_at",
            "ended_at",
            "tags",
            "total_tokens",
            "cost",
        ]
        self.assertEqual({f: getattr(exported, f) for f in fields}, {f: getattr(run, f) for f in fields})
        # OTLP carries an error's message, type and stack trace: a message alone comes back as text.
        self.assertEqual(exported.error, run.error["message"])
        self.assertEqual(exported.agent.agent_id, run.agent.agent_id)
        self.assertEqual(exported.session.session_id, run.session.session_id)

    def test_its_tasks_hang_under_a_root_span_made_of_the_run(self):
        def tree(workspace):
            return sorted(
                Task.objects.filter(workspace=workspace).values_list(
                    "name", "parent__name", "status", "input"
                )
            )

        root = Task.objects.get(workspace=self.copy, parent__isnull=True)
        self.assertEqual((root.name, root.step_id), ("validate_order", span_id("order-42", "\0run")))
        exported = [
            (name, None if parent == "validate_order" else parent, status, data)
            for name, parent, status, data in tree(self.copy)
            if (name, parent) != ("validate_order", None) and not name.startswith("chat ")
        ]
        # Types without a convention (condition, gate) come back as custom, a decided gate as ok.
        original = [
            (name, parent, "ok" if status == "approved" else status, data)
            for name, parent, status, data in tree(self.original)
        ]
        self.assertEqual(exported, original)

    def test_model_calls_keep_their_model_tokens_cost_and_status(self):
        def calls(workspace):
            return sorted(
                ModelCall.objects.filter(workspace=workspace).values_list(
                    "model", "provider", "prompt_tokens", "completion_tokens", "cost", "status", "latency_ms"
                )
            )

        self.assertEqual(calls(self.copy), calls(self.original))

    def test_exporting_again_changes_nothing(self):
        before = sorted(Task.objects.filter(workspace=self.copy).values_list("step_id", "status"))
        export_into(self.copy, self.original_run)
        self.assertEqual(
            sorted(Task.objects.filter(workspace=self.copy).values_list("step_id", "status")), before
        )
        self.assertEqual(Run.objects.filter(workspace=self.copy).count(), 1)


class IdTests(TestCase):
    def test_otlp_shaped_ids_are_kept_and_others_hashed_the_same_every_time(self):
        self.assertEqual(trace_id("0af7651916cd43dd8448eb211c80319c"), "0af7651916cd43dd8448eb211c80319c")
        self.assertEqual(span_id("r", "b7ad6b7169203331"), "b7ad6b7169203331")
        self.assertRegex(trace_id("order-42"), r"^[0-9a-f]{32}$")
        self.assertEqual(trace_id("order-42"), trace_id("order-42"))
        self.assertNotEqual(span_id("run-a", "step-1"), span_id("run-b", "step-1"))
