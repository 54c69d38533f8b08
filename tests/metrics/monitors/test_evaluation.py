"""The monitor state machine, against a local HTTP receiver: ok → warning → alert → ok, no data, mute,
re-notify, breakdowns."""

from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.test import TestCase
from django.utils import timezone

from metrics.models import Channel, ChannelKind, Delivery, Monitor, MonitorTransition
from metrics.monitors import presets
from metrics.monitors.delivery import deliver
from metrics.monitors.evaluation import CYCLE_LOCK, evaluate, evaluate_due, fire_test
from metrics.monitors.metric import check, spikes
from tests.factories import make_agent, make_run, make_workspace
from tests.receiver import Receiver

ERROR_RATE = {
    "source": "runs",
    "aggregation": "rate",
    "condition": [{"property": "status", "operator": "eq", "value": "failed"}],
}

COST_PER_RUN = {"source": "runs", "aggregation": "avg", "property": "cost"}


class MonitorTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.now = timezone.now()

    def monitor(self, url, **fields):
        channel = Channel.objects.create(
            workspace=self.workspace, kind=ChannelKind.WEBHOOK, name="hook", url=url
        )
        monitor = Monitor.objects.create(
            workspace=self.workspace,
            name="Errors",
            metric=fields.pop("metric", ERROR_RATE),
            window_minutes=60,
            warning=fields.pop("warning", 10),
            alert=fields.pop("alert", 50),
            **fields,
        )
        monitor.channels.add(channel)
        return monitor

    def runs(self, failed, completed, minutes_ago, **fields):
        for index in range(failed + completed):
            make_run(
                self.workspace,
                status="failed" if index < failed else "completed",
                started_at=self.now - timedelta(minutes=minutes_ago, seconds=index),
                **fields,
            )

    def deliver_all(self):
        for delivery in Delivery.objects.filter(status="pending").order_by("id"):
            deliver(delivery.pk)

    def test_it_goes_ok_warning_alert_ok_and_tells_each_change_once(self):
        with Receiver() as receiver:
            monitor = self.monitor(receiver.url)
            self.runs(0, 10, minutes_ago=200)  # outside the window
            self.runs(0, 10, minutes_ago=50)
            self.assertEqual(evaluate(monitor, self.now).state, "ok")
            self.runs(2, 0, minutes_ago=40)  # 2 of 12: 16.7 %
            self.assertEqual(evaluate(monitor, self.now + timedelta(minutes=1)).state, "warning")
            self.assertEqual(evaluate(monitor, self.now + timedelta(minutes=2)).state, "warning")  # told once
            self.runs(10, 0, minutes_ago=30)  # 12 of 22
            outcome = evaluate(monitor, self.now + timedelta(minutes=3))
            self.assertEqual((outcome.state, round(outcome.value, 1)), ("alert", 54.5))
            self.runs(0, 100, minutes_ago=10)  # 12 of 122: under the warning again
            self.assertEqual(evaluate(monitor, self.now + timedelta(minutes=4)).state, "ok")
            self.deliver_all()
        states = [(got.body["previous_state"], got.body["state"]) for got in receiver.received]
        self.assertEqual(states, [("ok", "warning"), ("warning", "alert"), ("alert", "ok")])
        alert = receiver.received[1].body
        self.assertEqual(alert["threshold"], 50)
        self.assertEqual(alert["workspace"], self.workspace.slug)
        self.assertEqual(alert["monitor"], {"id": monitor.pk, "name": "Errors"})
        self.assertIsNone(alert["breakdown"])
        self.assertIn(f"/settings/monitors/{monitor.pk}/", alert["links"]["monitor"])
        self.assertIn("/runs/?status=failed&start=", alert["links"]["runs"])
        history = MonitorTransition.objects.filter(monitor=monitor).order_by("at")
        self.assertEqual([t.state for t in history], ["warning", "alert", "ok"])
        self.assertTrue(all(t.notified for t in history))

    def test_no_data_is_a_state_of_its_own_or_what_the_monitor_says(self):
        monitor = self.monitor("http://127.0.0.1:9/")
        self.assertEqual(evaluate(monitor, self.now).state, "no_data")
        self.assertFalse(MonitorTransition.objects.exists())  # a first quiet look is not a change
        monitor.no_data = "alert"
        self.assertEqual(evaluate(monitor, self.now + timedelta(minutes=1)).state, "alert")
        self.assertEqual(Delivery.objects.count(), 1)

    def test_a_muted_monitor_keeps_its_history_and_tells_when_the_mute_ends(self):
        with Receiver() as receiver:
            monitor = self.monitor(receiver.url, muted_until=self.now + timedelta(minutes=10))
            self.runs(8, 2, minutes_ago=5)
            self.assertEqual(evaluate(monitor, self.now).state, "alert")
            self.assertFalse(MonitorTransition.objects.get().notified)
            self.assertEqual(Delivery.objects.count(), 0)
            evaluate(monitor, self.now + timedelta(minutes=11))
            self.deliver_all()
        (got,) = receiver.received
        self.assertEqual((got.body["kind"], got.body["state"]), ("reminder", "alert"))

    def test_a_bad_state_is_told_again_every_renotify_interval(self):
        monitor = self.monitor("http://127.0.0.1:9/", renotify_minutes=20)
        self.runs(8, 2, minutes_ago=0)
        for minutes in (0, 10, 19, 21, 35, 42, 55):
            evaluate(monitor, self.now + timedelta(minutes=minutes))
        kinds = [delivery.message["body"]["kind"] for delivery in Delivery.objects.order_by("id")]
        self.assertEqual(kinds, ["transition", "reminder", "reminder"])

    def test_each_breakdown_value_has_a_state_of_its_own(self):
        with Receiver() as receiver:
            monitor = self.monitor(receiver.url, metric={**ERROR_RATE, "breakdown": "agent"})
            good, bad = make_agent(self.workspace, name="good"), make_agent(self.workspace, name="bad")
            self.runs(0, 5, minutes_ago=5, agent=good)
            self.runs(5, 0, minutes_ago=5, agent=bad)
            outcome = evaluate(monitor, self.now)
            self.deliver_all()
        self.assertEqual(outcome.keys, {"good": ("ok", 0.0), "bad": ("alert", 100.0)})
        self.assertEqual(outcome.state, "alert")
        (got,) = receiver.received
        self.assertEqual(got.body["breakdown"], "bad")
        self.assertIn("agent_name=bad", got.body["links"]["runs"])

    def test_the_queries_of_an_evaluation_do_not_grow_with_breakdown_values(self):
        monitor = self.monitor("http://127.0.0.1:9/", metric={**ERROR_RATE, "breakdown": "workflow"})
        self.runs(3, 3, minutes_ago=5, workflow="a")
        evaluate(monitor, self.now)
        with self.assertNumQueries(7):
            evaluate(monitor, self.now + timedelta(minutes=1))
        for name in "bcdefgh":
            self.runs(3, 3, minutes_ago=5, workflow=name)
        evaluate(monitor, self.now + timedelta(minutes=2))
        with self.assertNumQueries(7):
            evaluate(monitor, self.now + timedelta(minutes=3))

    def test_the_worker_evaluates_the_monitors_whose_interval_has_passed(self):
        monitor = self.monitor("http://127.0.0.1:9/", interval_minutes=5)
        Monitor.objects.filter(workspace=self.workspace, preset__gt="").delete()
        self.assertEqual(evaluate_due(self.now), 1)
        self.assertEqual(evaluate_due(self.now + timedelta(minutes=2)), 0)
        self.assertEqual(evaluate_due(self.now + timedelta(minutes=5)), 1)
        Monitor.objects.filter(pk=monitor.pk).update(enabled=False)
        self.assertEqual(evaluate_due(self.now + timedelta(minutes=20)), 0)

    def test_a_cycle_waits_while_another_one_runs(self):
        self.monitor("http://127.0.0.1:9/")
        cache.add(CYCLE_LOCK, "1")
        self.assertEqual(evaluate_due(self.now), 0)
        cache.delete(CYCLE_LOCK)
        self.assertEqual(evaluate_due(self.now), 1)

    def test_a_test_fire_tells_every_channel(self):
        with Receiver() as receiver:
            monitor = self.monitor(receiver.url)
            self.assertEqual(fire_test(monitor, self.now), 1)
            self.deliver_all()
        self.assertEqual(receiver.received[0].body["kind"], "test")


class PresetTest(TestCase):
    def test_a_new_workspace_starts_with_the_alert_table_disabled_until_its_first_channel(self):
        workspace = make_workspace()
        monitors = Monitor.objects.filter(workspace=workspace)
        self.assertEqual(sorted(monitors.values_list("preset", flat=True)), sorted(presets.PRESETS))
        self.assertFalse(monitors.filter(enabled=True).exists())
        channel = Channel.objects.create(
            workspace=workspace, kind=ChannelKind.EMAIL, name="ops", address="o@x.io"
        )
        self.assertEqual(presets.adopt(channel), len(presets.PRESETS))
        self.assertEqual(monitors.filter(enabled=True, channels=channel).count(), len(presets.PRESETS))
        second = Channel.objects.create(
            workspace=workspace, kind=ChannelKind.EMAIL, name="b", address="b@x.io"
        )
        self.assertEqual(presets.adopt(second), 0)

    def test_every_preset_is_a_valid_card_metric(self):
        for fields in presets.PRESETS.values():
            cleaned, errors = check(fields["metric"])
            self.assertEqual(errors, {}, fields["name"])


class SpikeTest(MonitorTest):
    """A spike monitor: the window's metric over its mean in the windows just before it."""

    def spike(self, url, **fields):
        fields = {"metric": COST_PER_RUN, "compare_windows": 3, "warning": 1.5, "alert": 2, **fields}
        return self.monitor(url, **fields)

    def test_a_cost_per_run_twice_the_usual_is_an_alert_and_its_return_a_recovery(self):
        with Receiver() as receiver:
            monitor = self.spike(receiver.url)
            for minutes_ago, cost in ((90, "0.010"), (150, "0.012"), (210, "0.008"), (300, "9")):
                self.runs(0, 2, minutes_ago=minutes_ago, cost=Decimal(cost))  # the last is too old
            self.runs(0, 2, minutes_ago=10, cost=Decimal("0.025"))
            outcome = evaluate(monitor, self.now)
            self.assertEqual((outcome.state, round(outcome.value, 2)), ("alert", 2.5))
            self.runs(0, 8, minutes_ago=5, cost=Decimal("0.01"))  # (2 × 0.025 + 8 × 0.01) / 10 = 1.3×
            self.assertEqual(evaluate(monitor, self.now + timedelta(minutes=1)).state, "ok")
            self.deliver_all()
        alert, recovery = receiver.received
        self.assertEqual(
            (alert.body["state"], alert.body["value"], alert.body["threshold"]), ("alert", 2.5, 2)
        )
        text = Delivery.objects.order_by("id").first().message["text"]
        self.assertIn("Value: 2.5×", text)
        self.assertIn("against its mean over the 3 windows before", text)
        self.assertEqual(recovery.body["state"], "ok")

    def test_nothing_before_the_window_is_no_data_not_a_spike(self):
        monitor = self.spike("http://127.0.0.1:9/")
        self.runs(0, 3, minutes_ago=10, cost=Decimal("5"))
        self.assertEqual(evaluate(monitor, self.now).state, "no_data")

    def test_each_breakdown_value_is_compared_with_its_own_usual(self):
        monitor = self.spike("http://127.0.0.1:9/", metric={**COST_PER_RUN, "breakdown": "workflow"})
        self.runs(0, 2, minutes_ago=90, workflow="cheap", cost=Decimal("0.001"))
        self.runs(0, 2, minutes_ago=90, workflow="dear", cost=Decimal("1"))
        self.runs(0, 2, minutes_ago=10, workflow="cheap", cost=Decimal("0.003"))
        self.runs(0, 2, minutes_ago=10, workflow="dear", cost=Decimal("1.1"))
        outcome = evaluate(monitor, self.now)
        self.assertEqual(
            {key: (state, round(value, 2)) for key, (state, value) in outcome.keys.items()},
            {"cheap": ("alert", 3.0), "dear": ("ok", 1.1)},
        )

    def test_its_windows_are_one_query_whatever_the_rows(self):
        monitor = self.spike("http://127.0.0.1:9/", metric={**COST_PER_RUN, "breakdown": "workflow"})
        self.runs(0, 2, minutes_ago=90, workflow="a")
        self.runs(0, 2, minutes_ago=10, workflow="a")
        evaluate(monitor, self.now)
        with self.assertNumQueries(7):
            evaluate(monitor, self.now + timedelta(minutes=1))
        for name in "bcdefgh":
            self.runs(0, 2, minutes_ago=90, workflow=name)
            self.runs(0, 2, minutes_ago=10, workflow=name)
        evaluate(monitor, self.now + timedelta(minutes=2))
        with self.assertNumQueries(7):
            evaluate(monitor, self.now + timedelta(minutes=3))

    def test_a_mean_of_zero_or_no_value_gives_no_ratio(self):
        self.assertEqual(
            spikes({"a": 2.0, "b": 1.0, "c": None, "d": 4.0}, [{"a": 1.0, "b": 0.0}, {"a": None, "d": 2.0}]),
            {"a": 2.0, "b": None, "c": None, "d": 2.0},
        )
