from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from tests.events import workflow_run
from tests.factories import make_workspace
from traces.ingest import ingest_batch
from traces.models import Event, Run, Task


def realistic_batch(size, prefix):
    events = []
    n = 0
    while len(events) < size:
        events += workflow_run(f"{prefix}-{n}", session_id=f"{prefix}-s{n % 7}", steps=4, start=n)
        n += 1
    return events[:size]


class BulkIngestTest(TestCase):
    def count_queries(self, events):
        workspace = make_workspace()
        with CaptureQueriesContext(connection) as queries:
            results = ingest_batch(workspace, events)
        self.assertTrue(all(r["status"] == "accepted" for r in results))
        return len(queries)

    def test_a_batch_of_1000_events_is_a_handful_of_queries(self):
        queries = self.count_queries(realistic_batch(1000, "big"))
        self.assertEqual(Event.objects.count(), 1000)
        self.assertGreater(Task.objects.count(), 300)
        # About 30 statements plus the insert chunks (SQLite binds at most 999 parameters a statement).
        self.assertLessEqual(queries, 60)

    def test_ten_times_the_events_costs_only_the_extra_insert_chunks(self):
        small = self.count_queries(realistic_batch(100, "small"))
        big = self.count_queries(realistic_batch(1000, "big"))
        # Bulk writes go in chunks: a batch ten times larger adds insert chunks, never a query per row.
        self.assertLess(big, 2 * small)

    def test_a_run_spread_over_many_batches_ends_up_whole(self):
        workspace = make_workspace()
        events = workflow_run("spread", steps=20)
        for start in range(0, len(events), 7):
            ingest_batch(workspace, events[start : start + 7])
        run = Run.objects.get(run_id="spread")
        self.assertEqual((run.status, run.model_calls), ("completed", 20))
        self.assertEqual(
            list(run.tasks.order_by("sequence").values_list("sequence", flat=True)), list(range(1, 43))
        )
