from datetime import timedelta

from django.core import mail
from django.test import TestCase
from django.utils import timezone

from backoffice.models import AuditEntry, Invitation, Membership, Role
from tests.factories import make_cast, make_user, make_workspace


def members_url(workspace, path=""):
    return f"/w/{workspace.slug}/settings/members/{path}"


def accept_url(token):
    return f"/invitations/{token}/"


class InvitingTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)

    def invite(self, **data):
        return self.client.post(members_url(self.workspace, "add/"), {"role": "reviewer", **data})

    def test_an_admin_invites_by_email_and_the_link_is_shown_and_sent(self):
        self.client.force_login(self.cast["admin"])
        response = self.invite(email="grace@example.com")
        self.assertEqual(response.status_code, 201)
        link = response.context["new_link"]["url"]
        self.assertContains(response, link, status_code=201)
        self.assertIn("no-store", response["Cache-Control"])
        invitation = Invitation.objects.get()
        self.assertEqual(
            (invitation.email, invitation.role, invitation.invited_by),
            ("grace@example.com", "reviewer", self.cast["admin"]),
        )
        self.assertNotIn(link.rsplit("/", 2)[-2], invitation.token_hash)
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["grace@example.com"])
        self.assertIn(link, mail.outbox[0].body)
        entry = AuditEntry.objects.get()
        self.assertEqual((entry.action, entry.target), ("member.invited", "grace@example.com"))
        # Nobody became a member: the role applies only on acceptance.
        self.assertEqual(Membership.objects.filter(workspace=self.workspace).count(), 3)
        page = self.client.get(members_url(self.workspace))
        self.assertContains(page, "Pending invitations")
        self.assertContains(page, "grace@example.com")
        self.assertNotContains(page, link)

    def test_an_invitation_without_email_sends_nothing(self):
        self.client.force_login(self.cast["admin"])
        self.assertEqual(self.invite().status_code, 201)
        self.assertEqual(len(mail.outbox), 0)

    def test_an_account_of_the_instance_can_no_longer_be_added_by_name(self):
        grace = make_user(username="grace")
        self.client.force_login(self.cast["admin"])
        self.client.post(members_url(self.workspace, "add/"), {"user": "grace", "role": "admin"})
        self.assertFalse(Membership.objects.filter(user=grace).exists())

    def test_a_bad_email_or_role_names_the_field(self):
        self.client.force_login(self.cast["admin"])
        response = self.invite(email="not-an-email", role="owner")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(set(response.context["add_form"].errors), {"email", "role"})
        self.assertFalse(Invitation.objects.exists())

    def test_viewers_and_reviewers_cannot_invite_and_outsiders_do_not_see_the_workspace(self):
        for who, code in (("viewer", 403), ("reviewer", 403), ("outsider", 404)):
            self.client.force_login(self.cast[who])
            self.assertEqual(self.invite(email="x@example.com").status_code, code, who)
        self.assertFalse(Invitation.objects.exists())

    def test_an_admin_revokes_a_pending_invitation(self):
        invitation, token = Invitation.issue(self.workspace, Role.VIEWER, self.cast["admin"])
        self.client.force_login(self.cast["admin"])
        response = self.client.post(members_url(self.workspace, f"invitations/{invitation.pk}/revoke/"))
        self.assertRedirects(response, members_url(self.workspace))
        invitation.refresh_from_db()
        self.assertIsNotNone(invitation.revoked_at)
        self.assertEqual(AuditEntry.objects.get().action, "member.invitation_revoked")
        newcomer = make_user()
        self.client.force_login(newcomer)
        self.assertEqual(self.client.post(accept_url(token)).status_code, 410)
        self.assertFalse(Membership.objects.filter(user=newcomer).exists())

    def test_viewers_cannot_revoke_and_other_workspaces_cannot_see_the_invitation(self):
        invitation, _ = Invitation.issue(self.workspace, Role.VIEWER, self.cast["admin"])
        path = members_url(self.workspace, f"invitations/{invitation.pk}/revoke/")
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.client.post(path).status_code, 403)
        self.client.force_login(self.cast["outsider"])
        other = self.cast["other_workspace"]
        self.assertEqual(
            self.client.post(members_url(other, f"invitations/{invitation.pk}/revoke/")).status_code, 404
        )
        invitation.refresh_from_db()
        self.assertIsNone(invitation.revoked_at)


class AcceptingTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.grace = make_user(username="grace", email="Grace@example.com")

    def test_the_invited_person_accepts_while_logged_in_and_gets_the_role(self):
        invitation, token = Invitation.issue(
            self.workspace, Role.REVIEWER, self.cast["admin"], email="grace@example.com"
        )
        self.client.force_login(self.grace)
        page = self.client.get(accept_url(token))
        self.assertContains(page, "Accept and join")
        self.assertContains(page, "reviewer")
        response = self.client.post(accept_url(token))
        self.assertRedirects(response, f"/w/{self.workspace.slug}/")
        self.assertEqual(Membership.objects.get(user=self.grace, workspace=self.workspace).role, "reviewer")
        invitation.refresh_from_db()
        self.assertEqual(invitation.accepted_by, self.grace)
        entry = AuditEntry.objects.get(action="member.joined")
        self.assertEqual((entry.workspace, entry.actor, entry.target), (self.workspace, self.grace, "grace"))
        self.assertEqual(entry.changes["invited_by"], self.cast["admin"].username)

    def test_an_anonymous_visitor_signs_in_first_and_comes_back(self):
        _, token = Invitation.issue(self.workspace, Role.VIEWER, self.cast["admin"])
        response = self.client.get(accept_url(token))
        self.assertRedirects(response, f"/login/?next={accept_url(token)}", fetch_redirect_response=False)
        self.assertFalse(Membership.objects.filter(user=self.grace).exists())

    def test_a_used_token_cannot_be_used_again(self):
        _, token = Invitation.issue(self.workspace, Role.ADMIN, self.cast["admin"])
        self.client.force_login(self.grace)
        self.client.post(accept_url(token))
        other = make_user()
        self.client.force_login(other)
        response = self.client.post(accept_url(token))
        self.assertContains(response, "already been used", status_code=410)
        self.assertFalse(Membership.objects.filter(user=other).exists())

    def test_an_expired_token_is_refused(self):
        invitation, token = Invitation.issue(self.workspace, Role.ADMIN, self.cast["admin"])
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        self.client.force_login(self.grace)
        self.assertContains(self.client.get(accept_url(token)), "expired")
        self.assertEqual(self.client.post(accept_url(token)).status_code, 410)
        self.assertFalse(Membership.objects.filter(user=self.grace).exists())

    def test_a_stolen_token_for_another_email_is_refused(self):
        _, token = Invitation.issue(self.workspace, Role.ADMIN, self.cast["admin"], email="grace@example.com")
        thief = self.cast["outsider"]
        self.client.force_login(thief)
        response = self.client.post(accept_url(token))
        self.assertContains(response, "This invitation is for grace@example.com", status_code=410)
        self.assertFalse(Membership.objects.filter(user=thief, workspace=self.workspace).exists())

    def test_a_made_up_token_is_not_found(self):
        self.client.force_login(self.grace)
        self.assertEqual(self.client.get(accept_url("made-up")).status_code, 404)
        self.assertEqual(self.client.post(accept_url("made-up")).status_code, 404)

    def test_a_member_cannot_change_their_role_with_an_invitation(self):
        _, token = Invitation.issue(self.workspace, Role.ADMIN, self.cast["admin"])
        self.client.force_login(self.cast["viewer"])
        self.assertEqual(self.client.post(accept_url(token)).status_code, 410)
        self.assertEqual(Membership.objects.get(user=self.cast["viewer"]).role, "viewer")
