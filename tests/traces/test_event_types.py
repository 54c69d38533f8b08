"""A workspace's own event types: defined in Settings or through the API, validated at ingest."""

from io import StringIO

from django.core.management import call_command
from django.test import TestCase

from backoffice.models import AuditEntry
from tests.events import event, post_batch
from tests.factories import make_api_key, make_cast, make_workspace
from traces.models import Event, EventType, Run

REFUND = {
    "type": "object",
    "required": ["order_id", "amount"],
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "minimum": 0}},
}


def bearer(raw_key):
    return {"Authorization": f"Bearer {raw_key}"}


class EventTypeApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.api_key, cls.admin_key = make_api_key(cls.workspace, label="ops", scopes=["admin"])
        _, cls.ingest_key = make_api_key(cls.workspace, scopes=["ingest", "read"])
        other = make_workspace()
        EventType.objects.create(workspace=other, name="theirs", schema={"type": "object"})

    def post(self, body, key=None):
        return self.client.post(
            "/api/v1/event-types",
            body,
            content_type="application/json",
            headers=bearer(key or self.admin_key),
        )

    def test_an_admin_key_defines_lists_and_deletes_a_type_and_each_change_is_audited(self):
        created = self.post({"name": "refund", "description": "A refund granted", "schema": REFUND})
        self.assertEqual(created.status_code, 201, created.content)
        self.assertEqual(created.json()["type"], "custom.refund")
        self.assertEqual(created.json()["schema"], REFUND)
        one = self.client.get("/api/v1/event-types/refund", headers=bearer(self.admin_key))
        self.assertEqual(one.json()["description"], "A refund granted")
        listed = self.client.get("/api/v1/event-types", headers=bearer(self.admin_key)).json()
        self.assertEqual([item["name"] for item in listed], ["refund"])
        self.assertEqual(listed[0]["created_by"], f"key ops ({self.api_key.prefix}…)")
        gone = self.client.delete("/api/v1/event-types/refund", headers=bearer(self.admin_key))
        self.assertEqual(gone.status_code, 204)
        self.assertFalse(EventType.objects.filter(workspace=self.workspace).exists())
        actions = (
            AuditEntry.objects.filter(workspace=self.workspace)
            .order_by("id")
            .values_list("action", flat=True)
        )
        self.assertEqual(list(actions), ["event_type.created", "event_type.deleted"])

    def test_a_bad_name_or_schema_is_a_422_naming_the_field(self):
        cases = [
            ("Refund!", REFUND, "name"),
            ("x" * 26, REFUND, "name"),
            ("refund", {"type": "nope"}, "schema"),
            ("refund", {"required": "amount"}, "schema"),
            ("refund", {"$schema": 5}, "schema"),
            ("refund", {"$ref": "#/$defs/missing"}, "schema"),
            ("refund", {"$ref": "https://example.com/refund.json"}, "schema"),
        ]
        for name, schema, field in cases:
            with self.subTest(name=name, schema=schema):
                response = self.post({"name": name, "schema": schema})
                self.assertEqual(response.status_code, 422)
                self.assertEqual(response.json()["field"], field)
        self.assertFalse(EventType.objects.filter(workspace=self.workspace).exists())

    def test_a_second_definition_of_a_name_is_a_409(self):
        self.post({"name": "refund", "schema": REFUND})
        response = self.post({"name": "refund", "schema": {"type": "object"}})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["field"], "name")

    def test_it_needs_the_admin_scope_and_never_shows_another_workspace(self):
        self.assertEqual(
            self.post({"name": "refund", "schema": REFUND}, key=self.ingest_key).status_code, 403
        )
        self.assertEqual(self.client.get("/api/v1/event-types", headers=bearer(self.admin_key)).json(), [])
        for method in ("get", "delete"):
            missing = getattr(self.client, method)(
                "/api/v1/event-types/theirs", headers=bearer(self.admin_key)
            )
            self.assertEqual(missing.status_code, 404)

    def test_the_routes_are_in_the_openapi_schema(self):
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        self.assertEqual(set(paths["/api/v1/event-types"]), {"get", "post"})
        self.assertEqual(set(paths["/api/v1/event-types/{name}"]), {"get", "delete"})


class CustomEventIngestTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        _, cls.raw_key = make_api_key(cls.workspace)
        EventType.objects.create(workspace=cls.workspace, name="refund", schema=REFUND)

    def send(self, events):
        response = post_batch(self.client, self.raw_key, events)
        # 200 when every event is accepted, 207 when some are rejected, 400 when all are.
        self.assertIn(response.status_code, (200, 207, 400), response.content)
        return response.json()["results"]

    def test_valid_events_are_stored_in_the_runs_log_and_bad_ones_rejected_naming_field_and_rule(self):
        results = self.send(
            [
                event(
                    "custom.refund", {"run_id": "r-1", "step_id": "pay", "order_id": "o-9", "amount": 12.5}
                ),
                event("custom.refund", {"run_id": "r-1", "order_id": "o-9"}),
                event("custom.refund", {"run_id": "r-1", "order_id": "o-9", "amount": "lots"}),
                event("custom.unheard", {"run_id": "r-1"}),
                event("run.start", {"run_id": "r-1", "agent_id": "bot"}, at=-1),
            ]
        )
        self.assertEqual(
            [r["status"] for r in results], ["accepted", "rejected", "rejected", "rejected", "accepted"]
        )
        missing, wrong, unknown = results[1:4]
        self.assertEqual(missing["field"], "body")
        self.assertIn("'amount' is a required property", missing["reason"])
        self.assertIn("schema rule: required", missing["reason"])
        self.assertEqual(wrong["field"], "body.amount")
        self.assertIn("schema rule: properties/amount/type", wrong["reason"])
        self.assertEqual(unknown["field"], "type")
        self.assertIn("unknown event type 'custom.unheard'", unknown["reason"])
        self.assertIn("Settings › Event types or with POST /api/v1/event-types", unknown["reason"])
        stored = Event.objects.get(type="custom.refund")
        self.assertEqual(stored.run, Run.objects.get(run_id="r-1"))
        self.assertEqual((stored.step_id, stored.payload["amount"]), ("pay", 12.5))

    def test_a_custom_event_before_its_run_starts_creates_the_run_like_any_event(self):
        self.send([event("custom.refund", {"run_id": "r-2", "order_id": "o-1", "amount": 1})])
        self.send([event("run.start", {"run_id": "r-2", "agent_id": "bot"}, at=-5)])
        run = Run.objects.get(run_id="r-2")
        self.assertEqual(
            list(run.events.values_list("type", flat=True).order_by("timestamp")),
            ["run.start", "custom.refund"],
        )

    def test_a_type_that_is_no_string_is_rejected_like_before(self):
        results = self.send(
            [event("custom.refund", {"order_id": "o", "amount": 1}), {**event("log", {}), "type": ["x"]}]
        )
        self.assertEqual([r["status"] for r in results], ["accepted", "rejected"])
        self.assertEqual(results[1]["field"], "type")

    def test_a_type_of_another_workspace_is_unknown_here(self):
        other = make_workspace()
        EventType.objects.create(workspace=other, name="theirs", schema={"type": "object"})
        result = self.send([event("custom.theirs", {})])[0]
        self.assertEqual((result["status"], result["field"]), ("rejected", "type"))

    def test_the_events_tab_and_logs_show_custom_events(self):
        self.send(
            [
                event("run.start", {"run_id": "r-3", "agent_id": "bot"}),
                event("step.start", {"run_id": "r-3", "step_id": "s-1", "name": "refund order"}, at=1),
                event(
                    "custom.refund", {"run_id": "r-3", "step_id": "s-1", "order_id": "o-7", "amount": 3}, at=2
                ),
            ]
        )
        self.client.force_login(self.cast["viewer"])
        url = f"/w/{self.workspace.slug}/runs/r-3/events/"
        self.assertContains(self.client.get(url, {"kind": "custom."}), "custom.refund")
        self.assertNotContains(self.client.get(url, {"kind": "custom."}), "step.start")
        out = StringIO()
        call_command("logs", "--run", "r-3", stdout=out)
        line = out.getvalue().splitlines()[-1]
        self.assertIn("custom.refund", line)
        # The step by its name, then the body (its keys in the order the database keeps them).
        self.assertIn("refund order {", line)
        self.assertIn('"order_id": "o-7"', line)


class EventTypeSettingsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.url = f"/w/{cls.workspace.slug}/settings/event-types/"

    def test_an_admin_defines_a_type_and_deletes_it(self):
        self.client.force_login(self.cast["admin"])
        self.assertContains(self.client.get(self.url), "No event types yet")
        response = self.client.post(
            self.url + "new/", {"name": "refund", "description": "A refund", "schema": '{"type": "object"}'}
        )
        self.assertRedirects(response, self.url)
        event_type = EventType.objects.get(workspace=self.workspace)
        self.assertEqual(
            (event_type.type, event_type.created_by), ("custom.refund", self.cast["admin"].username)
        )
        self.assertContains(self.client.get(self.url), "custom.refund")
        self.client.post(f"{self.url}{event_type.pk}/delete/")
        self.assertFalse(EventType.objects.exists())
        self.assertEqual(AuditEntry.objects.filter(workspace=self.workspace).count(), 2)

    def test_a_bad_schema_or_name_is_shown_on_the_form(self):
        self.client.force_login(self.cast["admin"])
        EventType.objects.create(workspace=self.workspace, name="refund", schema={})
        cases = {
            ("refund", "{}"): "custom.refund is defined already",
            ("Bad Name", "{}"): "The name must be a lowercase letter",
            ("ok", '{"type": 12}'): "The schema is not a valid JSON Schema",
            ("ok", "[1, 2]"): "must be a JSON object",
            ("ok", "{oops"): "Enter a valid JSON",
        }
        for (name, schema), error in cases.items():
            with self.subTest(name=name):
                response = self.client.post(self.url + "new/", {"name": name, "schema": schema})
                self.assertContains(response, error)
        self.assertEqual(EventType.objects.count(), 1)

    def test_only_admins_of_the_workspace_manage_types(self):
        mine = EventType.objects.create(workspace=self.workspace, name="refund", schema={})
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.get(self.url).status_code, 403)
        self.assertEqual(self.client.post(f"{self.url}{mine.pk}/delete/").status_code, 403)
        self.client.force_login(self.cast["outsider"])
        other_url = f"/w/{self.cast['other_workspace'].slug}/settings/event-types/{mine.pk}/delete/"
        self.assertEqual(self.client.post(other_url).status_code, 404)
        self.assertTrue(EventType.objects.filter(pk=mine.pk).exists())
