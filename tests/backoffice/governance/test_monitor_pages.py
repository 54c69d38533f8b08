from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from backoffice.models import AuditEntry
from metrics.models import Channel, Dashboard, DashboardCard, Delivery, Monitor, MonitorTransition
from metrics.monitors.evaluation import evaluate
from tests.factories import make_cast, make_run, make_workspace

MONITORS = "/w/acme/settings/monitors/"
CHANNELS = "/w/acme/settings/channels/"
METRIC = (
    '{"source": "runs", "aggregation": "rate", '
    '"condition": [{"property": "status", "operator": "eq", "value": "failed"}]}'
)


class MonitorPagesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.foreign = Monitor.objects.filter(workspace=cls.cast["other_workspace"]).first()
        cls.channel = Channel.objects.create(
            workspace=cls.workspace, kind="webhook", name="ops", url="http://127.0.0.1:9/"
        )

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def monitor(self, **fields):
        monitor = Monitor.objects.create(
            workspace=self.workspace,
            name=fields.pop("name", "Errors"),
            metric={"source": "runs", "aggregation": "count"},
            alert=0,
            **fields,
        )
        monitor.channels.add(self.channel)
        return monitor

    def test_an_admin_adds_a_monitor_and_it_is_audited(self):
        data = {
            "name": "Failures",
            "metric": METRIC,
            "window_minutes": 30,
            "interval_minutes": 5,
            "alert": "10",
            "direction": "above",
            "no_data": "ok",
            "channels": [self.channel.pk],
            "enabled": "on",
        }
        response = self.client.post(f"{MONITORS}create/", data)
        monitor = Monitor.objects.get(name="Failures")
        self.assertRedirects(response, f"{MONITORS}{monitor.pk}/")
        self.assertEqual(
            (monitor.window_minutes, monitor.alert, monitor.metric["aggregation"]), (30, 10, "rate")
        )
        self.assertEqual(AuditEntry.objects.get(action="monitor.created").target, "Failures")
        page = self.client.get(MONITORS)
        self.assertContains(page, "Failures")
        self.assertContains(page, "Run error rate")  # a preset
        self.assertNotContains(page, f"/monitors/{self.foreign.pk}/")

    def test_a_bad_metric_is_shown_again_naming_the_field(self):
        data = {
            "name": "Bad",
            "metric": '{"source": "runs", "aggregation": "p95", "property": "nope"}',
            "window_minutes": 30,
            "interval_minutes": 5,
            "alert": "1",
            "direction": "above",
            "no_data": "ok",
        }
        response = self.client.post(f"{MONITORS}create/", data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "property: Runs have no property")

    def test_the_monitor_page_shows_states_history_and_edits_mutes_tests_and_deletes(self):
        monitor = self.monitor(warning=None)
        make_run(self.workspace, status="failed")
        now = timezone.now()
        evaluate(monitor, now)
        evaluate(monitor, now + timedelta(minutes=90))  # back to 0 runs: ok
        url = f"{MONITORS}{monitor.pk}/"
        page = self.client.get(url)
        self.assertContains(page, "data-state>OK<", html=False)
        self.assertEqual(page.content.decode().count("badge state-alert"), 2)  # its two transitions
        self.client.post(f"{url}mute/", {"minutes": "60"})
        monitor.refresh_from_db()
        self.assertGreater(monitor.muted_until, timezone.now())
        self.client.post(f"{url}mute/", {"minutes": "0"})
        monitor.refresh_from_db()
        self.assertIsNone(monitor.muted_until)
        self.client.post(f"{url}test/")
        self.assertEqual(Delivery.objects.filter(channel=self.channel).count(), 3)  # alert, ok, test
        self.client.post(f"{url}evaluate/")
        response = self.client.post(
            f"{url}edit/",
            {
                "name": "Renamed",
                "metric": METRIC,
                "window_minutes": 60,
                "interval_minutes": 5,
                "alert": "5",
                "direction": "above",
                "no_data": "ok",
                "enabled": "on",
            },
        )
        self.assertRedirects(response, url)
        self.client.post(f"{url}delete/")
        self.assertFalse(Monitor.objects.filter(pk=monitor.pk).exists())
        actions = set(AuditEntry.objects.values_list("action", flat=True))
        self.assertTrue(
            {"monitor.muted", "monitor.unmuted", "monitor.tested", "monitor.updated", "monitor.deleted"}
            <= actions
        )

    def test_pages_take_the_same_queries_whatever_the_rows(self):
        monitor = self.monitor()
        now = timezone.now()
        make_run(self.workspace, status="failed")
        evaluate(monitor, now)
        with self.assertNumQueries(4):
            self.client.get(MONITORS)
        with self.assertNumQueries(9):
            self.client.get(f"{MONITORS}{monitor.pk}/")
        with self.assertNumQueries(5):
            self.client.get(f"{CHANNELS}{self.channel.pk}/")
        for n in range(10):
            self.monitor(name=f"m{n}")
            MonitorTransition.objects.create(
                monitor=monitor, previous_state="ok", state="alert", at=now + timedelta(minutes=n)
            )
            Delivery.objects.create(
                workspace=self.workspace, channel=self.channel, key=f"k{n}", message={"subject": "s"}
            )
        with self.assertNumQueries(4):
            self.client.get(MONITORS)
        with self.assertNumQueries(9):
            self.client.get(f"{MONITORS}{monitor.pk}/")
        with self.assertNumQueries(5):
            self.client.get(f"{CHANNELS}{self.channel.pk}/")

    def test_a_card_becomes_a_monitor_in_one_click_and_shows_its_state(self):
        dashboard = Dashboard.objects.create(workspace=self.workspace, slug="ops", name="Ops")
        card = DashboardCard.objects.create(
            dashboard=dashboard,
            title="Failures",
            kind="rate",
            source="runs",
            aggregation="rate",
            condition=[{"property": "status", "operator": "eq", "value": "failed"}],
            warning_threshold=5,
            alert_threshold=10,
            time_range="1h",
        )
        response = self.client.post(f"{MONITORS}from-card/{card.pk}/")
        monitor = Monitor.objects.get(card=card)
        self.assertRedirects(response, f"{MONITORS}{monitor.pk}/")
        self.assertEqual(
            (monitor.window_minutes, monitor.warning, monitor.alert, monitor.enabled), (60, 5, 10, True)
        )
        self.assertEqual(list(monitor.channels.all()), [self.channel])
        self.client.post(f"{MONITORS}from-card/{card.pk}/")  # a second click opens the same one
        self.assertEqual(Monitor.objects.filter(card=card).count(), 1)
        make_run(self.workspace, status="failed")
        evaluate(monitor)
        fragment = self.client.get(f"/w/acme/metrics/ops/cards/{card.pk}/", headers={"HX-Request": "true"})
        self.assertContains(fragment, 'data-monitor-state="alert"')

    def test_only_admins_of_the_workspace_see_monitors_and_channels(self):
        monitor = self.monitor()
        for role in ("viewer", "reviewer"):
            self.client.force_login(self.cast[role])
            self.assertEqual(self.client.get(MONITORS).status_code, 403)
            self.assertEqual(self.client.get(CHANNELS).status_code, 403)
            self.assertEqual(self.client.post(f"{MONITORS}{monitor.pk}/test/").status_code, 403)
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(MONITORS).status_code, 404)
        self.client.force_login(self.cast["admin"])
        self.assertEqual(self.client.get(f"{MONITORS}{self.foreign.pk}/").status_code, 404)
        self.assertEqual(self.client.post(f"{MONITORS}{self.foreign.pk}/delete/").status_code, 404)


class ChannelPagesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def test_an_admin_adds_a_channel_which_starts_the_presets_and_deletes_it(self):
        response = self.client.post(
            CHANNELS, {"kind": "email", "name": "On call", "address": "oncall@example.com"}
        )
        channel = Channel.objects.get(workspace=self.workspace)
        self.assertRedirects(response, f"{CHANNELS}{channel.pk}/")
        self.assertEqual(
            Monitor.objects.filter(workspace=self.workspace, enabled=True, channels=channel).count(), 7
        )
        self.assertContains(self.client.get(CHANNELS), "oncall@example.com")
        self.client.post(f"{CHANNELS}{channel.pk}/delete/")
        self.assertFalse(
            Channel.objects.exists() and Channel.objects.filter(workspace=self.workspace).exists()
        )
        actions = list(AuditEntry.objects.values_list("action", flat=True).order_by("id"))
        self.assertEqual(actions, ["channel.created", "channel.deleted"])

    def test_a_webhook_without_url_is_refused_naming_the_field(self):
        response = self.client.post(CHANNELS, {"kind": "webhook", "name": "Hook"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("url", response.context["form"].errors)
