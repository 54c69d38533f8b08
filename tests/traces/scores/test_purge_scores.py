from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from backoffice.retention import Purge
from tests.factories import make_run, make_score, make_session, make_workspace
from traces.models import Score


class PurgeScoresTest(TestCase):
    def test_a_purged_runs_scores_go_with_it_and_a_kept_runs_stay(self):
        workspace = make_workspace(retention_days=30)
        session = make_session(workspace)
        old = make_run(workspace, session=session, started_at=timezone.now() - timedelta(days=40))
        old.ended_at = old.started_at + timedelta(seconds=2)
        old.save()
        kept = make_run(workspace, session=session)
        make_score(old, client_id="old")
        make_score(kept, client_id="kept")
        removed = Purge.for_workspace(workspace).run()
        self.assertEqual(removed["scores"], 1)
        self.assertEqual(list(Score.objects.values_list("client_id", flat=True)), ["kept"])
