"""Saved views: named filters and columns of the Runs list, private or shared, listed in the nav."""

from tests.factories import make_member, make_run
from tests.traces.drilldown import DrilldownTestCase, hx
from traces.models import SavedView


class SavedViewTest(DrilldownTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.mine = SavedView.objects.create(
            workspace=cls.workspace, owner=cls.cast["viewer"], name="My failures", query="status=failed"
        )
        cls.shared = SavedView.objects.create(
            workspace=cls.workspace, owner=cls.cast["reviewer"], name="Team VIP", query="tag=vip", shared=True
        )
        cls.secret = SavedView.objects.create(
            workspace=cls.workspace, owner=cls.cast["reviewer"], name="Reviewer only", query="sort=-cost"
        )
        cls.elsewhere = SavedView.objects.create(
            workspace=cls.cast["other_workspace"], owner=cls.cast["outsider"], name="Other", shared=True
        )

    def test_saving_keeps_the_filters_and_columns_but_not_the_page(self):
        self.as_("viewer")
        page = self.client.get(self.url("runs/?status=failed&col=cost&after=1.2"))
        self.assertContains(page, 'name="query" value="status=failed&amp;col=cost"')
        response = self.client.post(
            self.url("views/create/"), {"name": "Costly", "query": "col=cost&tag=a&after=5.5", "shared": "on"}
        )
        view = SavedView.objects.get(name="Costly")
        self.assertEqual((view.query, view.shared, view.owner), ("col=cost&tag=a", True, self.cast["viewer"]))
        self.assertRedirects(response, self.url("runs/?col=cost&tag=a"))

    def test_a_nameless_view_is_not_saved(self):
        self.as_("viewer")
        response = self.client.post(self.url("views/create/"), {"name": "", "query": "tag=a"})
        self.assertContains(response, "name: This field is required.")
        self.assertFalse(SavedView.objects.filter(query="tag=a").exists())

    def test_the_menu_lists_own_and_shared_views_only(self):
        self.as_("viewer")
        menu = self.client.get(self.url("views/"), headers=hx("saved-views-menu"))
        self.assertNotContains(menu, "<html")
        self.assertContains(menu, 'href="/w/acme/runs/?status=failed"')
        self.assertContains(menu, "Team VIP")
        self.assertNotContains(menu, "Reviewer only")
        self.assertNotContains(menu, "Other")
        page = self.client.get(self.url("runs/"))
        self.assertContains(page, 'hx-get="/w/acme/views/"')

    def test_the_owner_renames_shares_and_deletes_a_private_view(self):
        self.as_("viewer")
        self.client.post(
            self.url(f"views/{self.mine.pk}/"),
            {f"view-{self.mine.pk}-name": "Failed", f"view-{self.mine.pk}-shared": "on"},
        )
        self.mine.refresh_from_db()
        self.assertEqual((self.mine.name, self.mine.shared), ("Failed", True))
        self.client.post(self.url(f"views/{self.mine.pk}/delete/"))
        self.assertFalse(SavedView.objects.filter(pk=self.mine.pk).exists())

    def test_only_the_owner_or_an_admin_edits_a_shared_view(self):
        self.as_("viewer")
        self.assertEqual(self.client.post(self.url(f"views/{self.shared.pk}/delete/")).status_code, 403)
        self.as_("admin")
        self.client.post(self.url(f"views/{self.shared.pk}/"), {f"view-{self.shared.pk}-name": "VIP runs"})
        self.shared.refresh_from_db()
        self.assertEqual((self.shared.name, self.shared.shared), ("VIP runs", False))

    def test_a_private_view_of_someone_else_is_not_found_even_for_an_admin(self):
        self.as_("admin")
        self.assertEqual(self.client.post(self.url(f"views/{self.secret.pk}/delete/")).status_code, 404)
        self.as_("outsider")
        self.assertEqual(self.client.post(self.url(f"views/{self.shared.pk}/delete/")).status_code, 404)
        self.as_("viewer")
        self.assertEqual(self.client.post(self.url(f"views/{self.elsewhere.pk}/delete/")).status_code, 404)
        self.assertTrue(SavedView.objects.filter(pk=self.secret.pk).exists())

    def test_it_is_hidden_from_outsiders(self):
        self.assert_hidden_from_outsiders("views/")

    def test_a_view_shows_what_was_saved(self):
        make_run(self.workspace, run_id="vip-run", tags=["vip"])
        make_run(self.workspace, run_id="plain-run")
        self.as_("viewer")
        rows = self.client.get(self.url("runs/?tag=vip")).context["page"].rows
        self.assertEqual([run.run_id for run in rows], ["vip-run"])

    def test_the_page_is_a_fixed_number_of_queries(self):
        member = make_member(self.workspace)
        self.client.force_login(member)
        for count in (2, 20):
            for n in range(count):
                SavedView.objects.create(workspace=self.workspace, owner=member, name=f"v{count}-{n}")
            # session, user, memberships, views with their owners
            with self.assertNumQueries(4):
                self.client.get(self.url("views/"))
