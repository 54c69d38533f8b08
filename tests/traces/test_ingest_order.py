"""The fold gives the same rows whatever order a run's events arrive in, in one batch or many."""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from tests.events import BASE, workflow_run
from tests.factories import make_workspace
from traces.ingest import ingest_batch
from traces.models import Agent, ChatMessage, Event, ModelCall, Run, Session, Task
from traces.rollups.daily import current_rows, differences

EVENTS = workflow_run("r-order", session_id="s-order", steps=3) + workflow_run(
    "r-order-2", session_id="s-order", steps=1, fail=True, start=10
)


def snapshot(workspace):
    """Every folded row of a workspace, without surrogate keys or wall-clock bookkeeping."""
    runs = Run.objects.filter(workspace=workspace).order_by("run_id")
    tasks = (
        Task.objects.filter(workspace=workspace)
        .select_related("run", "parent")
        .order_by("run__run_id", "step_id")
    )
    calls = ModelCall.objects.filter(workspace=workspace).select_related("run", "task").order_by("call_id")
    turns = ChatMessage.objects.filter(workspace=workspace).order_by("event_id")
    sessions = Session.objects.filter(workspace=workspace).select_related("agent")
    skip = {"id", "workspace", "updated_at", "run", "parent", "task", "session", "agent", "received_at"}

    def fields(obj):
        row = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.name not in skip}
        return row

    return {
        "runs": [{**fields(r), "session": r.session.session_id, "agent": r.agent.agent_id} for r in runs],
        "tasks": [{**fields(t), "run": t.run.run_id, "parent": t.parent and t.parent.step_id} for t in tasks],
        "calls": [{**fields(c), "run": c.run.run_id, "task": c.task and c.task.step_id} for c in calls],
        "turns": [fields(m) for m in turns],
        "sessions": [{**fields(s), "agent": s.agent.agent_id} for s in sessions],
        "events": sorted(
            Event.objects.filter(workspace=workspace).values_list("event_id", "type", "timestamp")
        ),
        # The daily roll-ups, with the agent by its id (keys differ between workspaces).
        "rollups": sorted(
            ((*key[1:3], agent_ids.get(key[3], ""), *key[4:]), measures)
            for agent_ids in [dict(Agent.objects.filter(workspace=workspace).values_list("pk", "agent_id"))]
            for key, measures in current_rows(workspace).items()
        ),
    }


def ingest_in_batches(events, cuts):
    workspace = make_workspace()
    bounds = sorted({0, len(events), *cuts})
    for start, end in zip(bounds, bounds[1:], strict=False):
        ingest_batch(workspace, events[start:end])
    return workspace


class RollupsAreCurrent:
    def assert_rollups_current(self, workspace):
        """The roll-ups kept batch by batch are the ones a rebuild from the final rows gives."""
        self.assertEqual(differences(workspace), [])


class OrderPropertyTest(RollupsAreCurrent, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.expected = snapshot(ingest_in_batches(EVENTS, []))

    def test_the_reference_run_is_complete(self):
        self.assertEqual(len(self.expected["runs"]), 2)
        # Runs: one completed, one failed; tasks and model calls: a few keys each.
        sources = [key[0] for key, _ in self.expected["rollups"]]
        self.assertEqual(sources.count("runs"), 2)
        self.assertGreater(sources.count("tasks"), 3)
        self.assertEqual(sum(m[0] for k, m in self.expected["rollups"] if k[0] == "model_calls"), 4)
        self.assertEqual(len(self.expected["tasks"]), 3 * 2 + 2 + 1 * 2 + 2)
        self.assertEqual([r["status"] for r in self.expected["runs"]], ["completed", "failed"])

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(EVENTS),
        cuts=st.lists(st.integers(min_value=1, max_value=len(EVENTS) - 1), max_size=6),
    )
    def test_any_order_and_any_split_gives_the_same_rows(self, order, cuts):
        workspace = ingest_in_batches(order, cuts)
        self.assertEqual(snapshot(workspace), self.expected)
        self.assert_rollups_current(workspace)

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(order=st.permutations(EVENTS), repeat=st.lists(st.integers(0, len(EVENTS) - 1), max_size=8))
    def test_resending_events_changes_nothing(self, order, repeat):
        workspace = ingest_in_batches(order, [len(order) // 2])
        ingest_batch(workspace, [order[i] for i in repeat])
        self.assertEqual(snapshot(workspace), self.expected)
        self.assert_rollups_current(workspace)


# A run that starts just before midnight UTC: its tasks and model calls fall on two days, and a
# task's day follows its start time, which a late opener can still move.
MIDNIGHT = workflow_run("r-midnight", session_id="s-midnight", steps=2, start=15 * 3600 - 0.3)


class RollupOrderPropertyTest(RollupsAreCurrent, TestCase):
    def test_the_run_spans_two_days(self):
        workspace = ingest_in_batches(MIDNIGHT, [])
        days = {key[2] for key in current_rows(workspace)}
        self.assertEqual(days, {f"{BASE:%Y-%m-%d}", f"{BASE + timedelta(days=1):%Y-%m-%d}"})
        self.assert_rollups_current(workspace)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        order=st.permutations(MIDNIGHT),
        cuts=st.lists(st.integers(min_value=1, max_value=len(MIDNIGHT) - 1), max_size=6),
        repeat=st.lists(st.integers(0, len(MIDNIGHT) - 1), max_size=4),
    )
    def test_split_and_resent_batches_leave_the_rollups_of_the_final_rows(self, order, cuts, repeat):
        workspace = ingest_in_batches(order, cuts)
        ingest_batch(workspace, [order[i] for i in repeat])
        # The same events under new ids: folded again, a model call's retry kept once.
        ingest_batch(workspace, [{**order[i], "id": f"{order[i]['id']}-again"} for i in repeat])
        self.assert_rollups_current(workspace)
