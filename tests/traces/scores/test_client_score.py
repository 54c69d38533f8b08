"""The standard-library client's score(): sent at once after the queued events, checked, replaced on
its id."""

import pytest

from tests.factories import make_score_config
from traces.models import Score

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_score_inside_a_run_scores_that_run_after_its_events_land(make_client, keyed_workspace):
    make_score_config(keyed_workspace[0], name="helpfulness", min_value=1, max_value=5)
    client = make_client()
    with client.run("support", session_id="conv-1") as run, client.span("answer") as step:
        stored = client.score("helpfulness", 4, comment="clear", score_id="s-1")
    assert (stored["run_id"], stored["task_id"], stored["value"]) == (run.run_id, step.step_id, 4.0)
    again = client.score("helpfulness", 5, run_id=run.run_id, score_id="s-1")
    assert again["value"] == 5.0
    assert Score.objects.get().value == 5.0


def test_a_refused_score_raises_naming_the_field(make_client, keyed_workspace):
    make_score_config(keyed_workspace[0], name="helpfulness", min_value=1, max_value=5)
    client = make_client()
    with client.run("support"), pytest.raises(ValueError, match="value: 7 is above the maximum"):
        client.score("helpfulness", 7)
    with pytest.raises(ValueError, match="run_id: no run"):
        client.score("helpfulness", 3, run_id="no-such-run")
