"""GenAI log records stored before their spans are read before the workspace lock and go into the spans
(span_records.give_records): under the lock only their ids are checked. The rows are those of the
spans first, records after, including when a record arrives in between or the records cannot go in
as they are (a payload mode that cuts them, redaction rules)."""

from unittest import mock

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

from tests.factories import make_api_key, make_workspace
from tests.traces.test_otlp_logs import LogsTestCase, details_call, events_call, rows
from traces import ingest
from traces.ingest import otlp, span_records
from traces.ingest.otlp_logs import ingest_logs
from traces.models import Agent, PayloadMode, RedactionRule
from traces.rollups.daily import differences


class RecordsBeforeTheLockTest(LogsTestCase):
    def spans_first(self, spans, records, setup=lambda workspace: None):
        """The rows of the spans sent first, then their records, in a workspace of their own."""
        other = make_workspace(slug="spans-first")
        setup(other)
        key = self.key
        _, self.key = make_api_key(other)
        self.send_spans(spans)
        self.send_logs(records)
        self.key = key
        return rows(other, spans)

    def test_the_records_are_read_before_the_lock_and_only_their_ids_under_it(self):
        spans, records = events_call()
        self.send_logs(records)
        happened = []
        read, lock = span_records.stored_records, ingest.lock_workspace

        def reading(workspace, keys):
            if keys:
                happened.append("records")
            return read(workspace, keys)

        def locking(workspace):
            happened.append("lock")
            return lock(workspace)

        with (
            mock.patch.object(span_records, "stored_records", reading),
            mock.patch.object(ingest, "lock_workspace", locking),
        ):
            self.send_spans(spans)
        # Under the lock the join reads no record: the spans were stored with theirs.
        self.assertEqual(happened[:2], ["records", "lock"])
        self.assertEqual(happened.count("records"), 1)
        self.assertEqual(rows(self.workspace, spans), self.spans_first(spans, records))
        self.assertEqual(differences(self.workspace), [])

    def test_a_record_stored_after_they_were_read_is_joined_under_the_lock(self):
        spans, records = events_call()
        self.send_logs(records[:2])
        give = otlp.give_records

        def give_then_store_another(workspace, sent):
            given = give(workspace, sent)
            # Another request stores the answer's records, before this one takes the lock.
            ingest_logs(workspace, encode_logs(records[2:]))
            return given

        with mock.patch.object(otlp, "give_records", give_then_store_another):
            self.send_spans(spans)
        self.assertEqual(rows(self.workspace, spans), self.spans_first(spans, records))
        self.assertEqual(differences(self.workspace), [])

    def test_records_a_payload_mode_cuts_give_the_rows_of_spans_first(self):
        def cutting(workspace):
            Agent.objects.create(
                workspace=workspace,
                agent_id="support-bot",
                name="support-bot",
                mode=PayloadMode.STANDARD,
                max_input_chars=30,
            )

        spans, records = details_call()
        cutting(self.workspace)
        self.send_logs(records)
        self.send_spans(spans)
        self.assertEqual(rows(self.workspace, spans), self.spans_first(spans, records, cutting))

    def test_records_of_a_workspace_that_redacts_give_the_rows_of_spans_first(self):
        def redacting(workspace):
            RedactionRule.objects.create(workspace=workspace, pattern="order", replacement="[order]")

        spans, records = events_call()
        redacting(self.workspace)
        self.send_logs(records)
        self.send_spans(spans)
        stored = rows(self.workspace, spans)
        self.assertIn("[order]", str(stored["input"]))
        self.assertEqual(stored, self.spans_first(spans, records, redacting))
