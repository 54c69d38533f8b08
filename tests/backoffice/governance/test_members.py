from django.contrib.auth import get_user_model
from django.test import TestCase

from backoffice.models import AuditEntry, Membership, Role
from tests.factories import make_cast, make_member, make_workspace


def url(workspace, path=""):
    return f"/w/{workspace.slug}/settings/members/{path}"


class MembersPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def test_it_lists_members_with_their_roles_for_admins(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.get(url(self.workspace))
        self.assertContains(response, "<html")
        for role in ("viewer", "reviewer", "admin"):
            self.assertContains(response, self.cast[role].username)

    def test_it_refuses_reviewers(self):
        self.client.force_login(self.cast["reviewer"])
        self.assertEqual(self.client.get(url(self.workspace)).status_code, 403)

    def test_it_hides_the_workspace_from_outsiders(self):
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(url(self.workspace)).status_code, 404)

    def test_settings_root_leads_to_members(self):
        self.client.force_login(self.cast["admin"])
        response = self.client.get(f"/w/{self.workspace.slug}/settings/")
        self.assertRedirects(response, url(self.workspace))

    def test_it_issues_the_same_number_of_queries_for_few_and_many_members(self):
        self.client.force_login(self.cast["admin"])
        with self.assertNumQueries(5):
            self.client.get(url(self.workspace))
        for _ in range(15):
            make_member(self.workspace, Role.VIEWER)
        with self.assertNumQueries(5):
            self.client.get(url(self.workspace))

    def test_the_nav_shows_settings_to_admins_only(self):
        self.client.force_login(self.cast["admin"])
        self.assertContains(self.client.get(f"/w/{self.workspace.slug}/"), ">Settings</a>")
        self.client.force_login(self.cast["reviewer"])
        self.assertNotContains(self.client.get(f"/w/{self.workspace.slug}/"), ">Settings</a>")


class MemberChangeTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def membership(self, role):
        return Membership.objects.get(user=self.cast[role], workspace=self.workspace)

    def test_an_admin_creates_a_user_with_a_validated_password(self):
        weak = {"username": "lin", "email": "", "password1": "123", "password2": "123", "role": "viewer"}
        response = self.client.post(url(self.workspace, "create/"), weak)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "This password is too short")
        self.assertFalse(get_user_model().objects.filter(username="lin").exists())

        strong = {**weak, "password1": "quiet meadow lantern 42", "password2": "quiet meadow lantern 42"}
        response = self.client.post(url(self.workspace, "create/"), strong)
        self.assertRedirects(response, url(self.workspace))
        user = get_user_model().objects.get(username="lin")
        self.assertTrue(user.check_password("quiet meadow lantern 42"))
        self.assertEqual(Membership.objects.get(user=user).role, "viewer")

    def test_an_admin_changes_a_role_and_it_is_audited(self):
        member = self.membership("viewer")
        self.client.post(url(self.workspace, f"{member.pk}/role/"), {"role": "reviewer"})
        self.assertEqual(self.membership("viewer").role, "reviewer")
        entry = AuditEntry.objects.get(action="member.role_changed")
        self.assertEqual(entry.changes, {"role": ["viewer", "reviewer"]})

    def test_a_bad_role_is_a_clear_400(self):
        member = self.membership("viewer")
        response = self.client.post(url(self.workspace, f"{member.pk}/role/"), {"role": "owner"})
        self.assertContains(response, "Role:", status_code=400)

    def test_the_last_admin_cannot_be_demoted_or_removed(self):
        admin = self.membership("admin")
        response = self.client.post(url(self.workspace, f"{admin.pk}/role/"), {"role": "viewer"})
        self.assertContains(response, "at least one admin", status_code=409)
        response = self.client.post(url(self.workspace, f"{admin.pk}/remove/"))
        self.assertContains(response, "at least one admin", status_code=409)
        self.assertEqual(self.membership("admin").role, "admin")

    def test_an_admin_may_step_down_when_another_admin_remains(self):
        second = self.membership("reviewer")
        self.client.post(url(self.workspace, f"{second.pk}/role/"), {"role": "admin"})
        admin = self.membership("admin")
        response = self.client.post(url(self.workspace, f"{admin.pk}/role/"), {"role": "viewer"})
        self.assertRedirects(response, f"/w/{self.workspace.slug}/")
        self.assertEqual(self.membership("admin").role, "viewer")

    def test_an_admin_removes_a_member(self):
        member = self.membership("viewer")
        self.client.post(url(self.workspace, f"{member.pk}/remove/"))
        self.assertFalse(Membership.objects.filter(pk=member.pk).exists())
        self.assertTrue(AuditEntry.objects.filter(action="member.removed").exists())

    def test_a_membership_of_another_workspace_is_not_found(self):
        theirs = Membership.objects.get(user=self.cast["outsider"])
        response = self.client.post(url(self.workspace, f"{theirs.pk}/remove/"))
        self.assertEqual(response.status_code, 404)
        self.assertTrue(Membership.objects.filter(pk=theirs.pk).exists())

    def test_a_viewer_cannot_change_roles(self):
        self.client.force_login(self.cast["viewer"])
        member = self.membership("viewer")
        response = self.client.post(url(self.workspace, f"{member.pk}/role/"), {"role": "admin"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.membership("viewer").role, "viewer")
