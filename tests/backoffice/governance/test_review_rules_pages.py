from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from backoffice.models import AuditEntry, Role
from tests.factories import make_cast, make_member, make_review, make_run, make_workspace
from traces.models import Review, ReviewQueue, ReviewRule

RULES = "/w/acme/settings/review-rules/"
QUEUES = "/w/acme/settings/review-queues/"


class ReviewRulePagesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.queue = ReviewQueue.objects.create(workspace=cls.workspace, name="Billing")
        cls.foreign = ReviewRule.objects.create(workspace=cls.cast["other_workspace"], name="Elsewhere")

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def rule(self, n=0, **fields):
        return ReviewRule.objects.create(
            workspace=self.workspace, name=f"Rule {n:02d}", queue=self.queue, **fields
        )

    def test_an_admin_adds_a_rule_and_it_is_audited(self):
        data = {"name": "Costly", "filter": "?min_cost=0.5", "sample_rate": "0.5", "priority": "high"}
        data |= {"tags": "Billing, cost", "queue": self.queue.pk, "enabled": "on"}
        response = self.client.post(RULES, data)
        rule = ReviewRule.objects.get(workspace=self.workspace)
        self.assertRedirects(response, f"{RULES}{rule.pk}/")
        self.assertEqual(
            (rule.filter, rule.sample_rate, rule.tags), ("min_cost=0.5", 0.5, ["billing", "cost"])
        )
        self.assertEqual(AuditEntry.objects.get().action, "review_rule.created")
        page = self.client.get(RULES)
        self.assertContains(page, "<code>min_cost=0.5</code>", html=False)
        self.assertNotContains(page, "Elsewhere")

    def test_a_bad_filter_is_shown_again_naming_the_field(self):
        response = self.client.post(
            RULES, {"name": "Bad", "filter": "status=maybe", "sample_rate": "1", "priority": "low"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("filter", response.context["form"].errors)
        self.assertContains(
            response, "Status: Select a valid choice. maybe is not one of the available choices.<"
        )
        self.assertFalse(ReviewRule.objects.filter(workspace=self.workspace).exists())

    def test_an_admin_edits_switches_off_and_deletes_a_rule(self):
        rule = self.rule()
        data = {"name": "Renamed", "filter": "status=failed", "sample_rate": "0.1", "priority": "low"}
        self.client.post(f"{RULES}{rule.pk}/edit/", data)
        rule.refresh_from_db()
        self.assertEqual((rule.name, rule.enabled, rule.queue), ("Renamed", False, None))
        self.client.post(f"{RULES}{rule.pk}/toggle/")
        rule.refresh_from_db()
        self.assertTrue(rule.enabled)
        self.client.post(f"{RULES}{rule.pk}/delete/")
        self.assertFalse(ReviewRule.objects.filter(pk=rule.pk).exists())
        actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
        self.assertEqual(actions, ["review_rule.changed", "review_rule.changed", "review_rule.deleted"])

    def test_the_backfill_button_fills_the_queue_once(self):
        rule = self.rule(filter="status=failed")
        make_run(self.workspace, status="failed", started_at=timezone.now() - timedelta(days=2))
        make_run(self.workspace, status="completed", started_at=timezone.now() - timedelta(days=2))
        today = timezone.now().date()
        data = {"since": (today - timedelta(days=7)).isoformat(), "until": today.isoformat()}
        response = self.client.post(f"{RULES}{rule.pk}/backfill/", data, follow=True)
        self.assertContains(response, "1 review opened")
        self.client.post(f"{RULES}{rule.pk}/backfill/", data)
        self.assertEqual(Review.objects.filter(queue=self.queue).count(), 1)
        response = self.client.post(
            f"{RULES}{rule.pk}/backfill/", {"since": "2026-02-02", "until": "2026-01-01"}
        )
        self.assertIn("until", response.context["backfill_form"].errors)

    def test_another_workspaces_rule_is_404(self):
        for path in ("", "edit/", "toggle/", "delete/", "backfill/"):
            method = self.client.get if not path else self.client.post
            self.assertEqual(method(f"{RULES}{self.foreign.pk}/{path}").status_code, 404, path)

    def test_the_pages_are_for_admins(self):
        rule = self.rule()
        for role in ("viewer", "reviewer"):
            self.client.force_login(self.cast[role])
            self.assertEqual(self.client.get(RULES).status_code, 403)
            self.assertEqual(self.client.get(QUEUES).status_code, 403)
            self.assertEqual(self.client.post(f"{RULES}{rule.pk}/toggle/").status_code, 403)
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(RULES).status_code, 404)

    def test_the_rules_page_costs_the_same_queries_for_2_and_20_rules(self):
        for count in (2, 20):
            ReviewRule.objects.filter(workspace=self.workspace).delete()
            for n in range(count):
                self.rule(n, assignee=self.cast["reviewer"], tags=["x"])
            # session, user, memberships, rules, the form's queues and assignees
            with self.assertNumQueries(6):
                response = self.client.get(RULES)
            self.assertContains(response, "Rule 01")


class ReviewQueuePagesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.cast = make_cast(cls.workspace)
        cls.ann = make_member(cls.workspace, Role.REVIEWER, username="ann")

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def test_an_admin_adds_a_queue_with_members_and_sees_its_progress(self):
        response = self.client.post(QUEUES, {"name": "Billing", "members": [self.ann.pk]})
        self.assertRedirects(response, QUEUES)
        queue = ReviewQueue.objects.get()
        self.assertEqual(list(queue.members.all()), [self.ann])
        for status in ("open", "open", "in_review", "resolved"):
            make_review(make_run(self.workspace), status=status, queue=queue)
        page = self.client.get(QUEUES)
        row = page.context["queues"][0]
        self.assertEqual((row.open, row.in_review, row.done, row.done_percent), (2, 1, 1, 25))
        self.assertEqual(AuditEntry.objects.get().changes["members"], [None, ["ann"]])
        queue_page = self.client.get(f"/w/acme/reviews/?queue={queue.pk}&status=all")
        self.assertEqual(len(queue_page.context["rows"]), 4)

    def test_a_queue_name_is_unique_and_another_workspaces_queue_is_404(self):
        ReviewQueue.objects.create(workspace=self.workspace, name="Billing")
        response = self.client.post(QUEUES, {"name": "Billing"})
        self.assertIn("name", response.context["form"].errors)
        foreign = ReviewQueue.objects.create(workspace=self.cast["other_workspace"], name="Theirs")
        self.assertEqual(self.client.get(f"{QUEUES}{foreign.pk}/").status_code, 404)
        self.assertEqual(self.client.post(f"{QUEUES}{foreign.pk}/delete/").status_code, 404)

    def test_the_queues_page_costs_the_same_queries_for_2_and_20_queues(self):
        for count in (2, 20):
            ReviewQueue.objects.all().delete()
            for n in range(count):
                queue = ReviewQueue.objects.create(workspace=self.workspace, name=f"Queue {n:02d}")
                queue.members.set([self.ann])
                make_review(make_run(self.workspace), queue=queue)
            # session, user, memberships, queues, their members, their counts, the form's members
            with self.assertNumQueries(7):
                response = self.client.get(QUEUES)
            self.assertContains(response, "Queue 01")
