from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from backoffice.models import ApiKey, AuditEntry
from tests.events import event, post_batch
from tests.factories import make_api_key, make_cast, make_workspace


def url(workspace, path=""):
    return f"/w/{workspace.slug}/settings/keys/{path}"


class ApiKeyPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def test_it_lists_keys_by_prefix_with_last_use(self):
        key, raw = make_api_key(self.workspace, label="support bot")
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))
        response = self.client.get(url(self.workspace))
        self.assertContains(response, "support bot")
        self.assertContains(response, f"{key.prefix}…")
        self.assertContains(response, "5\xa0minutes ago")
        self.assertNotContains(response, raw)

    def test_it_refuses_reviewers_and_hides_from_outsiders(self):
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.get(url(self.workspace)).status_code, 403)
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(url(self.workspace)).status_code, 404)

    def test_it_issues_the_same_number_of_queries_for_few_and_many_keys(self):
        make_api_key(self.workspace)
        with self.assertNumQueries(4):
            self.client.get(url(self.workspace))
        for _ in range(15):
            make_api_key(self.workspace)
        with self.assertNumQueries(4):
            self.client.get(url(self.workspace))

    def test_a_new_key_is_shown_once_and_then_only_its_prefix(self):
        response = self.client.post(url(self.workspace, "new/"), {"label": "etl", "scopes": ["read"]})
        self.assertEqual(response.status_code, 201)
        self.assertIn("no-store", response["Cache-Control"])
        raw = response.context["new_key"]["raw"]
        self.assertContains(response, raw, status_code=201)
        key = ApiKey.find(raw)
        self.assertEqual(
            (key.workspace, key.label, key.created_by), (self.workspace, "etl", self.cast["admin"])
        )
        self.assertNotContains(self.client.get(url(self.workspace)), raw)
        self.assertEqual(AuditEntry.objects.get().action, "key.created")

    def test_a_key_with_an_expiry_stops_working_on_that_day(self):
        tomorrow = (timezone.now() + timedelta(days=1)).date()
        response = self.client.post(
            url(self.workspace, "new/"), {"label": "trial", "expires_on": tomorrow, "scopes": ["ingest"]}
        )
        key = ApiKey.objects.get(label="trial")
        self.assertEqual(key.expires_at.date(), tomorrow)
        ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        reply = post_batch(self.client, response.context["new_key"]["raw"], [event("track", {"name": "x"})])
        self.assertEqual(reply.status_code, 401)

    def test_an_expiry_in_the_past_or_a_blank_label_names_the_field(self):
        response = self.client.post(url(self.workspace, "new/"), {"label": " ", "expires_on": "2001-01-01"})
        self.assertContains(response, "This field is required")
        self.assertContains(response, "The expiry date must be in the future")
        self.assertFalse(ApiKey.objects.exists())

    def test_a_revoked_key_is_refused_at_once(self):
        key, raw = make_api_key(self.workspace)
        self.assertEqual(post_batch(self.client, raw, [event("track", {"name": "x"})]).status_code, 200)
        self.client.post(url(self.workspace, f"{key.pk}/revoke/"))
        self.assertEqual(post_batch(self.client, raw, [event("track", {"name": "y"})]).status_code, 401)
        self.assertContains(self.client.get(url(self.workspace)), "revoked")
        self.assertEqual(AuditEntry.objects.filter(action="key.revoked").count(), 1)

    def test_revoking_twice_is_audited_once(self):
        key, _ = make_api_key(self.workspace)
        self.client.post(url(self.workspace, f"{key.pk}/revoke/"))
        self.client.post(url(self.workspace, f"{key.pk}/revoke/"))
        self.assertEqual(AuditEntry.objects.filter(action="key.revoked").count(), 1)

    def test_a_key_of_another_workspace_cannot_be_revoked(self):
        key, _ = make_api_key(self.cast["other_workspace"])
        self.assertEqual(self.client.post(url(self.workspace, f"{key.pk}/revoke/")).status_code, 404)
        key.refresh_from_db()
        self.assertIsNone(key.revoked_at)

    def test_a_viewer_cannot_create_keys(self):
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.client.post(url(self.workspace, "new/"), {"label": "x"}).status_code, 403)
        self.assertFalse(ApiKey.objects.exists())
