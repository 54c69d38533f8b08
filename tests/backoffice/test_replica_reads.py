"""Read replicas against a real hot standby: `.ci/standby start` streams one from the test PostgreSQL
and prints the URL to run these with, as TEST_REPLICA_URL (tests/environment.py makes it the suite's
DATABASE_REPLICA_URLS, alias replica_1). The rows are committed (TransactionTestCase), or the standby
could never see them; the standby mirrors the test database the suite created on the primary."""

import os
import re
import socket
import time
from contextlib import suppress

import pytest
from django.db import OperationalError, connections, transaction
from django.http import HttpResponse
from django.test import RequestFactory, TransactionTestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backoffice import replicas
from tests.events import event, post_batch
from tests.factories import make_api_key, make_member, make_model_call, make_run, make_task, make_workspace
from traces.models import Run, SavedView

pytestmark = [
    pytest.mark.replica,
    pytest.mark.skipif(
        not os.environ.get("TEST_REPLICA_URL"),
        reason="TEST_REPLICA_URL is unset: `.ci/standby start` starts a hot standby and prints its URL",
    ),
]

REPLICA = "replica_1"


def one(alias, query, params=()):
    with connections[alias].cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def caught_up():
    """Waits until the standby has replayed everything the primary has written so far."""
    written = one("default", "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + 15
    while not one(REPLICA, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [written]):
        if time.monotonic() > deadline:
            raise AssertionError("the standby did not replay the primary's writes within 15 s")
        time.sleep(0.05)


def touched(captured, table):
    """Whether a captured query names the table, quoted by Django or bare in hand-written SQL."""
    name = re.compile(rf"(?<![\w.]){table}(?!\w)")
    return any(name.search(query["sql"].replace('"', "")) for query in captured.captured_queries)


class ReplicaReadsTest(TransactionTestCase):
    databases = {"default", REPLICA}

    def setUp(self):
        replicas.health.clear()
        self.addCleanup(replicas.health.clear)
        self.workspace = make_workspace()
        self.viewer = make_member(self.workspace)
        self.run = make_run(self.workspace)
        self.client.force_login(self.viewer)
        caught_up()

    def reading(self, request):
        """(request(), the queries it sent to the standby, those it sent to the primary)."""
        with (
            CaptureQueriesContext(connections[REPLICA]) as standby,
            CaptureQueriesContext(connections["default"]) as primary,
        ):
            response = request()
        return response, standby, primary

    def pause_replay(self):
        """The standby stops applying what it receives: it falls behind the primary from now on."""
        one(REPLICA, "SELECT pg_wal_replay_pause()::text")
        self.addCleanup(one, REPLICA, "SELECT pg_wal_replay_resume()::text")

    def test_a_page_reads_the_standby_and_who_may_see_it_from_the_primary(self):
        self.assertTrue(one(REPLICA, "SELECT pg_is_in_recovery()"))
        url = reverse("traces:run_list", args=[self.workspace.slug])
        response, standby, primary = self.reading(lambda: self.client.get(url))
        self.assertContains(response, self.run.run_id)
        self.assertTrue(touched(standby, "runs"))
        self.assertFalse(touched(primary, "runs"))
        self.assertTrue(touched(primary, "memberships"))
        self.assertFalse(touched(standby, "memberships"))

    def test_hand_written_sql_of_a_page_reads_the_standby_too(self):
        parent = make_task(self.run)
        child = make_task(self.run, parent=parent)
        make_model_call(self.run, task=child)
        caught_up()
        slug = self.workspace.slug
        for url, table in [
            (reverse("traces:run_tasks", args=[slug, self.run.run_id]) + f"?task={child.step_id}", "tasks"),
            (reverse("traces:model_call_list", args=[slug]), "model_call_stats"),
        ]:
            response, standby, primary = self.reading(lambda url=url: self.client.get(url))
            self.assertEqual(response.status_code, 200)
            self.assertTrue(touched(standby, table), url)
            self.assertFalse(touched(primary, table), url)

    def test_ingest_writes_the_primary_and_the_read_api_reads_the_standby(self):
        _, raw_key = make_api_key(self.workspace)
        start = event("run.start", {"run_id": "r-new", "agent_id": "bot"})
        response, standby, _ = self.reading(lambda: post_batch(self.client, raw_key, [start]))
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(standby.captured_queries, [])
        self.assertTrue(Run.objects.filter(workspace=self.workspace, run_id="r-new").exists())

        caught_up()
        reader = self.client_class()
        auth = {"Authorization": f"Bearer {raw_key}"}
        response, standby, primary = self.reading(lambda: reader.get("/api/v1/runs/r-new", headers=auth))
        self.assertEqual(response.json()["run_id"], "r-new")
        self.assertTrue(touched(standby, "runs"))
        self.assertTrue(touched(primary, "api_keys"))

    def test_the_page_a_form_redirects_to_shows_what_it_saved(self):
        self.pause_replay()
        url = reverse("traces:saved_view_create", args=[self.workspace.slug])
        form = {"name": "Failed overnight", "query": "status=failed"}
        response, standby, _ = self.reading(lambda: self.client.post(url, form))
        self.assertEqual(response.status_code, 302)
        self.assertEqual(standby.captured_queries, [])

        views = reverse("traces:saved_view_list", args=[self.workspace.slug])
        response, standby, _ = self.reading(lambda: self.client.get(views))
        self.assertContains(response, "Failed overnight")
        self.assertFalse(touched(standby, "saved_views"))
        # Another browser reads the standby, which has not replayed the write yet.
        other = self.client_class()
        other.force_login(self.viewer)
        response, standby, _ = self.reading(lambda: other.get(views))
        self.assertNotContains(response, "Failed overnight")
        self.assertTrue(touched(standby, "saved_views"))
        self.assertTrue(SavedView.objects.filter(name="Failed overnight").exists())

    def test_a_standby_further_behind_than_the_allowed_lag_is_skipped(self):
        self.pause_replay()
        late = make_run(self.workspace)
        deadline = time.monotonic() + 15
        with self.settings(DATABASE_REPLICA_MAX_LAG=1):
            while (replicas.lag_of(REPLICA) or 0) <= 1:
                self.assertLess(time.monotonic(), deadline, "the paused standby never fell behind")
                time.sleep(0.1)
            url = reverse("traces:run_list", args=[self.workspace.slug])
            response, standby, _ = self.reading(lambda: self.client.get(url))
        self.assertContains(response, late.run_id)
        self.assertFalse(touched(standby, "runs"))

    def test_a_stopped_standby_is_skipped(self):
        with socket.socket() as probe:  # a port nothing listens on: connections are refused
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        replica = connections[REPLICA]
        replica.close()
        self.addCleanup(replica.close)
        self.addCleanup(replica.settings_dict.__setitem__, "PORT", replica.settings_dict["PORT"])
        replica.settings_dict["PORT"] = closed_port
        url = reverse("traces:run_list", args=[self.workspace.slug])
        response = self.client.get(url)
        self.assertContains(response, self.run.run_id)
        self.assertEqual(replicas.health[REPLICA][1], False)

    def test_a_standby_that_fails_during_a_request_is_skipped_by_the_next_ones(self):
        def view(request):
            Run.objects.exists()
            with suppress(OperationalError):  # the standby drops this connection, as when it restarts
                one(REPLICA, "SELECT pg_terminate_backend(pg_backend_pid())")
            return HttpResponse()

        replicas.ReplicaReadsMiddleware(view)(RequestFactory().get("/"))
        self.assertEqual(replicas.health[REPLICA][1], False)
        url = reverse("traces:run_list", args=[self.workspace.slug])
        response, standby, _ = self.reading(lambda: self.client.get(url))
        self.assertContains(response, self.run.run_id)
        self.assertEqual(standby.captured_queries, [])

    def test_a_transaction_reads_the_primary(self):
        self.pause_replay()
        late = make_run(self.workspace)

        def view(request):
            with transaction.atomic():
                inside = Run.objects.filter(pk=late.pk).exists()
            outside = Run.objects.filter(pk=late.pk).exists()
            return HttpResponse(f"{inside} {outside}")

        response = replicas.ReplicaReadsMiddleware(view)(RequestFactory().get("/"))
        self.assertEqual(response.content, b"True False")
