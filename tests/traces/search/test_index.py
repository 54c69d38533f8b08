"""The search index kept at ingest: what is found, the same on SQLite and PostgreSQL, never what
redaction or a payload mode took out, and gone with what retention deletes."""

from io import StringIO

from django.core.management import call_command
from django.db import connection
from django.test import TestCase

from backoffice.retention import Purge
from metrics.models import TrackedEvent
from tests.events import event
from tests.factories import make_api_key, make_workspace
from tests.otel import span_id_of
from tests.traces.test_otlp_logs import LogsTestCase, chat_span, events_call
from traces.ingest import ingest_batch
from traces.models import RedactionRule, Run, SearchDocument
from traces.search import index
from traces.search.query import matching, run_ids_matching


def found(workspace, q, since=None):
    """The (kind, ref) of every document matching q."""
    return sorted(matching(workspace, q, since).values_list("kind", "ref"))


def story(run_id="r1", session_id="s1", agent_id="bot"):
    """A run with something of every searchable kind, sent out of order."""
    return [
        event("step.ok", {"run_id": run_id, "step_id": "t1", "output": {"answer": "Refund approved"}}, at=2),
        event(
            "run.start",
            {
                "run_id": run_id,
                "agent_id": agent_id,
                "session_id": session_id,
                "input": {"system": "You are Nova, a helpful agent", "order": 4242},
            },
        ),
        event(
            "step.start",
            {"run_id": run_id, "step_id": "t1", "name": "lookup_order", "input": "find order 4242"},
            at=1,
        ),
        event(
            "tool.call", {"run_id": run_id, "step_id": "t2", "tool": "charge_card", "args": {"x": 1}}, at=1
        ),
        event("tool.failed", {"run_id": run_id, "step_id": "t2", "error": "Rate limit reached"}, at=2),
        event(
            "llm.call",
            {
                "run_id": run_id,
                "step_id": "t1",
                "call_id": "c1",
                "model": "gpt-4o",
                "request": {"messages": [{"role": "user", "content": "Où est ma commande?"}]},
                "response": {"text": "Elle arrive bientôt"},
            },
            at=1.5,
        ),
        event(
            "message", {"session_id": session_id, "run_id": run_id, "role": "user", "content": "hello there"}
        ),
        event(
            "track", {"name": "order_refunded", "run_id": run_id, "properties": {"plan": "Platinum"}}, at=3
        ),
        event("run.failed", {"run_id": run_id, "error": {"message": "Upstream timeout"}}, at=4),
    ]


class IndexAtIngestTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.events = story()
        ingest_batch(cls.workspace, cls.events)

    def test_each_kind_of_text_is_found_where_it_was_said(self):
        # Fixed expectations: the suite runs on SQLite and on PostgreSQL, and both must give these.
        expected = {
            "nova": [("run.input", "r1")],
            "approved": [("task.output", "t1")],
            "refund": [("event", tracked_id(self.workspace)), ("task.output", "t1")],
            "lookup_order": [("task.name", "t1")],
            "rate limit": [("task.error", "t2")],
            "commande": [("call.request", "c1")],
            "bientot": [],  # accents are kept: "bientôt" is not "bientot"
            "bientôt": [("call.response", "c1")],
            "hello": [("message", message_id(self.workspace))],
            "platinum": [("event", tracked_id(self.workspace))],
            "order_refunded": [("event", tracked_id(self.workspace))],
            "upstream timeout": [("run.error", "r1")],
            "4242": [("run.input", "r1"), ("task.input", "t1")],
            "charge": [("task.name", "t2")],
            "CHARGE_CARD": [("task.name", "t2")],
            "helpf": [("run.input", "r1")],  # the start of a word
            # Three characters or more: inside a word too, on both databases.
            "elpful": [("run.input", "r1")],
            "ova": [("run.input", "r1")],
            "imit eached": [("task.error", "t2")],
            "NOVA elpful": [("run.input", "r1")],
            "efund": [("event", tracked_id(self.workspace)), ("task.output", "t1")],
            "242": [("run.input", "r1"), ("task.input", "t1")],  # a fragment of a number or an id
            "lp": [],  # shorter: only the start of a word
            "he": [("message", message_id(self.workspace)), ("run.input", "r1")],  # hello, helpful
            "ova missing": [],  # every word must be found
            "nova missing": [],  # every word must be found
            "!!!": [],
        }
        for q, documents in expected.items():
            with self.subTest(q=q):
                self.assertEqual(found(self.workspace, q), sorted(documents))

    def test_the_runs_matching_are_what_other_lists_filter_on(self):
        runs = Run.objects.filter(pk__in=run_ids_matching(self.workspace, "nova"))
        self.assertEqual(list(runs.values_list("run_id", flat=True)), ["r1"])

    def test_another_workspace_finds_nothing(self):
        self.assertEqual(found(make_workspace(), "nova"), [])

    def test_a_batch_sent_again_adds_no_document(self):
        before = SearchDocument.objects.count()
        ingest_batch(self.workspace, self.events)  # the same event ids: duplicates
        self.assertEqual(SearchDocument.objects.count(), before)


def message_id(workspace):
    return SearchDocument.objects.get(workspace=workspace, kind="message").ref


def tracked_id(workspace):
    return TrackedEvent.objects.get(workspace=workspace).event_id


class TextTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        texts = {
            "u1": "Größe ÉCOLE naïve 東京タワー",
            "u2": "before\x00after",
            "u3": "<script>alert('x')</script> Nova",
            "u4": "rate_limit_exceeded for user@example.com",
            "u5": "Please reorder the parts",
            "u6": "Order status: shipped",
        }
        ingest_batch(
            cls.workspace,
            [
                event("run.start", {"run_id": run_id, "agent_id": "a", "input": text})
                for run_id, text in texts.items()
            ],
        )

    def test_unicode_words_are_folded_the_same_on_both_databases(self):
        expected = {
            # Case-folded as Python folds: ß is ss.
            "grösse": ["u1"],
            "größe": ["u1"],
            "GRÖSSE": ["u1"],
            "école": ["u1"],
            "ECOLE": [],
            "NAÏVE": ["u1"],
            "東京": ["u1"],
            "タワー": ["u1"],  # inside the word 東京タワー
        }
        for q, runs in expected.items():
            with self.subTest(q=q):
                self.assertEqual([ref for _, ref in found(self.workspace, q)], runs)

    def test_a_word_is_found_inside_longer_ones(self):
        self.assertEqual(found(self.workspace, "order"), [("run.input", "u5"), ("run.input", "u6")])
        self.assertEqual(found(self.workspace, "reorder"), [("run.input", "u5")])
        self.assertEqual(found(self.workspace, "or"), [("run.input", "u6")])  # not "for"

    def test_a_nul_separates_words(self):
        self.assertEqual(found(self.workspace, "after"), [("run.input", "u2")])
        self.assertEqual(found(self.workspace, "before"), [("run.input", "u2")])

    def test_identifiers_and_addresses_are_found_by_their_parts(self):
        self.assertEqual(found(self.workspace, "rate_limit_exceeded"), [("run.input", "u4")])
        self.assertEqual(found(self.workspace, "limit"), [("run.input", "u4")])
        self.assertEqual(found(self.workspace, "example.com"), [("run.input", "u4")])
        self.assertEqual(found(self.workspace, "script"), [("run.input", "u3")])


class WhatIsNeverIndexedTests(TestCase):
    def test_redacted_text_is_not_indexed(self):
        workspace = make_workspace()
        RedactionRule.objects.create(
            workspace=workspace, pattern=r"[\w.+-]+@[\w-]+\.[\w.]+", replacement="[email]"
        )
        ingest_batch(
            workspace,
            story(session_id="s9")
            + [
                event(
                    "step.start",
                    {"run_id": "r1", "step_id": "t9", "name": "mail", "input": "ada@example.com"},
                ),
            ],
        )
        self.assertEqual(found(workspace, "ada"), [])
        self.assertEqual(found(workspace, "example"), [])
        self.assertEqual(found(workspace, "email"), [("task.input", "t9")])

    def test_minimal_mode_keeps_no_payload_text(self):
        workspace = make_workspace()
        upsert = event("agent.upsert", {"agent_id": "bot", "name": "Bot", "mode": "minimal"})
        ingest_batch(workspace, [upsert, *story()])
        self.assertEqual(found(workspace, "nova"), [])
        self.assertEqual(found(workspace, "approved"), [])
        self.assertEqual(found(workspace, "hello"), [])
        self.assertEqual(found(workspace, "omitted"), [])  # the mark of what was left out is no text
        # Names are not payloads: a step is still found by its name.
        self.assertEqual(found(workspace, "lookup_order"), [("task.name", "t1")])

    def test_a_mode_arriving_late_takes_the_payloads_out_of_the_index(self):
        workspace = make_workspace()
        ingest_batch(workspace, story())
        self.assertEqual(found(workspace, "nova"), [("run.input", "r1")])
        ingest_batch(
            workspace, [event("agent.upsert", {"agent_id": "bot", "name": "Bot", "mode": "minimal"}, at=9)]
        )
        for q in ("nova", "approved", "commande", "hello", "upstream", "omitted"):
            with self.subTest(q=q):
                self.assertEqual(found(workspace, q), [])
        self.assertEqual(found(workspace, "platinum"), [("event", tracked_id(workspace))])

    def test_a_run_whose_agent_arrives_late_is_cut_in_the_index_too(self):
        workspace = make_workspace()
        ingest_batch(
            workspace, [event("agent.upsert", {"agent_id": "quiet", "name": "Q", "mode": "minimal"})]
        )
        events = story(agent_id="quiet")
        start = next(e for e in events if e["type"] == "run.start")
        ingest_batch(workspace, [e for e in events if e is not start])
        self.assertEqual(found(workspace, "approved"), [("task.output", "t1")])
        ingest_batch(workspace, [start])
        self.assertEqual(found(workspace, "approved"), [])
        self.assertEqual(found(workspace, "nova"), [])


class ChangesAndDeletesTests(TestCase):
    def test_a_later_batch_adds_the_text_it_brings_once(self):
        workspace = make_workspace()
        ingest_batch(workspace, [event("step.start", {"run_id": "r", "step_id": "t", "name": "draft"})])
        ingest_batch(
            workspace, [event("step.ok", {"run_id": "r", "step_id": "t", "output": "final words"}, at=1)]
        )
        ingest_batch(
            workspace,
            [event("step.start", {"run_id": "r", "step_id": "t", "name": "renamed", "input": "x"}, at=-1)],
        )
        self.assertEqual(found(workspace, "final"), [("task.output", "t")])
        self.assertEqual(found(workspace, "renamed"), [("task.name", "t")])
        self.assertEqual(found(workspace, "draft"), [])
        self.assertEqual(SearchDocument.objects.filter(workspace=workspace, kind="task.name").count(), 1)

    def test_replacing_deletes_the_documents_of_those_keys_alone(self):
        workspace = make_workspace()
        steps = [("r1", "a"), ("r1", "b"), ("r2", "a"), ("r2", "b")]
        named = [event("step.start", {"run_id": r, "step_id": s, "name": f"step {s}"}) for r, s in steps]
        ingest_batch(workspace, named)
        runs = dict(Run.objects.filter(workspace=workspace).values_list("run_id", "pk"))
        index.delete(workspace, [("task.name", "a", runs["r1"]), ("task.name", "b", runs["r2"])])
        left = SearchDocument.objects.filter(workspace=workspace).values_list("run__run_id", "ref")
        self.assertEqual(sorted(left), [("r1", "b"), ("r2", "a")])

    def test_the_indexes_pending_entries_are_merged_once_after_the_commit(self):
        workspace = make_workspace()
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            ingest_batch(workspace, story())
            ingest_batch(workspace, story(run_id="r2"))
        merges = [c for c in callbacks if c is index.merge_pending]
        self.assertEqual(len(merges), 1 if connection.vendor == "postgresql" else 0)
        self.assertEqual(found(workspace, "nova"), [("run.input", "r1"), ("run.input", "r2")])

    def test_retention_deletes_the_documents_with_their_rows(self):
        workspace = make_workspace(retention_days=1)
        ingest_batch(workspace, story())
        ingest_batch(workspace, [event("message", {"session_id": "s2", "role": "user", "content": "alone"})])
        ingest_batch(workspace, [event("track", {"name": "loose_end", "properties": {}})])
        self.assertTrue(SearchDocument.objects.filter(workspace=workspace).exists())
        Purge.for_workspace(workspace).run()
        self.assertFalse(SearchDocument.objects.filter(workspace=workspace).exists())

    def test_the_backfill_rebuilds_the_same_documents(self):
        workspace = make_workspace()
        ingest_batch(workspace, story())
        ingest_batch(workspace, [event("message", {"session_id": "s2", "role": "user", "content": "alone"})])
        fields = ("kind", "ref", "run", "at", "text", "words")
        before = sorted(SearchDocument.objects.filter(workspace=workspace).values_list(*fields))
        SearchDocument.objects.filter(workspace=workspace).delete()
        out = StringIO()
        call_command("search_index", workspace=[workspace.slug], stdout=out)
        self.assertEqual(
            sorted(SearchDocument.objects.filter(workspace=workspace).values_list(*fields)), before
        )
        self.assertIn(f"{workspace.slug}: done", out.getvalue())
        call_command("search_index", workspace=[workspace.slug], stdout=StringIO())  # again: no duplicates
        self.assertEqual(SearchDocument.objects.filter(workspace=workspace).count(), len(before))


class OtlpLogRecordsTests(LogsTestCase):
    def documents(self, workspace):
        return sorted(SearchDocument.objects.filter(workspace=workspace).values_list("kind", "text"))

    def test_what_genai_records_give_a_stored_span_is_found_whichever_came_first(self):
        spans, records = events_call()
        self.send_spans(spans)
        self.send_logs(records)
        span_id = span_id_of(chat_span(spans))
        kinds = {kind for kind, ref in found(self.workspace, "shipped yesterday") if ref == span_id}
        self.assertEqual(kinds, {"task.output", "call.response"})
        spans_first = self.documents(self.workspace)
        other = make_workspace(slug="other")
        _, self.key = make_api_key(other)
        self.send_logs(records)
        self.send_spans(spans)
        self.assertEqual(self.documents(other), spans_first)
