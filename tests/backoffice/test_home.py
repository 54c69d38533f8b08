from django.test import TestCase

from backoffice.models import Role
from tests.factories import make_cast, make_member, make_run, make_session, make_workspace


class HomeTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme", name="Acme")
        cls.cast = make_cast(cls.workspace)
        make_run(cls.workspace, total_tokens=700)
        make_run(cls.workspace, status="failed", error={"message": "<b>boom</b>"}, total_tokens=300)
        make_session(cls.workspace)

    def test_a_member_sees_the_figures_of_the_last_24_hours(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get("/w/acme/")
        self.assertContains(response, '<strong data-figure="runs">2</strong>', html=True)
        self.assertContains(response, '<strong data-figure="failed">1</strong>', html=True)
        self.assertContains(response, '<strong data-figure="tokens">1,000</strong>', html=True)
        self.assertContains(response, '<strong data-figure="conversations">1</strong>', html=True)

    def test_payload_html_is_escaped(self):
        self.client.force_login(self.cast["viewer"])
        response = self.client.get("/w/acme/")
        self.assertContains(response, "&lt;b&gt;boom&lt;/b&gt;")
        self.assertNotContains(response, "<b>boom</b>")

    def test_it_answers_404_to_a_member_of_another_workspace(self):
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get("/w/acme/").status_code, 404)

    def test_anonymous_visitors_are_sent_to_log_in(self):
        response = self.client.get("/w/acme/")
        self.assertRedirects(response, "/login/?next=/w/acme/")

    def test_superusers_open_every_workspace(self):
        boss = make_member(self.cast["other_workspace"], Role.VIEWER, is_superuser=True)
        self.client.force_login(boss)
        self.assertEqual(self.client.get("/w/acme/").status_code, 200)

    def test_the_query_count_does_not_grow_with_the_rows(self):
        self.client.force_login(self.cast["viewer"])
        with self.assertNumQueries(6):
            self.client.get("/w/acme/")
        for _ in range(20):
            make_run(self.workspace, status="failed")
        with self.assertNumQueries(6):
            self.client.get("/w/acme/")

    def test_the_root_sends_a_user_to_their_workspace(self):
        self.client.force_login(self.cast["viewer"])
        self.assertRedirects(self.client.get("/"), "/w/acme/")

    def test_a_user_without_a_workspace_is_told_so(self):
        from tests.factories import make_user

        self.client.force_login(make_user())
        self.assertContains(self.client.get("/"), "not a member of any workspace")

    def test_the_switcher_lists_every_workspace_of_the_user(self):
        other = make_workspace(name="Beta corp")
        from backoffice.models import Membership

        Membership.objects.create(user=self.cast["viewer"], workspace=other, role=Role.VIEWER)
        make_workspace(name="Gamma corp")
        self.client.force_login(self.cast["viewer"])
        response = self.client.get("/w/acme/")
        self.assertContains(response, "Beta corp")
        self.assertNotContains(response, "Gamma corp")
        self.assertEqual(
            [w.name for w in response.context["switcher_workspaces"]], sorted(["Beta corp", "Acme"])
        )


class CreateApiKeyCommandTest(TestCase):
    def test_it_creates_the_workspace_and_prints_the_key_last(self):
        from io import StringIO

        from django.core.management import call_command

        from backoffice.models import ApiKey, hash_key

        out = StringIO()
        call_command("create_api_key", "--workspace", "new-team", "--label", "bot", stdout=out)
        key = out.getvalue().strip().splitlines()[-1]
        stored = ApiKey.objects.get()
        self.assertEqual(
            (stored.workspace.slug, stored.label, stored.key_hash), ("new-team", "bot", hash_key(key))
        )
        self.assertNotIn(key, str(stored.__dict__))

    def test_a_bad_slug_is_refused(self):
        from django.core.management import CommandError, call_command

        with self.assertRaisesMessage(CommandError, "--workspace"):
            call_command("create_api_key", "--workspace", "Not a slug!", "--label", "x")
