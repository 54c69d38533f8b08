"""Ingest runs with Python's cycle collector paused, and leaves it as it found it."""

import gc
from unittest import mock

from django.test import TestCase

from tests.factories import make_api_key, make_workspace
from tests.otel import PROTOBUF, protobuf_body, recording_tracer
from traces.ingest import collector


class PausedTests(TestCase):
    def tearDown(self):
        gc.enable()

    def test_the_collector_is_off_within_and_on_again_after(self):
        with collector.paused():
            self.assertFalse(gc.isenabled())
        self.assertTrue(gc.isenabled())

    def test_a_collector_found_off_stays_off(self):
        gc.disable()
        with collector.paused():
            pass
        self.assertFalse(gc.isenabled())

    def test_it_is_on_again_after_a_request_that_fails(self):
        with self.assertRaises(ValueError), collector.paused():
            raise ValueError("boom")
        self.assertTrue(gc.isenabled())

    def test_an_otlp_export_runs_with_it_paused(self):
        _, key = make_api_key(make_workspace())
        tracer, exporter = recording_tracer()
        with tracer.start_as_current_span("turn"):
            pass
        with mock.patch.object(collector, "paused", wraps=collector.paused) as paused:
            response = self.client.post(
                "/v1/traces",
                protobuf_body(exporter.get_finished_spans()),
                content_type=PROTOBUF,
                headers={"Authorization": f"Bearer {key}"},
            )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(paused.call_count, 1)
        self.assertTrue(gc.isenabled())
