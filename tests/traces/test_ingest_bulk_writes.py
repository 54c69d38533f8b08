"""The fold's bulk writes (COPY on PostgreSQL, bulk_create elsewhere) keep the rows the fold means."""

import json
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock, skipUnless

from django.db import connection, transaction
from django.test import SimpleTestCase, TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext

from tests.events import event, workflow_run
from tests.factories import make_workspace
from traces import bulk
from traces.ingest import dump_payloads, ingest_batch, stored_event_ids, text_array
from traces.models import ModelCall, ModelPrice, Run, Task


def llm_call(call_id, tokens, at):
    body = {"run_id": "r1", "call_id": call_id, "model": "gpt-4o", "prompt_tokens": tokens, "cost": "0.01"}
    return event("llm.call", body, at=at)


class BulkWritesTest(TestCase):
    def setUp(self):
        self.workspace = make_workspace()
        ingest_batch(self.workspace, [event("run.start", {"run_id": "r1", "agent_id": "a"}, at=0)])

    def test_a_retried_model_call_keeps_its_first_row_in_one_batch_and_across_batches(self):
        ingest_batch(self.workspace, [llm_call("c1", 10, 1), llm_call("c1", 99, 2), llm_call("c2", 5, 3)])
        ingest_batch(self.workspace, [llm_call("c1", 77, 4)])
        tokens = dict(ModelCall.objects.values_list("call_id", "prompt_tokens"))
        self.assertEqual(tokens, {"c1": 10, "c2": 5})
        run = Run.objects.get(run_id="r1")
        self.assertEqual((run.model_calls, run.prompt_tokens, run.cost), (2, 15, Decimal("0.02")))

    def test_tasks_of_a_new_run_are_numbered_by_time_whatever_the_order_they_arrive_in(self):
        steps = [
            event("step.start", {"run_id": "r2", "step_id": f"s{n}", "name": f"n{n}"}, at=10 - n)
            for n in range(5)
        ]
        ingest_batch(self.workspace, [event("run.start", {"run_id": "r2", "agent_id": "a"}, at=0), *steps])
        names = list(
            Task.objects.filter(run__run_id="r2").order_by("sequence").values_list("name", "sequence")
        )
        self.assertEqual(names, [("n4", 1), ("n3", 2), ("n2", 3), ("n1", 4), ("n0", 5)])

    def test_tasks_of_a_new_run_are_numbered_before_they_are_written(self):
        # Without renumbering afterwards, which would rewrite every row once more.
        steps = [
            event("step.start", {"run_id": "r3", "step_id": f"s{n}", "name": "x"}, at=9 - n) for n in range(9)
        ]
        with mock.patch("traces.ingest.fold.renumber"):
            ingest_batch(
                self.workspace, [event("run.start", {"run_id": "r3", "agent_id": "a"}, at=0), *steps]
            )
        order = Task.objects.filter(run__run_id="r3").order_by("sequence").values_list("step_id", "sequence")
        self.assertEqual(list(order), [(f"s{8 - n}", n + 1) for n in range(9)])

    def test_two_batches_in_one_transaction_each_update_only_their_rows(self):
        ingest_batch(self.workspace, [event("run.start", {"run_id": "r4", "agent_id": "a"}, at=0)])
        ingest_batch(self.workspace, [event("run.complete", {"run_id": "r1", "output": "one"}, at=5)])
        ingest_batch(self.workspace, [event("run.failed", {"run_id": "r4", "error": "two"}, at=6)])
        runs = dict(Run.objects.values_list("run_id", "status"))
        self.assertEqual(runs, {"r1": "completed", "r4": "failed"})
        self.assertEqual(Run.objects.get(run_id="r1").output, "one")

    def test_inserted_instances_get_their_keys(self):
        run = Run.objects.get(run_id="r1")
        tasks = [Task(workspace=self.workspace, run=run, step_id=f"k{n}", metadata={}) for n in range(3)]
        bulk.insert(Task, tasks)
        self.assertEqual(
            sorted(t.pk for t in tasks),
            sorted(Task.objects.filter(step_id__startswith="k").values_list("pk", flat=True)),
        )


def staging_statements(queries):
    return [q["sql"] for q in queries.captured_queries if "CREATE TEMPORARY TABLE" in q["sql"]]


def staging_tables():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()")
        return cursor.fetchone()[0]


@skipUnless(connection.vendor == "postgresql", "staging tables are for COPY on PostgreSQL")
class StagingTablesTest(TransactionTestCase):
    """Staging tables are made when a connection first stages rows, all in one statement, not with
    every connection; a rollback that drops them has them made again."""

    def setUp(self):
        connection.close()  # a new connection, as a new worker or a page's request has
        self.workspace = make_workspace()

    def ingest(self, *events):
        ingest_batch(self.workspace, [event("run.start", {"run_id": "r1", "agent_id": "a"}, at=0), *events])

    def test_a_connection_that_only_reads_makes_none(self):
        with CaptureQueriesContext(connection) as queries:
            list(Run.objects.all())
        self.assertEqual(staging_statements(queries), [])
        self.assertEqual(staging_tables(), 0)

    def test_the_first_staging_makes_all_of_them_in_one_statement_and_later_ones_none(self):
        self.ingest()  # a new run is copied straight into its table
        self.assertEqual(staging_tables(), 0)
        with CaptureQueriesContext(connection) as queries:
            self.ingest(event("run.paused", {"run_id": "r1"}, at=1))  # an update goes through staging
        self.assertEqual(len(staging_statements(queries)), 1)
        self.assertEqual(staging_tables(), len(bulk.STAGED))
        with CaptureQueriesContext(connection) as queries:
            self.ingest(event("run.complete", {"run_id": "r1", "output": "x"}, at=2))
        self.assertEqual(staging_statements(queries), [])
        self.assertEqual(Run.objects.get(run_id="r1").status, "completed")

    def test_tables_made_in_a_transaction_that_rolls_back_are_made_again(self):
        with self.assertRaises(ZeroDivisionError), transaction.atomic():
            bulk.stage(Run)
            1 / 0  # noqa: B018 - the transaction rolls back, and the new tables with it
        self.assertEqual(staging_tables(), 0)
        with transaction.atomic():
            with transaction.atomic():
                bulk.stage(Run)
                transaction.set_rollback(True)  # a savepoint's rollback drops them as well
            self.ingest(event("run.complete", {"run_id": "r1", "output": "x"}, at=1))
            self.ingest(event("run.failed", {"run_id": "r1", "error": "x"}, at=2))  # updates: staged
        self.assertEqual(Run.objects.get(run_id="r1").status, "failed")
        self.assertEqual(staging_tables(), len(bulk.STAGED))


class StoredEventIdsTest(TestCase):
    ODD_IDS = ['a"b', "c\\d", "e,f", "{g}", "NULL", " h i ", "ünï 😀", "j'k", '\\\\"', "l\\"]

    def test_ids_of_any_text_are_found_as_duplicates_across_batches(self):
        workspace = make_workspace()
        events = [
            event("run.start", {"run_id": f"r{n}", "agent_id": "a"}, event_id=i)
            for n, i in enumerate(self.ODD_IDS)
        ]
        first = ingest_batch(workspace, events)
        again = ingest_batch(workspace, events)
        self.assertEqual({r["status"] for r in first}, {"accepted"})
        self.assertEqual({r["status"] for r in again}, {"duplicate"})
        ids = {i.strip() for i in self.ODD_IDS}  # as validation strips them
        self.assertEqual(stored_event_ids(workspace, [*ids, "new"]), ids)

    @skipUnless(connection.vendor == "postgresql", "an array literal for PostgreSQL")
    def test_an_array_literal_reads_back_as_the_same_strings(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT unnest(%s::text[])", [text_array(self.ODD_IDS)])
            self.assertEqual([row[0] for row in cursor.fetchall()], self.ODD_IDS)


def rows_updated(table):
    """Rows of `table` this transaction has updated so far (PostgreSQL's per-transaction counters)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


@skipUnless(connection.vendor == "postgresql", "keys before the insert come from the PostgreSQL sequence")
class ParentLinksTest(TestCase):
    def test_new_tasks_are_written_with_the_parents_the_batch_knows_and_not_rewritten(self):
        workspace = make_workspace()
        before = rows_updated("tasks")
        steps = [
            event("run.start", {"run_id": "r1", "agent_id": "a"}, at=0),
            event("step.start", {"run_id": "r1", "step_id": "s1", "name": "s1"}, at=1),
            event("tool.call", {"run_id": "r1", "step_id": "t1", "tool": "t", "parent_id": "s1"}, at=2),
            event("step.start", {"run_id": "r1", "step_id": "s2", "name": "s2", "parent_id": "later"}, at=3),
        ]
        ingest_batch(workspace, steps)
        # t1 was written with its parent; s2, whose parent has not come, is not rewritten either.
        self.assertEqual(rows_updated("tasks") - before, 0)
        ingest_batch(
            workspace, [event("step.start", {"run_id": "r1", "step_id": "later", "name": "l"}, at=4)]
        )
        parents = dict(Task.objects.values_list("step_id", "parent__step_id"))
        self.assertEqual(parents, {"s1": None, "t1": "s1", "s2": "later", "later": None})


@skipUnless(connection.vendor == "postgresql", "the counts of rewritten rows are PostgreSQL's")
class WrittenOnceTest(TestCase):
    """A batch of whole runs writes each run, task and message once: the totals, numbers and traces the
    fold derives from the stored rows are right as first written (each rewrite copies a ~1 KB row)."""

    def test_a_batch_of_whole_new_runs_rewrites_no_run_task_or_message(self):
        workspace = make_workspace()
        # Priced from the table, in amounts with more decimals than the cost columns keep.
        ModelPrice.objects.create(model_pattern="acme-*", input_per_million="2.123456", output_per_million=10)
        events = workflow_run("r1", session_id="c1") + workflow_run("r2", session_id="c1", start=10)
        unpriced = [
            event("run.start", {"run_id": "r3", "agent_id": "a", "session_id": "c2"}, at=20),
            event("message", {"run_id": "r3", "session_id": "c2", "role": "user", "content": "hi"}, at=20.1),
            event("step.start", {"run_id": "r3", "step_id": "b", "name": "second"}, at=21),
            event("step.start", {"run_id": "r3", "step_id": "a", "name": "first"}, at=20.5),
            event("tool.call", {"run_id": "r3", "step_id": "t", "tool": "x", "parent_id": "a"}, at=20.6),
        ]
        for n, tokens in enumerate((333, 777, 333)):  # c0 comes twice: the first is kept
            body = {"run_id": "r3", "step_id": "a", "call_id": f"c{n % 2}", "model": "acme-large"}
            unpriced.append(
                event("llm.call", {**body, "prompt_tokens": tokens, "completion_tokens": 7}, at=22 + n)
            )
        before = {table: rows_updated(table) for table in ("runs", "tasks", "chat_messages")}
        ingest_batch(workspace, events + unpriced)
        after = {table: rows_updated(table) - before[table] for table in before}
        self.assertEqual(after, {"runs": 0, "tasks": 0, "chat_messages": 0})
        run = Run.objects.get(run_id="r3")
        # 333 × 2.123456 / 1M = 0.000707110848 is kept as 0.0007071108; 777 → 0.0016499253.
        cost = Decimal("0.0007071108") + Decimal("0.00007") + Decimal("0.0016499253") + Decimal("0.00007")
        self.assertEqual(
            (run.model_calls, run.prompt_tokens, run.cost, run.trace), (2, 1110, cost, ["first", "second"])
        )
        task = Task.objects.get(run=run, step_id="a")
        self.assertEqual((task.total_tokens, task.cost), (1124, cost))


class DumpPayloadsTest(SimpleTestCase):
    def test_each_body_and_payload_text_reads_back_as_the_value(self):
        bodies = [
            {"run_id": "r", "input": {"q": ['a"b', 1.5, None]}, 'odd "key': {"x": 1}, "tags": []},
            {"output": [1, {"y": "ü"}]},
            {"run_id": "r", "error": "plain text"},
            {},
        ]
        events = [SimpleNamespace(stored=body) for body in bodies]
        texts = dump_payloads(events)
        for body in bodies:
            self.assertIs(texts[id(body)][0], body)
            self.assertEqual(json.loads(texts[id(body)][1]), body)
        self.assertEqual(texts[id(bodies[0]["input"])][1], json.dumps(bodies[0]["input"]))
        self.assertNotIn(id(bodies[0]['odd "key']), texts)  # not a payload field: inside its body's text

    def test_writes_take_the_text_made_for_that_very_value_only(self):
        value, equal = {"a": 1}, {"a": 1}
        with bulk.dumped({id(value): (value, '{"a": 2}')}):
            dump = bulk.to_db(Task._meta.get_field("input"))
            self.assertEqual((dump(value), dump(equal), dump(None)), ('{"a": 2}', '{"a": 1}', None))
        self.assertEqual(bulk.to_db(Task._meta.get_field("input"))(value), '{"a": 1}')
