"""The audit log records every configuration change and export, and nobody changes or deletes an entry."""

import json
from datetime import timedelta
from io import StringIO
from unittest import skipUnless
from unittest.mock import patch

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import TestCase
from django.utils import timezone

from backoffice import audit
from backoffice.models import AuditEntry
from metrics.models import Dashboard, DashboardCard
from tests.events import event, post_batch
from tests.factories import make_agent, make_api_key, make_cast, make_member, make_workspace
from tests.metrics.test_card_edit import form_data


def actions(workspace):
    return list(
        AuditEntry.objects.filter(workspace=workspace).order_by("id").values_list("action", flat=True)
    )


def add_entries(workspace, count, *, days_ago=0, actor_name="ada"):
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(
            workspace=workspace,
            actor_name=actor_name,
            action="key.created",
            target=f"key {i}",
            changes={"label": [None, f"key {i}"]},
            created_at=now - timedelta(days=days_ago, minutes=i),
        )
        for i in range(count)
    )


class DashboardChangesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.base = f"/w/{cls.workspace.slug}/metrics"

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def test_dashboards_are_recorded_when_created_renamed_exported_and_deleted(self):
        self.client.post(f"{self.base}/new/", {"name": "Ops"})
        self.client.post(f"{self.base}/ops/settings/", {"name": "Operations"})
        self.client.get(f"{self.base}/ops/export/")
        self.client.post(f"{self.base}/ops/delete/")
        self.assertEqual(
            actions(self.workspace),
            ["dashboard.created", "dashboard.edited", "dashboard.exported", "dashboard.deleted"],
        )
        edited = AuditEntry.objects.get(action="dashboard.edited")
        self.assertEqual(edited.changes, {"name": ["Ops", "Operations"]})
        self.assertEqual(edited.actor, self.cast["admin"])

    def test_cards_are_recorded_with_the_fields_that_changed(self):
        dashboard = Dashboard.objects.create(
            workspace=self.workspace, slug="ops", name="Ops", is_default=True
        )
        self.client.post(f"{self.base}/ops/cards/new/", form_data())
        card = DashboardCard.objects.get(dashboard=dashboard)
        self.client.post(
            f"{self.base}/ops/cards/{card.pk}/edit/", form_data(title="Failure rate", colour="blue")
        )
        self.client.post(f"{self.base}/ops/cards/{card.pk}/duplicate/")
        self.client.post(f"{self.base}/ops/cards/{card.pk}/move/", {"direction": "down"})
        self.client.post(f"{self.base}/ops/cards/{card.pk}/delete/")
        self.assertEqual(
            actions(self.workspace),
            [
                "dashboard.card_created",
                "dashboard.card_edited",
                "dashboard.card_duplicated",
                "dashboard.cards_reordered",
                "dashboard.card_deleted",
            ],
        )
        entries = {entry.action: entry for entry in AuditEntry.objects.filter(workspace=self.workspace)}
        self.assertEqual(entries["dashboard.card_created"].changes["title"], [None, "Refund rate"])
        self.assertEqual(
            entries["dashboard.card_edited"].changes,
            {"title": ["Refund rate", "Failure rate"], "colour": ["red", "blue"]},
        )
        self.assertEqual(entries["dashboard.card_edited"].target, "Ops › Failure rate")
        self.assertEqual(
            entries["dashboard.cards_reordered"].changes,
            {"order": [["Failure rate", "Failure rate (copy)"], ["Failure rate (copy)", "Failure rate"]]},
        )
        self.assertEqual(entries["dashboard.card_deleted"].changes["kind"], ["rate", None])

    def test_a_move_that_changes_nothing_records_nothing(self):
        dashboard = Dashboard.objects.create(
            workspace=self.workspace, slug="ops", name="Ops", is_default=True
        )
        card = DashboardCard.objects.create(dashboard=dashboard, title="Runs", position=0)
        self.client.post(f"{self.base}/ops/cards/{card.pk}/move/", {"direction": "up"})
        self.assertEqual(actions(self.workspace), [])


class ExportsAreRecordedTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def test_a_review_export_is_recorded_with_its_filters_from_the_page_and_the_api(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get(f"/w/{self.workspace.slug}/reviews/export.jsonl?rating=good")
        b"".join(response.streaming_content)
        api_key, raw_key = make_api_key(self.workspace, label="trainer", scopes=["read"])
        self.client.get("/api/v1/reviews/export", headers={"Authorization": f"Bearer {raw_key}"})
        page, api = AuditEntry.objects.filter(workspace=self.workspace).order_by("id")
        self.assertEqual((page.action, page.actor_name), ("reviews.exported", self.cast["viewer"].username))
        self.assertEqual(page.changes, {"query": "rating=good"})
        self.assertEqual(
            (api.action, api.actor_name), ("reviews.exported", f"key trainer ({api_key.prefix}…)")
        )


class CaptureModeTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.raw_key = make_api_key(cls.workspace)

    def upsert(self, **fields):
        body = {"agent_id": "bot", "name": "Bot", **fields}
        self.assertEqual(
            post_batch(self.client, self.raw_key, [event("agent.upsert", body)]).status_code, 200
        )

    def test_an_upsert_that_changes_the_capture_mode_is_recorded(self):
        self.upsert(mode="full")
        self.upsert(mode="full", max_input_chars=4000)
        self.assertEqual(actions(self.workspace), [])
        self.upsert(mode="minimal", max_input_chars=100)
        entry = AuditEntry.objects.get(workspace=self.workspace)
        self.assertEqual(
            (entry.action, entry.actor_name, entry.target), ("agent.capture_changed", "agent.upsert", "Bot")
        )
        self.assertEqual(entry.changes, {"mode": ["full", "minimal"], "max_input_chars": [4000, 100]})


class AuditExportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.url = f"/w/{cls.workspace.slug}/settings/audit/export/"
        add_entries(cls.workspace, 5)
        add_entries(cls.cast["other_workspace"], 2, actor_name="outsider")

    def lines(self, response):
        return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]

    def test_an_admin_streams_the_log_oldest_first_and_the_export_is_recorded(self):
        self.client.force_login(self.cast["admin"])
        with patch("backoffice.audit.CHUNK", 2):
            response = self.client.get(self.url)
            self.assertTrue(response.streaming)
            # Three full chunks of two (the last holds the export's own entry), then an empty one.
            with self.assertNumQueries(4):
                lines = self.lines(response)
        self.assertEqual(response["Content-Type"], "application/jsonl")
        self.assertIn(f'attachment; filename="audit-{self.workspace.slug}-', response["Content-Disposition"])
        self.assertEqual([line["target"] for line in lines[:5]], [f"key {i}" for i in range(4, -1, -1)])
        self.assertEqual(lines[-1]["action"], "audit.exported")
        self.assertEqual(len(lines), 6)
        self.assertEqual(set(lines[0]), {"id", "at", "actor", "action", "target", "changes"})
        self.assertNotIn("outsider", {line["actor"] for line in lines})

    def test_the_audit_page_links_the_export(self):
        self.client.force_login(self.cast["admin"])
        self.assertContains(self.client.get(f"/w/{self.workspace.slug}/settings/audit/"), self.url)

    def test_only_admins_of_the_workspace_export_it(self):
        for user, status in (("reviewer", 403), ("outsider", 404)):
            with self.subTest(user=user):
                self.client.force_login(self.cast[user])
                self.assertEqual(self.client.get(self.url).status_code, status)


class DjangoAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.boss = make_member(cls.workspace, is_superuser=True, is_staff=True)
        add_entries(cls.workspace, 1)
        cls.entry = AuditEntry.objects.get()

    def test_a_superuser_reads_entries_but_cannot_change_or_delete_them(self):
        self.client.force_login(self.boss)
        base = "/admin/backoffice/auditentry/"
        self.assertEqual(self.client.get(base).status_code, 200)
        self.assertEqual(self.client.get(f"{base}{self.entry.pk}/change/").status_code, 200)
        self.client.post(f"{base}{self.entry.pk}/change/", {"action": "nothing", "target": "x"})
        self.assertEqual(self.client.get(f"{base}{self.entry.pk}/delete/").status_code, 403)
        self.assertEqual(self.client.post(f"{base}{self.entry.pk}/delete/", {"post": "yes"}).status_code, 403)
        self.client.post(
            base, {"action": "delete_selected", "_selected_action": [self.entry.pk], "post": "yes"}
        )
        self.entry.refresh_from_db()
        self.assertEqual((self.entry.action, self.entry.target), ("key.created", "key 0"))


class AuditRetentionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(retention_days=30, audit_retention_days=400)
        cls.cast = make_cast(cls.workspace)
        add_entries(cls.workspace, 3, days_ago=401)
        add_entries(cls.workspace, 2, days_ago=399)
        add_entries(cls.cast["other_workspace"], 2, days_ago=900)

    def test_purge_removes_only_entries_past_the_audit_retention(self):
        out = StringIO()
        call_command("purge", workspace=self.workspace.slug, batch_size=2, stdout=out, stderr=StringIO())
        self.assertIn("audit entries older than 400 days", out.getvalue())
        self.assertRegex(out.getvalue(), r"audit entries +3\n")
        self.assertEqual(AuditEntry.objects.filter(workspace=self.workspace).count(), 2)
        # A workspace that keeps its audit log forever keeps every entry.
        self.assertEqual(AuditEntry.objects.filter(workspace=self.cast["other_workspace"]).count(), 2)

    def test_a_dry_run_counts_and_keeps(self):
        out = StringIO()
        call_command("purge", workspace=self.workspace.slug, dry_run=True, stdout=out)
        self.assertRegex(out.getvalue(), r"audit entries +3\n")
        self.assertEqual(AuditEntry.objects.filter(workspace=self.workspace).count(), 5)

    def test_the_retention_page_sets_the_audit_retention_no_shorter_than_the_data(self):
        self.client.force_login(self.cast["admin"])
        url = f"/w/{self.workspace.slug}/settings/retention/"
        cases = {
            ("30", "20"): "at least as long as the data (30 days)",
            ("", "500"): "at least as long as the data (forever)",
            ("30", "0"): "Choose between 1 and 36,500 days",
        }
        for (days, audit_days), error in cases.items():
            with self.subTest(days=days, audit_days=audit_days):
                response = self.client.post(url, {"retention_days": days, "audit_retention_days": audit_days})
                self.assertContains(response, error)
        self.client.post(
            url, {"retention_days": "30", "rollup_retention_days": "365", "audit_retention_days": "730"}
        )
        self.workspace.refresh_from_db()
        self.assertEqual(self.workspace.audit_retention_days, 730)
        entry = AuditEntry.objects.get(action="retention.changed")
        self.assertEqual(entry.changes, {"audit_days": [400, 730]})


@skipUnless(connection.vendor == "postgresql", "the append-only trigger is PostgreSQL's")
class AppendOnlyTriggerTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(retention_days=1, audit_retention_days=1)
        add_entries(cls.workspace, 2, days_ago=5)

    def refused(self, statement):
        refusal = self.assertRaisesMessage(DatabaseError, "audit_log is append-only")
        with refusal, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)

    def test_update_and_delete_are_refused_even_in_plain_sql(self):
        self.refused("UPDATE audit_log SET action = 'nothing'")
        self.refused("UPDATE audit_log SET actor_name = 'someone else', actor_id = NULL")
        self.refused("DELETE FROM audit_log")
        with self.assertRaises(DatabaseError), transaction.atomic():
            AuditEntry.objects.filter(workspace=self.workspace).delete()
        self.assertEqual(AuditEntry.objects.count(), 2)

    def test_the_purge_flag_lasts_one_transaction(self):
        with audit.purging():
            AuditEntry.objects.filter(pk=AuditEntry.objects.first().pk).delete()
        self.refused("DELETE FROM audit_log")
        self.assertEqual(audit.purge(self.workspace), 1)
        self.assertEqual(AuditEntry.objects.count(), 0)

    def test_a_deleted_account_leaves_its_entries_with_the_name(self):
        user = get_user_model().objects.create_user("grace")
        entry = AuditEntry.objects.create(
            workspace=self.workspace, actor=user, actor_name="grace", action="key.revoked"
        )
        user.delete()
        entry.refresh_from_db()
        self.assertEqual((entry.actor_id, entry.actor_name), (None, "grace"))


class DjangoAdminChangesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.boss = make_member(cls.workspace, is_superuser=True, is_staff=True)

    def test_a_capture_mode_or_retention_changed_in_the_admin_is_recorded(self):
        agent = make_agent(self.workspace, agent_id="bot", name="Bot")
        self.client.force_login(self.boss)
        self.client.post(
            f"/admin/traces/agent/{agent.pk}/change/",
            {
                "workspace": self.workspace.pk,
                "agent_id": "bot",
                "name": "Bot",
                "description": "",
                "mode": "minimal",
                "max_input_chars": 4000,
                "max_output_chars": 4000,
                "created_at_0": "2026-01-01",
                "created_at_1": "00:00:00",
                "stamps": "{}",
            },
        )
        agent.refresh_from_db()
        self.assertEqual(agent.mode, "minimal")
        entry = AuditEntry.objects.get(workspace=self.workspace, action="agent.admin_changed")
        self.assertEqual((entry.actor, entry.changes), (self.boss, {"mode": ["full", "minimal"]}))
        self.client.post(f"/admin/traces/agent/{agent.pk}/delete/", {"post": "yes"})
        self.assertTrue(
            AuditEntry.objects.filter(workspace=self.workspace, action="agent.admin_deleted").exists()
        )
