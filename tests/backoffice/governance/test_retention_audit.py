from datetime import timedelta

from django.test import TestCase
from django.test.client import RequestFactory
from django.utils import timezone

from backoffice import audit
from backoffice.models import AuditEntry
from tests.factories import make_cast, make_workspace


class RetentionPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.url = f"/w/{cls.workspace.slug}/settings/retention/"

    def test_an_admin_sets_the_retention_and_it_is_audited(self):
        self.client.force_login(self.cast["admin"])
        self.assertContains(self.client.get(self.url), "kept forever")
        response = self.client.post(self.url, {"retention_days": "30", "rollup_retention_days": "365"})
        self.assertRedirects(response, self.url)
        self.workspace.refresh_from_db()
        self.assertEqual(self.workspace.retention_days, 30)
        self.assertEqual(AuditEntry.objects.get().changes, {"days": [None, 30]})
        self.assertContains(self.client.get(self.url), "30 days")

    def test_an_out_of_range_value_names_the_field(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.post(self.url, {"retention_days": "0"})
        self.assertContains(response, "Choose between 1 and 36,500 days")
        response = self.client.post(self.url, {"retention_days": "many"})
        self.assertContains(response, "Enter a whole number")

    def test_a_reviewer_cannot_change_retention(self):
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.post(self.url, {"retention_days": "1"}).status_code, 403)
        self.workspace.refresh_from_db()
        self.assertIsNone(self.workspace.retention_days)


class AuditLogPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.url = f"/w/{cls.workspace.slug}/settings/audit/"

    def add_entries(self, count, workspace=None):
        now = timezone.now()
        AuditEntry.objects.bulk_create(
            AuditEntry(
                workspace=workspace or self.workspace,
                actor=self.cast["admin"],
                actor_name=self.cast["admin"].username,
                action="dashboard.card_added",
                target=f"card {i}",
                changes={"title": [None, f"Card {i}"]},
                created_at=now - timedelta(minutes=i),
            )
            for i in range(count)
        )

    def test_other_apps_record_entries_through_the_api(self):
        request = RequestFactory().post("/")
        request.user, request.workspace = self.cast["admin"], self.workspace
        audit.record(request, "dashboard.card_deleted", "Revenue", {"kind": "number"})
        self.client.force_login(self.cast["admin"])
        response = self.client.get(self.url)
        self.assertContains(response, "dashboard.card_deleted")
        self.assertContains(response, "Revenue")
        self.assertContains(response, self.cast["admin"].username)

    def test_it_pages_by_keyset_and_serves_the_fragment(self):
        self.add_entries(55)
        self.client.force_login(self.cast["admin"])
        first = self.client.get(self.url)
        self.assertContains(first, "<html")
        self.assertEqual(len(first.context["entries"]), 50)
        fragment = self.client.get(
            self.url, {"after": first.context["next_after"]}, headers={"HX-Request": "true"}
        )
        self.assertNotContains(fragment, "<html")
        self.assertContains(fragment, "card 54")
        self.assertNotContains(fragment, "card 49<")
        self.assertNotContains(fragment, "Older entries")

    def test_a_bad_page_position_is_a_clear_400(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.get(self.url, {"after": "yesterday"})
        self.assertContains(response, "after:", status_code=400)

    def test_it_issues_the_same_number_of_queries_for_few_and_many_entries(self):
        self.client.force_login(self.cast["admin"])
        self.add_entries(2)
        with self.assertNumQueries(4):
            self.client.get(self.url)
        self.add_entries(20)
        with self.assertNumQueries(4):
            self.client.get(self.url)

    def test_it_shows_only_this_workspace_and_only_to_admins(self):
        self.add_entries(1, workspace=self.cast["other_workspace"])
        self.client.force_login(self.cast["admin"])
        self.assertContains(self.client.get(self.url), "Nothing changed yet")
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.get(self.url).status_code, 403)
