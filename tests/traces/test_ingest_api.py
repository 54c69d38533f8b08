from django.test import TestCase

from tests.events import event, post_batch
from tests.factories import make_api_key, make_workspace
from traces.models import Run


class IngestSmokeTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def test_it_folds_a_run_start_into_a_run(self):
        response = post_batch(
            self.client, self.key, [event("run.start", {"run_id": "r1", "agent_id": "bot"})]
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(Run.objects.get(run_id="r1").status, "running")
