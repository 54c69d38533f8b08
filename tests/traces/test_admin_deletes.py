"""Deleting trace rows in the Django admin leaves every roll-up as the stored rows make it: the daily
trace roll-ups, conversations' counts and previews, and runs' and tasks' token and cost totals."""

from django.test import TestCase

from tests.factories import make_user, make_workspace
from tests.world import populate
from traces.models import ChatMessage, ModelCall, Run, Session, Task
from traces.rollups import daily as trace_rollups


class AdminDeletesTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace(slug="acme")
        cls.target_run = populate(cls.workspace)
        cls.boss = make_user(is_staff=True, is_superuser=True)

    def setUp(self):
        self.client.force_login(self.boss)

    def delete(self, obj):
        model = obj._meta.model_name
        response = self.client.post(f"/admin/traces/{model}/{obj.pk}/delete/", {"post": "yes"})
        self.assertEqual(response.status_code, 302)
        self.assertFalse(type(obj).objects.filter(pk=obj.pk).exists())

    def delete_selected(self, model, objs):
        response = self.client.post(
            f"/admin/traces/{model._meta.model_name}/",
            {"action": "delete_selected", "_selected_action": [o.pk for o in objs], "post": "yes"},
        )
        self.assertEqual(response.status_code, 302)

    def assertRollupsRight(self):
        self.assertEqual(trace_rollups.differences(self.workspace), [])

    def session(self):
        return Session.objects.get(pk=self.target_run.session_id)

    def test_deleting_a_run_updates_its_conversation(self):
        self.assertEqual(self.session().run_count, 1)
        self.delete(self.target_run)
        self.assertRollupsRight()
        session = self.session()
        self.assertEqual((session.run_count, session.total_tokens, session.has_error), (0, 0, False))
        self.assertEqual(session.message_count, 2)

    def test_deleting_runs_in_bulk_updates_their_conversations(self):
        self.delete_selected(Run, [self.target_run])
        self.assertRollupsRight()
        self.assertEqual(self.session().run_count, 0)

    def test_deleting_a_model_call_updates_its_run_task_and_conversation(self):
        call = ModelCall.objects.get(run=self.target_run)
        self.assertEqual(Run.objects.get(pk=self.target_run.pk).total_tokens, 15)
        self.delete(call)
        self.assertRollupsRight()
        run = Run.objects.get(pk=self.target_run.pk)
        # No call left: no cost is known.
        self.assertEqual((run.model_calls, run.prompt_tokens, run.total_tokens, run.cost), (0, 0, 0, None))
        self.assertEqual(Task.objects.get(pk=call.task_id).total_tokens, 0)
        self.assertEqual(self.session().total_tokens, 0)

    def test_deleting_tasks_keeps_the_daily_rollups(self):
        self.delete_selected(Task, list(Task.objects.filter(run=self.target_run)))
        self.assertRollupsRight()
        self.assertEqual(Run.objects.get(pk=self.target_run.pk).total_tokens, 15)  # its calls stay

    def test_deleting_a_message_updates_its_conversation_and_renumbers_its_turns(self):
        first = ChatMessage.objects.get(session=self.target_run.session_id, role="user")
        self.delete(first)
        session = self.session()
        self.assertEqual(session.message_count, 1)
        self.assertEqual(session.last_user_text, "")
        self.assertEqual(
            list(ChatMessage.objects.filter(session=session).values_list("sequence", flat=True)), [1]
        )
        self.assertRollupsRight()

    def test_deleting_a_conversation_keeps_its_runs_and_the_rollups(self):
        self.delete(self.session())
        self.assertRollupsRight()
        self.assertIsNone(Run.objects.get(pk=self.target_run.pk).session)
