"""Which database each query goes to when replicas are configured: the router's decisions, without
replica servers (the lag each one reports is given). tests/backoffice/test_replica_reads.py runs the
same rules against a real hot standby."""

from contextlib import contextmanager
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections, router
from django.http import HttpResponse
from django.test import RequestFactory, SimpleTestCase, override_settings

from backoffice import replicas
from backoffice.models import ApiKey, Membership, RateCounter, Workspace
from traces.models import Run, Task

REPLICAS = ["replica_1", "replica_2"]


@contextmanager
def lags(**seconds):
    """lag_of as the replicas would answer it: seconds behind, None for one that does not answer.
    Yields the mock, to count the checks; no replica fails during the request."""
    with (
        mock.patch.object(replicas, "lag_of", side_effect=lambda alias: seconds.get(alias, 0.0)) as asked,
        mock.patch.object(replicas, "failed", return_value=False),
    ):
        yield asked


class ReplicaRouterTest(SimpleTestCase):
    def setUp(self):
        # In setUp, not on the class: the suite's own fixture (conftest.py) must not undo it.
        self.enterContext(self.settings(DATABASE_REPLICAS=REPLICAS, DATABASE_REPLICA_MAX_LAG=5))
        replicas.health.clear()
        self.addCleanup(replicas.health.clear)

    def request(self, method="GET", cookies=None, work=lambda: None):
        """Runs `work` as the view of a request through the middleware; returns (its result, response)."""
        outcome = {}

        def view(request):
            outcome["result"] = work()
            return HttpResponse("ok")

        request = getattr(RequestFactory(), method.lower())("/w/acme/runs/")
        request.COOKIES.update(cookies or {})
        response = replicas.ReplicaReadsMiddleware(view)(request)
        return outcome["result"], response

    def test_a_page_reads_one_healthy_replica_for_the_whole_request(self):
        with lags():
            databases, response = self.request(
                work=lambda: {router.db_for_read(model) for model in (Run, Task, Run, Task)}
            )
        self.assertEqual(len(databases), 1)
        self.assertIn(databases.pop(), REPLICAS)
        self.assertNotIn(replicas.COOKIE, response.cookies)

    def test_access_sessions_and_counters_are_read_from_the_primary(self):
        models = (get_user_model(), Session, Workspace, Membership, ApiKey, RateCounter)
        with lags():
            databases, _ = self.request(work=lambda: {router.db_for_read(model) for model in models})
        self.assertEqual(databases, {"default"})

    def test_writes_go_to_the_primary_and_the_rest_of_the_request_reads_it_back(self):
        def write_then_read():
            return router.db_for_read(Run), router.db_for_write(Run), router.db_for_read(Run)

        with lags():
            (before, written, after), response = self.request(work=write_then_read)
        self.assertIn(before, REPLICAS)
        self.assertEqual((written, after), ("default", "default"))
        self.assertEqual(response.cookies[replicas.COOKIE]["max-age"], 5 + replicas.CHECK_EVERY)

    def test_noting_an_api_keys_use_does_not_move_the_reads(self):
        def touch_then_read():
            router.db_for_write(ApiKey)
            return router.db_for_read(Run)

        with lags():
            database, response = self.request(work=touch_then_read)
        self.assertIn(database, REPLICAS)
        self.assertNotIn(replicas.COOKIE, response.cookies)

    def test_reads_inside_a_transaction_read_the_primary(self):
        with lags(), mock.patch.object(connections["default"], "in_atomic_block", True):
            database, _ = self.request(work=lambda: router.db_for_read(Run))
        self.assertEqual(database, "default")

    def test_a_post_reads_the_primary_and_keeps_its_client_there_for_a_while(self):
        with lags() as asked:
            database, response = self.request("POST", work=lambda: router.db_for_read(Run))
        self.assertEqual(database, "default")
        asked.assert_not_called()
        cookie = response.cookies[replicas.COOKIE]
        self.assertEqual(cookie["max-age"], 5 + replicas.CHECK_EVERY)
        self.assertTrue(cookie["httponly"])

    def test_requests_that_change_nothing_leave_the_client_on_the_replicas(self):
        with lags():
            _, response = self.request("OPTIONS", work=lambda: router.db_for_read(Run))
        self.assertNotIn(replicas.COOKIE, response.cookies)

    def test_a_client_that_just_wrote_reads_the_primary(self):
        with lags():
            database, _ = self.request(cookies={replicas.COOKIE: "1"}, work=lambda: router.db_for_read(Run))
        self.assertEqual(database, "default")

    def test_a_lagging_or_unreachable_replica_is_skipped(self):
        with lags(replica_1=5.5, replica_2=0.2):
            databases, _ = self.request(work=lambda: {router.db_for_read(Run) for _ in range(20)})
        self.assertEqual(databases, {"replica_2"})
        replicas.health.clear()
        with lags(replica_1=None, replica_2=60.0):
            database, _ = self.request(work=lambda: router.db_for_read(Run))
        self.assertEqual(database, "default")

    def test_each_process_asks_a_replica_at_most_every_few_seconds(self):
        with lags() as asked, mock.patch.object(replicas.time, "monotonic", return_value=1000.0) as clock:
            self.request(work=lambda: router.db_for_read(Run))
            self.request(work=lambda: router.db_for_read(Run))
            self.assertEqual(asked.call_count, len(REPLICAS))
            clock.return_value += replicas.CHECK_EVERY
            self.request(work=lambda: router.db_for_read(Run))
        self.assertEqual(asked.call_count, 2 * len(REPLICAS))

    def test_outside_a_request_everything_reads_the_primary(self):
        # Management commands, the ingest fold's helpers and background work run outside any request.
        with lags() as asked:
            self.assertEqual(router.db_for_read(Run), "default")
        asked.assert_not_called()

    def test_migrations_run_on_the_primary_only(self):
        self.assertTrue(router.allow_migrate("default", "traces", model_name="run"))
        self.assertFalse(router.allow_migrate("replica_1", "traces", model_name="run"))

    def test_a_row_read_from_a_replica_may_point_at_one_read_from_the_primary(self):
        workspace, run = Workspace(slug="acme"), Run(run_id="r-1")
        workspace._state.db, run._state.db = "default", "replica_2"
        self.assertTrue(router.allow_relation(run, workspace))
        run._state.db = "elsewhere"
        self.assertIsNone(replicas.ReplicaRouter().allow_relation(run, workspace))

    @override_settings(DATABASE_REPLICAS=[])
    def test_without_replicas_nothing_changes(self):
        with self.assertRaises(MiddlewareNotUsed):
            replicas.ReplicaReadsMiddleware(lambda request: HttpResponse())
        with lags() as asked:
            self.assertEqual(router.db_for_read(Run), "default")
        asked.assert_not_called()
