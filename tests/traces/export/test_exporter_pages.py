from django.test import TestCase

from backoffice.models import AuditEntry
from tests.factories import make_cast, make_event, make_exporter, make_run, make_workspace
from traces.models import Exporter, ExportItem

SECRET = "Bearer sk-live-0123456789abcdef"


def url(workspace, path=""):
    return f"/w/{workspace.slug}/settings/exporters/{path}"


class ExporterPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def add(self, **fields):
        data = {"name": "collector", "endpoint": "https://otel.example.com/v1/traces", "enabled": "on"}
        return self.client.post(url(self.workspace), {**data, **fields})

    def test_an_admin_adds_an_exporter_that_starts_after_the_events_stored_so_far(self):
        event = make_event(make_run(self.workspace))
        response = self.add(header_lines=f"Authorization: {SECRET}\nX-Scope-OrgID: acme")
        self.assertRedirects(response, url(self.workspace))
        exporter = Exporter.objects.get(workspace=self.workspace)
        self.assertEqual(exporter.headers, {"Authorization": SECRET, "X-Scope-OrgID": "acme"})
        self.assertEqual(exporter.cursor, event.pk)
        entry = AuditEntry.objects.get()
        self.assertEqual((entry.action, entry.target), ("exporter.created", "collector"))
        self.assertEqual(entry.changes["headers"], [None, ["Authorization", "X-Scope-OrgID"]])
        self.assertNotIn("sk-live", str(entry.changes))

    def test_the_list_shows_backlog_and_errors_but_never_a_whole_secret(self):
        exporter = make_exporter(
            self.workspace, headers={"Authorization": SECRET}, last_error="503 Service Unavailable"
        )
        ExportItem.objects.create(exporter=exporter, run=make_run(self.workspace))
        response = self.client.get(url(self.workspace))
        self.assertContains(response, "<html")
        self.assertNotContains(response, "sk-live")
        self.assertContains(response, "Authorization: ••••cdef")
        self.assertContains(response, "503 Service Unavailable")
        self.assertEqual(response.context["exporters"][0].backlog, 1)

    def test_the_list_takes_the_same_queries_whatever_the_exporters(self):
        make_exporter(self.workspace)
        with self.assertNumQueries(4):
            self.client.get(url(self.workspace))
        for _ in range(5):
            exporter = make_exporter(self.workspace, headers={"A": "b"})
            ExportItem.objects.create(exporter=exporter, run=make_run(self.workspace))
        with self.assertNumQueries(4):
            response = self.client.get(url(self.workspace))
        with self.assertNumQueries(0):
            self.assertEqual(len(response.context["exporters"]), 6)

    def test_an_edit_keeps_the_headers_unless_new_ones_are_given(self):
        exporter = make_exporter(self.workspace, name="collector", headers={"Authorization": SECRET})
        edit = url(self.workspace, f"{exporter.pk}/")
        response = self.client.get(edit)
        self.assertContains(response, "Authorization: ••••cdef")
        self.assertNotContains(response, "sk-live")
        data = {"name": "collector", "endpoint": "https://other.example.com/v1/traces", "header_lines": ""}
        self.assertRedirects(self.client.post(edit, data), url(self.workspace))
        exporter.refresh_from_db()
        self.assertEqual(
            (exporter.endpoint, exporter.enabled), ("https://other.example.com/v1/traces", False)
        )
        self.assertEqual(exporter.headers, {"Authorization": SECRET})
        self.client.post(edit, {**data, "header_lines": "Authorization: Bearer new-key-123456"})
        exporter.refresh_from_db()
        self.assertEqual(exporter.headers, {"Authorization": "Bearer new-key-123456"})
        self.client.post(edit, {**data, "clear_headers": "on"})
        exporter.refresh_from_db()
        self.assertEqual(exporter.headers, {})
        actions = list(AuditEntry.objects.order_by("id").values_list("action", "changes"))
        self.assertEqual(actions[0][1]["endpoint"][1], "https://other.example.com/v1/traces")
        self.assertEqual(actions[1], ("exporter.changed", {"headers": "values changed"}))
        self.assertEqual(actions[2], ("exporter.changed", {"headers": [["Authorization"], []]}))

    def test_bad_input_names_the_field(self):
        response = self.add(header_lines="no colon here")
        self.assertEqual(response.status_code, 200)
        self.assertIn("header_lines", response.context["form"].errors)
        self.assertContains(response, "Line 1: write a header as")
        response = self.add(header_lines="Content-Type: text/plain")
        self.assertContains(response, "is set by the exporter itself")
        response = self.add(endpoint="not a url")
        self.assertIn("endpoint", response.context["form"].errors)
        make_exporter(self.workspace, name="collector")
        response = self.add()
        self.assertContains(response, "Another exporter has this name.")
        self.assertEqual(Exporter.objects.count(), 1)

    def test_an_admin_deletes_an_exporter_and_its_backlog(self):
        exporter = make_exporter(self.workspace, name="collector")
        ExportItem.objects.create(exporter=exporter, run=make_run(self.workspace))
        response = self.client.post(url(self.workspace, f"{exporter.pk}/delete/"))
        self.assertRedirects(response, url(self.workspace))
        self.assertFalse(Exporter.objects.exists())
        self.assertFalse(ExportItem.objects.exists())
        self.assertEqual(AuditEntry.objects.get().action, "exporter.deleted")

    def test_only_admins_of_the_workspace_may_open_it(self):
        for role in ("viewer", "reviewer"):
            self.client.force_login(self.cast[role])
            self.assertEqual(self.client.get(url(self.workspace)).status_code, 403)
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(url(self.workspace)).status_code, 404)

    def test_another_workspaces_exporter_is_not_found(self):
        theirs = make_exporter(self.cast["other_workspace"])
        self.assertEqual(self.client.get(url(self.workspace, f"{theirs.pk}/")).status_code, 404)
        self.assertEqual(self.client.post(url(self.workspace, f"{theirs.pk}/delete/")).status_code, 404)
        self.assertTrue(Exporter.objects.filter(pk=theirs.pk).exists())
