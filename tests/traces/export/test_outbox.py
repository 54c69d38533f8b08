"""The outbox against a local OTLP receiver started here: retry with backoff, at least once, in order,
nothing sent before its run finishes, nothing of another workspace."""

import gzip
from datetime import timedelta
from io import StringIO
from unittest import mock

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.utils import timezone
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from backoffice import worker
from tests.events import event, workflow_run
from tests.factories import make_exporter, make_workspace
from tests.receiver import Receiver
from traces.export import delivery, outbox
from traces.export.spans import trace_id
from traces.ingest import ingest_batch
from traces.models import Exporter, ExportItem


class OtlpReceiver(Receiver):
    """A local OTLP/HTTP receiver: answers the given statuses in turn (then 200)."""

    def __init__(self, *statuses):
        super().__init__(statuses, path="/v1/traces", error_body=b"try later")

    def spans(self, index=-1):
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(gzip.decompress(self.received[index].raw))
        return [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def finished_run(workspace, run_id="run-1"):
    ingest_batch(workspace, workflow_run(run_id))


class OutboxTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()

    def exporter(self, url, **fields):
        return make_exporter(self.workspace, endpoint=url, headers={"Authorization": "Bearer k-1"}, **fields)

    def test_a_failed_send_is_retried_after_a_growing_backoff_then_delivered(self):
        with OtlpReceiver(503, 500) as receiver:
            exporter = self.exporter(receiver.url)
            finished_run(self.workspace)
            now = timezone.now()
            self.assertEqual(outbox.export_pending(now), {"queued": 1, "sent": 0, "failed": 1})
            item = ExportItem.objects.get()
            self.assertEqual((item.attempts, item.due_at), (1, now + timedelta(seconds=30)))
            self.assertEqual(item.last_error, "503 Service Unavailable: try later")
            exporter.refresh_from_db()
            self.assertEqual(exporter.last_error, "503 Service Unavailable: try later")
            self.assertIsNone(exporter.last_success_at)

            # Not due yet: nothing is sent.
            self.assertEqual(
                outbox.export_pending(now + timedelta(seconds=29)), {"queued": 0, "sent": 0, "failed": 0}
            )
            self.assertEqual(len(receiver.received), 1)

            later = now + timedelta(seconds=31)
            self.assertEqual(outbox.export_pending(later)["failed"], 1)
            item.refresh_from_db()
            self.assertEqual((item.attempts, item.due_at), (2, later + timedelta(seconds=60)))

            self.assertEqual(outbox.export_pending(later + timedelta(seconds=61))["sent"], 1)
        self.assertFalse(ExportItem.objects.exists())
        exporter.refresh_from_db()
        self.assertIsNotNone(exporter.last_success_at)
        self.assertEqual(len(receiver.received), 3)
        headers = receiver.received[-1].headers
        self.assertEqual(headers["Authorization"], "Bearer k-1")
        self.assertEqual(
            (headers["Content-Type"], headers["Content-Encoding"]), ("application/x-protobuf", "gzip")
        )
        spans = receiver.spans()
        self.assertEqual({span.trace_id.hex() for span in spans}, {trace_id("run-1")})
        self.assertEqual(
            [span.start_time_unix_nano for span in spans], sorted(s.start_time_unix_nano for s in spans)
        )

    def test_the_backoff_doubles_up_to_an_hour(self):
        self.assertEqual([outbox.backoff(n).total_seconds() for n in (1, 2, 3)], [30, 60, 120])
        self.assertEqual(outbox.backoff(30), timedelta(hours=1))

    def test_a_run_is_sent_once_it_finishes_and_again_after_late_events(self):
        with OtlpReceiver() as receiver:
            self.exporter(receiver.url)
            events = workflow_run("run-1")
            ending = [e for e in events if e["type"] in ("run.complete", "run.failed")]
            ingest_batch(self.workspace, [e for e in events if e not in ending])
            self.assertEqual(outbox.export_pending(), {"queued": 0, "sent": 0, "failed": 0})
            ingest_batch(self.workspace, ending)
            self.assertEqual(outbox.export_pending(), {"queued": 1, "sent": 1, "failed": 0})
            late = event("log", {"run_id": "run-1", "step_id": "late-note", "name": "late note"}, at=60)
            ingest_batch(self.workspace, [late])
            self.assertEqual(outbox.export_pending(), {"queued": 1, "sent": 1, "failed": 0})
        self.assertIn("late note", [span.name for span in receiver.spans()])
        self.assertEqual(len(receiver.received), 2)

    def test_events_that_come_during_a_send_send_the_run_again(self):
        with OtlpReceiver() as receiver:
            self.exporter(receiver.url)
            finished_run(self.workspace)
            sent = delivery.post

            def post_while_events_come(exporter, request):
                ExportItem.objects.update(version=2)  # what queue() does when the run changes meanwhile
                sent(exporter, request)

            now = timezone.now()
            with mock.patch.object(delivery, "post", post_while_events_come):
                self.assertEqual(outbox.export_pending(now)["sent"], 1)
            item = ExportItem.objects.get()
            self.assertEqual((item.version, item.due_at), (2, now))
            self.assertEqual(outbox.export_pending(now)["sent"], 1)
        self.assertFalse(ExportItem.objects.exists())

    def test_an_unreachable_endpoint_is_an_error_the_admin_reads(self):
        exporter = self.exporter("http://127.0.0.1:9/v1/traces")
        finished_run(self.workspace)
        self.assertEqual(outbox.export_pending()["failed"], 1)
        exporter.refresh_from_db()
        self.assertTrue(exporter.last_error.startswith("could not connect"), exporter.last_error)
        self.assertEqual(ExportItem.objects.get().attempts, 1)

    @override_settings(EXPORT_TIMEOUT_SECONDS=1)
    def test_only_enabled_exporters_send_and_only_their_workspaces_runs(self):
        with OtlpReceiver() as receiver:
            self.exporter(receiver.url, enabled=False)
            make_exporter(make_workspace(), endpoint=receiver.url)
            finished_run(self.workspace)
            self.assertEqual(outbox.export_pending(), {"queued": 0, "sent": 0, "failed": 0})
        self.assertEqual(receiver.received, [])
        self.assertEqual(Exporter.objects.get(workspace=self.workspace).cursor, 0)

    def test_a_pass_past_its_time_leaves_the_rest_for_the_next(self):
        with OtlpReceiver() as receiver:
            self.exporter(receiver.url)
            finished_run(self.workspace)
            with mock.patch.object(outbox, "PASS_SECONDS", -1):
                self.assertEqual(outbox.export_pending(), {"queued": 1, "sent": 0, "failed": 0})
            self.assertEqual(outbox.export_pending(), {"queued": 0, "sent": 1, "failed": 0})

    def test_the_worker_runs_a_pass_every_minute(self):
        self.assertIn(("traces.export.outbox.export_pending", 1), worker.PERIODIC_JOBS)

    def test_the_command_runs_one_pass(self):
        with OtlpReceiver() as receiver:
            self.exporter(receiver.url)
            finished_run(self.workspace)
            out = StringIO()
            call_command("export_traces", stdout=out)
        self.assertEqual(out.getvalue().strip(), "1 runs queued, 1 sent, 0 failed")
