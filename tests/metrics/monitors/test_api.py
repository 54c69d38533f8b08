from django.test import TestCase

from backoffice.models import AuditEntry
from metrics.models import Channel, Monitor, MonitorTransition
from tests.factories import make_api_key, make_run, make_workspace

ERROR_RATE = {
    "source": "runs",
    "aggregation": "rate",
    "condition": [{"property": "status", "operator": "eq", "value": "failed"}],
}

COST_PER_RUN = {"source": "runs", "aggregation": "avg", "property": "cost"}


def bearer(raw_key):
    return {"Authorization": f"Bearer {raw_key}"}


class MonitorApiTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace, label="ops", scopes=["admin"])
        _, cls.reader = make_api_key(cls.workspace, scopes=["read"])
        cls.other = make_workspace()
        cls.foreign_channel = Channel.objects.create(
            workspace=cls.other, kind="email", name="x", address="x@x.io"
        )
        cls.foreign_monitor = Monitor.objects.filter(workspace=cls.other).first()

    def call(self, method, path, body=None, key=None):
        return getattr(self.client, method)(
            f"/api/v1{path}", body, content_type="application/json", headers=bearer(key or self.key)
        )

    def channel(self):
        body = {"kind": "webhook", "name": "ops", "url": "https://hooks.example.com/x", "secret": "s"}
        response = self.call("post", "/channels", body)
        self.assertEqual(response.status_code, 201, response.content)
        return response.json()

    def test_channels_are_added_and_listed_and_the_first_one_starts_the_presets(self):
        channel = self.channel()
        self.assertEqual((channel["kind"], channel["signed"]), ("webhook", True))
        self.assertNotIn("secret", channel)
        self.assertEqual([c["name"] for c in self.call("get", "/channels").json()], ["ops"])
        presets = Monitor.objects.filter(workspace=self.workspace).exclude(preset="")
        self.assertTrue(all(monitor.enabled for monitor in presets))
        self.assertEqual(
            AuditEntry.objects.get(action="channel.created").changes["preset_monitors_started"], 7
        )

    def test_a_bad_channel_is_a_422_naming_the_field(self):
        response = self.call("post", "/channels", {"kind": "email", "name": "ops"})
        self.assertEqual((response.status_code, response.json()["field"]), (422, "address"))
        response = self.call("post", "/channels", {"kind": "pager", "name": "ops"})
        self.assertEqual((response.status_code, response.json()["field"]), (422, "kind"))

    def test_a_monitor_is_managed_as_code(self):
        channel = self.channel()
        body = {
            "name": "Errors",
            "metric": ERROR_RATE,
            "warning": 5,
            "alert": 20,
            "channels": [channel["id"]],
        }
        response = self.call("post", "/monitors", body)
        self.assertEqual(response.status_code, 201, response.content)
        created = response.json()
        self.assertEqual(
            (created["state"], created["channels"], created["window_minutes"]),
            ("no_data", [channel["id"]], 60),
        )
        path = f"/monitors/{created['id']}"
        changed = self.call("patch", path, {"alert": 30, "renotify_minutes": 60}).json()
        self.assertEqual((changed["alert"], changed["warning"], changed["renotify_minutes"]), (30, 5, 60))
        self.assertEqual(self.call("get", path).json()["alert"], 30)
        make_run(self.workspace, status="failed")
        evaluated = self.call("post", f"{path}/evaluate").json()
        self.assertEqual((evaluated["state"], evaluated["value"]), ("alert", 100.0))
        history = self.call("get", f"{path}/history").json()
        self.assertEqual(
            [(t["previous_state"], t["state"], t["notified"]) for t in history], [("ok", "alert", True)]
        )
        self.assertEqual(self.call("delete", path).status_code, 204)
        self.assertFalse(MonitorTransition.objects.exists())
        actions = list(
            AuditEntry.objects.filter(action__startswith="monitor.").values_list("action", flat=True)
        )
        self.assertEqual(sorted(actions), ["monitor.created", "monitor.deleted", "monitor.updated"])

    def test_a_bad_metric_or_threshold_is_a_422_naming_the_field(self):
        cases = [
            (
                {"metric": {"source": "runs", "aggregation": "p95", "property": "nope"}, "alert": 1},
                "metric",
                "property",
            ),
            ({"metric": {"source": "runs", "aggregation": "rate"}, "alert": 1}, "metric", "condition"),
            ({"metric": {"source": "runs", "colour": "red"}, "alert": 1}, "metric", "colour"),
            ({"metric": ERROR_RATE}, "alert", "threshold"),
            ({"metric": ERROR_RATE, "alert": 1, "window_minutes": 0}, "window_minutes", "From 1 minute to"),
            ({"metric": ERROR_RATE, "alert": 1, "interval_minutes": 10081}, "interval_minutes", "(a week)."),
            ({"metric": ERROR_RATE, "alert": 1, "compare_windows": 25}, "compare_windows", "24, or empty."),
            (
                {"metric": ERROR_RATE, "alert": 1, "renotify_minutes": 0},
                "renotify_minutes",
                "days), or empty.",
            ),
            ({"metric": ERROR_RATE, "alert": 1, "channels": [self.foreign_channel.pk]}, "channels", ""),
            ({"metric": ERROR_RATE, "alert": 1, "direction": "sideways"}, "direction", ""),
        ]
        for body, field, words in cases:
            response = self.call("post", "/monitors", {"name": "Bad", **body})
            self.assertEqual((response.status_code, response.json()["field"]), (422, field), body)
            self.assertIn(words, response.json()["detail"])

    def test_it_needs_the_admin_scope_and_never_shows_another_workspace(self):
        self.assertEqual(self.call("get", "/monitors", key=self.reader).status_code, 403)
        self.assertEqual(self.call("get", f"/monitors/{self.foreign_monitor.pk}").status_code, 404)
        self.assertEqual(self.call("post", f"/monitors/{self.foreign_monitor.pk}/evaluate").status_code, 404)
        names = [monitor["name"] for monitor in self.call("get", "/monitors").json()]
        self.assertEqual(len(names), 7)  # this workspace's presets only

    def test_the_list_takes_the_same_queries_whatever_the_monitors(self):
        self.call("get", "/monitors")  # the key's first use of the minute writes more
        with self.assertNumQueries(5):
            self.call("get", "/monitors")
        for n in range(10):
            Monitor.objects.create(workspace=self.workspace, name=f"m{n}", metric=ERROR_RATE, alert=1)
        with self.assertNumQueries(5):
            self.call("get", "/monitors")

    def test_the_routes_are_in_the_openapi_schema(self):
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        for path in [
            "/api/v1/channels",
            "/api/v1/monitors",
            "/api/v1/monitors/{monitor_id}",
            "/api/v1/monitors/{monitor_id}/evaluate",
            "/api/v1/monitors/{monitor_id}/history",
        ]:
            self.assertIn(path, paths)
        self.assertIn("422", paths["/api/v1/monitors"]["post"]["responses"])

    def test_numbers_out_of_range_are_a_422_naming_the_field(self):
        for name in ("window_minutes", "compare_windows", "interval_minutes", "renotify_minutes"):
            for value in (2**40, 0):
                body = {"name": "Big", "metric": ERROR_RATE, "alert": 1, name: value}
                response = self.call("post", "/monitors", body)
                self.assertEqual((response.status_code, response.json()["field"]), (422, name), value)
        self.assertEqual(self.call("get", f"/monitors/{2**62}").status_code, 404)
        monitor = self.call("post", "/monitors", {"name": "m", "metric": ERROR_RATE, "alert": 1}).json()
        history = self.call("get", f"/monitors/{monitor['id']}/history?before={2**62}")
        self.assertEqual(history.status_code, 404)

    def test_a_spike_monitor_is_made_and_turned_back_into_a_threshold_one(self):
        body = {"name": "Spike", "metric": COST_PER_RUN, "compare_windows": 24, "alert": 2}
        made = self.call("post", "/monitors", body)
        self.assertEqual(made.status_code, 201, made.content)
        self.assertEqual(made.json()["compare_windows"], 24)
        path = f"/monitors/{made.json()['id']}"
        changed = self.call("patch", path, {"compare_windows": None, "alert": 0.05})
        self.assertEqual(changed.status_code, 200, changed.content)
        self.assertEqual((changed.json()["compare_windows"], changed.json()["alert"]), (None, 0.05))
        entry = AuditEntry.objects.filter(action="monitor.updated").latest("id")
        self.assertEqual(entry.changes["compare_windows"], [24, None])
