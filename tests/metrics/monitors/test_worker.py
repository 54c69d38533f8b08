"""The real worker (`manage.py worker`) as a process: a job survives a kill -9 and is done once."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django_q.models import Schedule

from backoffice import worker
from metrics.models import Channel, ChannelKind, Delivery
from metrics.monitors.delivery import DELIVERY_HEADER, Message, notify
from tests.factories import make_workspace
from tests.processes import database_url
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _no_heartbeat():
    """The cache table outlives a transactional test's flush: no heartbeat comes in or goes out."""
    cache.delete(worker.HEARTBEAT_KEY)
    yield
    cache.delete(worker.HEARTBEAT_KEY)


def start_worker(url):
    env = {
        **os.environ,
        "DATABASE_URL": url,
        # The worker checks the signature the test's process put on each queued job.
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        # Short, so that the test waits seconds for the job a dead worker held, not minutes.
        "WORKER_JOB_TIMEOUT": "5",
        "WORKER_RETRY_AFTER": "6",
    }
    command = [sys.executable, "manage.py", "worker"]
    # A session of its own: kill -9 reaches the whole cluster (its guard and worker processes).
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)  # noqa: S603


def kill_9(process):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process):
    # The cluster's own process stops its children; a signal to each of them would race it.
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def delivery_state(url, pk):
    """(status, attempts) of a delivery, read as the worker wrote it."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return db.execute("SELECT status, attempts FROM deliveries WHERE id = ?", (pk,)).fetchone()
    found = Delivery.objects.get(pk=pk)
    return found.status, found.attempts


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_delivery_cut_by_kill_9_is_sent_after_the_restart_under_the_same_id(tmp_path):
    workspace = make_workspace()
    # The first request is held long enough for the worker to be killed while it waits.
    with Receiver([(200, 8)]) as receiver:
        channel = Channel.objects.create(
            workspace=workspace, kind=ChannelKind.WEBHOOK, name="hook", url=receiver.url
        )
        delivery = notify(channel, Message(subject="s", text="t", key="k", body={"n": 1}))
        url = database_url(tmp_path)
        process = start_worker(url)
        try:
            assert receiver.arrived.wait(60), "the worker never sent the delivery"
            kill_9(process)
            assert delivery_state(url, delivery.pk) == ("pending", 0)
            process = start_worker(url)
            assert wait_for(lambda: delivery_state(url, delivery.pk) == ("sent", 1), 60)
            time.sleep(2)  # nothing more comes
        finally:
            stop(process)
    assert [got.headers[DELIVERY_HEADER] for got in receiver.received] == [str(delivery.pk)] * 2
    assert len({got.headers[DELIVERY_HEADER] for got in receiver.received}) == 1


def test_the_periodic_jobs_are_registered_once_whatever_ran_before():
    Schedule.objects.create(name=f"{worker.PREFIX}gone.job", func="gone.job", schedule_type=Schedule.MINUTES)
    Schedule.objects.create(name="a delivery retry", func="x.y", schedule_type=Schedule.ONCE)
    worker.register()
    worker.register()
    periodic = Schedule.objects.filter(name__startswith=worker.PREFIX)
    assert sorted(periodic.values_list("func", "minutes")) == sorted(worker.PERIODIC_JOBS)
    assert Schedule.objects.filter(name="a delivery retry").exists()


def test_the_heartbeat_is_what_health_reports(client):
    assert client.get("/health").json()["worker"]["state"] == "never"
    worker.heartbeat()
    health = client.get("/health").json()["worker"]
    assert health["state"] == "ok"
    assert (health["queued"], health["failures"]) == (0, 0)


def test_metrics_show_the_queue_depth_and_the_heartbeat(client, settings):
    settings.METRICS_PUBLIC = True
    channel = Channel.objects.create(
        workspace=make_workspace(), kind=ChannelKind.WEBHOOK, name="hook", url="http://127.0.0.1:9/"
    )
    notify(channel, Message(subject="s", text="t", key="k"))
    worker.heartbeat()
    text = client.get("/metrics").content.decode()
    assert "backoffice_worker_queue_depth 1.0" in text
    assert "backoffice_worker_failures 0.0" in text
    assert "backoffice_worker_heartbeat_timestamp_seconds" in text
