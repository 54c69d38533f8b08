import json
from io import StringIO

from django.core.management import CommandError, call_command
from django.test import TestCase

from backoffice.models import ApiKey, AuditEntry, Workspace, hash_key
from tests.events import event, post_batch
from tests.factories import make_api_key, make_cast, make_review, make_run, make_workspace
from tests.otel import genai_turn, json_body, recording_tracer


def bearer(raw_key):
    return {"Authorization": f"Bearer {raw_key}"}


class ScopeEnforcementTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.reviewed_run = make_run(cls.workspace, run_id="run-1")
        cls.keys = {
            name: make_api_key(cls.workspace, label=name, scopes=scopes)[1]
            for name, scopes in {
                "ingest": ["ingest"],
                "read": ["read"],
                "admin": ["admin"],
                "default": ["ingest", "read"],
            }.items()
        }

    def assert_missing_scope(self, response, scope):
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["scope"], scope)
        self.assertIn(repr(scope), response.json()["detail"])

    def review_body(self):
        return json.dumps({"run_id": "run-1", "rating": "bad", "comment": "It agreed to everything."})

    def test_ingest_needs_the_ingest_scope(self):
        batch = [event("track", {"name": "signup"})]
        self.assertEqual(post_batch(self.client, self.keys["ingest"], batch).status_code, 200)
        self.assert_missing_scope(post_batch(self.client, self.keys["read"], batch), "ingest")
        self.assert_missing_scope(post_batch(self.client, self.keys["admin"], batch), "ingest")

    def test_otlp_needs_the_ingest_scope(self):
        tracer, exporter = recording_tracer()
        genai_turn(tracer)
        body = json_body(exporter.get_finished_spans())
        for name, code in (("ingest", 200), ("read", 403)):
            response = self.client.post(
                "/v1/traces", body, content_type="application/json", headers=bearer(self.keys[name])
            )
            self.assertEqual(response.status_code, code, name)
        self.assertIn("'ingest' scope", response.json()["message"])

    def test_reads_need_the_read_scope(self):
        for path in (
            "/api/v1/runs/run-1",
            "/api/v1/reviews",
            "/api/v1/reviews/export",
            "/api/v1/reviews/stats",
        ):
            self.assertEqual(self.client.get(path, headers=bearer(self.keys["read"])).status_code, 200, path)
            self.assert_missing_scope(self.client.get(path, headers=bearer(self.keys["ingest"])), "read")
            self.assert_missing_scope(self.client.get(path, headers=bearer(self.keys["admin"])), "read")

    def test_filing_and_editing_a_review_need_the_read_scope(self):
        response = self.client.post(
            "/api/v1/reviews",
            self.review_body(),
            content_type="application/json",
            headers=bearer(self.keys["ingest"]),
        )
        self.assert_missing_scope(response, "read")
        response = self.client.post(
            "/api/v1/reviews",
            self.review_body(),
            content_type="application/json",
            headers=bearer(self.keys["read"]),
        )
        self.assertEqual(response.status_code, 201)
        path = f"/api/v1/reviews/{response.json()['id']}"
        patch = json.dumps({"priority": "high"})
        response = self.client.patch(
            path, patch, content_type="application/json", headers=bearer(self.keys["ingest"])
        )
        self.assert_missing_scope(response, "read")
        response = self.client.patch(
            path, patch, content_type="application/json", headers=bearer(self.keys["read"])
        )
        self.assertEqual(response.status_code, 200)

    def test_deleting_a_review_needs_the_admin_scope(self):
        review = make_review(self.reviewed_run)
        path = f"/api/v1/reviews/{review.pk}"
        self.assert_missing_scope(self.client.delete(path, headers=bearer(self.keys["default"])), "admin")
        self.assertEqual(self.client.delete(path, headers=bearer(self.keys["admin"])).status_code, 204)

    def test_a_bad_key_is_still_401_not_403(self):
        self.assertEqual(self.client.get("/api/v1/reviews", headers=bearer("bo_nope")).status_code, 401)

    def test_the_openapi_schema_names_the_scope_of_each_operation(self):
        schema = self.client.get("/api/v1/openapi.json").json()
        schemes = schema["components"]["securitySchemes"]
        self.assertEqual(set(schemes), {"ApiKeyAuth", "IngestKeyAuth", "AdminKeyAuth"})
        self.assertIn("`ingest` scope", schemes["IngestKeyAuth"]["description"])
        paths = schema["paths"]
        self.assertEqual(paths["/api/v1/ingest"]["post"]["security"], [{"IngestKeyAuth": []}])
        self.assertEqual(paths["/api/v1/runs/{run_id}"]["get"]["security"], [{"ApiKeyAuth": []}])
        self.assertEqual(paths["/api/v1/reviews/{review_id}"]["delete"]["security"], [{"AdminKeyAuth": []}])


class KeyScopesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def test_the_command_gives_ingest_and_read_by_default(self):
        out = StringIO()
        call_command("create_api_key", "--workspace", "team", "--label", "bot", stdout=out)
        raw = out.getvalue().strip().splitlines()[-1]
        self.assertEqual(ApiKey.objects.get(key_hash=hash_key(raw)).scopes, "ingest,read")
        self.assertIn("with scopes ingest,read", out.getvalue())

    def test_the_command_takes_scopes_and_refuses_unknown_ones(self):
        out = StringIO()
        call_command(
            "create_api_key", "--workspace", "team", "--label", "ops", "--scope", "admin,ingest", stdout=out
        )
        self.assertEqual(ApiKey.objects.get(label="ops").scopes, "ingest,admin")
        call_command(
            "create_api_key", "--workspace", "team", "--label", "etl", "--scope", "ingest", stdout=out
        )
        self.assertEqual(ApiKey.objects.get(label="etl").scopes, "ingest")
        with self.assertRaisesMessage(CommandError, "--scope: unknown scope 'write'"):
            call_command("create_api_key", "--workspace", "team", "--label", "x", "--scope", "read,write")
        self.assertEqual(ApiKey.objects.filter(label="x").count(), 0)

    def test_a_key_saved_without_scopes_has_ingest_and_read(self):
        # What the migration gives the keys that existed before scopes.
        key = ApiKey.objects.create(workspace=self.workspace, label="old", prefix="bo_x", key_hash="h" * 64)
        self.assertEqual(key.scope_list, ["ingest", "read"])

    def test_the_settings_page_shows_and_chooses_scopes(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(
            f"/w/{self.workspace.slug}/settings/keys/new/", {"label": "ops", "scopes": ["read", "admin"]}
        )
        self.assertEqual(response.status_code, 201)
        self.assertEqual(ApiKey.objects.get(label="ops").scopes, "read,admin")
        self.assertEqual(AuditEntry.objects.get().changes["scopes"], [None, "read,admin"])
        page = self.client.get(f"/w/{self.workspace.slug}/settings/keys/")
        self.assertContains(page, '<span class="badge">admin</span>', html=True)
        self.assertContains(page, 'name="scopes" value="ingest"')

    def test_a_key_without_any_scope_is_refused_naming_the_field(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(f"/w/{self.workspace.slug}/settings/keys/new/", {"label": "none"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("scopes", response.context["form"].errors)
        self.assertFalse(ApiKey.objects.exists())
        self.assertFalse(Workspace.objects.filter(slug="team").exists())
