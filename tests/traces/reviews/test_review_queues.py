import json

from django.test import TestCase

from backoffice.models import Role
from tests.factories import make_api_key, make_member, make_review, make_run, make_workspace
from traces.models import ReviewQueue


class ReviewInAQueueTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        _, cls.key = make_api_key(cls.workspace)
        cls.rita = make_member(cls.workspace, Role.REVIEWER, username="rita")
        cls.queue = ReviewQueue.objects.create(workspace=cls.workspace, name="Billing")
        cls.foreign_queue = ReviewQueue.objects.create(workspace=make_workspace(), name="Theirs")
        cls.review = make_review(make_run(cls.workspace, run_id="run-1"))

    def patch(self, body):
        return self.client.patch(
            f"/api/v1/reviews/{self.review.pk}",
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.key}"},
        )

    def test_the_api_moves_a_review_into_a_queue_and_out(self):
        response = self.patch({"queue_id": self.queue.pk})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual((response.json()["queue_id"], response.json()["queue"]), (self.queue.pk, "Billing"))
        self.assertEqual(response.json()["activity"][-1]["changes"]["queue"], [None, "Billing"])
        self.assertIsNone(self.patch({"queue_id": None}).json()["queue"])

    def test_another_workspaces_queue_answers_422_naming_queue_id(self):
        response = self.patch({"queue_id": self.foreign_queue.pk})
        self.assertEqual((response.status_code, response.json()["field"]), (422, "queue_id"))

    def test_a_reviewer_moves_a_review_into_a_queue_from_its_page(self):
        self.client.force_login(self.rita)
        data = {"rating": "bad", "comment": "Missed the refund.", "priority": "high", "queue": self.queue.pk}
        self.client.post(f"/w/acme/reviews/{self.review.pk}/edit/", data)
        self.review.refresh_from_db()
        self.assertEqual(self.review.queue, self.queue)
        page = self.client.get(f"/w/acme/reviews/{self.review.pk}/")
        self.assertContains(page, f'<option value="{self.queue.pk}" selected>Billing</option>', html=True)
