"""Settings → Agents: an admin sets an agent's capture mode, limits and flags; what is stored is cut to
it, the search index too, and the audit log records it; the mode shows on the agent's runs."""

from django.test import TestCase

from backoffice.models import AuditEntry
from tests.events import event
from tests.factories import make_agent, make_cast, make_workspace
from traces.ingest import ingest_batch
from traces.ingest.policy import OMITTED
from traces.models import Agent, ChatMessage, Run, Task
from traces.search.query import matching

SECRET = "zanzibar"


def url(workspace, path=""):
    return f"/w/{workspace.slug}/settings/agents/{path}"


def values(**changes):
    return {
        "mode": "full",
        "max_input_chars": "4000",
        "max_output_chars": "4000",
        **changes,
    }


class AgentSettingsTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        ingest_batch(
            cls.workspace,
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot", "session_id": "s1", "input": SECRET}),
                event("step.start", {"run_id": "r1", "step_id": "t1", "name": "plan", "input": SECRET}, at=1),
                event("step.ok", {"run_id": "r1", "step_id": "t1", "output": f"{SECRET} done"}, at=2),
                event(
                    "message", {"session_id": "s1", "run_id": "r1", "role": "user", "content": SECRET}, at=1
                ),
            ],
        )
        cls.agent = Agent.objects.get(workspace=cls.workspace, agent_id="bot")

    def setUp(self):
        self.client.force_login(self.cast["admin"])

    def test_an_admin_sets_minimal_mode_and_what_is_stored_is_cut_and_audited(self):
        response = self.client.post(url(self.workspace, f"{self.agent.pk}/"), values(mode="minimal"))
        self.assertRedirects(response, url(self.workspace))
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.mode, "minimal")
        self.assertEqual(Run.objects.get(run_id="r1").input, OMITTED)
        self.assertEqual(Task.objects.get(step_id="t1").output, OMITTED)
        self.assertEqual(ChatMessage.objects.get().content, OMITTED)
        self.assertFalse(matching(self.workspace, SECRET).exists())
        entry = AuditEntry.objects.get(action="agent.capture_changed")
        self.assertEqual(entry.changes, {"mode": ["full", "minimal"]})
        self.assertEqual(entry.actor, self.cast["admin"])
        # An upsert sent before the change does not undo it.
        ingest_batch(
            self.workspace, [event("agent.upsert", {"agent_id": "bot", "name": "Bot", "mode": "full"})]
        )
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.mode, "minimal")

    def test_standard_with_flags_is_saved_and_saving_the_same_records_nothing(self):
        changed = values(mode="standard", max_output_chars="5", capture_tool_results="on")
        self.client.post(url(self.workspace, f"{self.agent.pk}/"), changed)
        self.agent.refresh_from_db()
        self.assertEqual((self.agent.mode, self.agent.max_output_chars), ("standard", 5))
        self.assertEqual((self.agent.capture_llm_payloads, self.agent.capture_tool_results), (False, True))
        self.assertEqual(Task.objects.get(step_id="t1").output, "zanzi… [truncated 8 chars]")
        self.client.post(url(self.workspace, f"{self.agent.pk}/"), changed)
        self.assertEqual(AuditEntry.objects.filter(action="agent.capture_changed").count(), 1)

    def test_bad_input_is_refused_naming_the_field(self):
        response = self.client.post(url(self.workspace, f"{self.agent.pk}/"), values(mode="everything"))
        self.assertContains(response, "Select a valid choice")
        response = self.client.post(url(self.workspace, f"{self.agent.pk}/"), values(max_input_chars="0"))
        self.assertContains(response, "Choose between 1 and 100,000,000 characters")
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.mode, "full")

    def test_only_admins_change_it_and_another_workspace_answers_404(self):
        for role in ("viewer", "reviewer"):
            with self.subTest(role=role):
                self.client.force_login(self.cast[role])
                response = self.client.post(url(self.workspace, f"{self.agent.pk}/"), values(mode="minimal"))
                self.assertEqual(response.status_code, 403)
        self.client.force_login(self.cast["admin"])
        other = make_agent(self.cast["other_workspace"])
        self.assertEqual(self.client.get(url(self.workspace, f"{other.pk}/")).status_code, 404)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.mode, "full")

    def test_the_form_has_csrf(self):
        self.assertContains(self.client.get(url(self.workspace, f"{self.agent.pk}/")), "csrfmiddlewaretoken")

    def test_the_list_costs_the_same_queries_for_few_and_many_agents_and_pages_by_keyset(self):
        self.client.get(url(self.workspace))  # warm the session and the workspace lookup
        with self.assertNumQueries(4):
            response = self.client.get(url(self.workspace))
        self.assertContains(response, "bot")
        for index in range(60):
            make_agent(self.workspace, agent_id=f"agent-{index:02d}", mode="minimal")
        with self.assertNumQueries(4):
            response = self.client.get(url(self.workspace))
        self.assertContains(response, "Later agents")
        after = response.context["page"].next
        response = self.client.get(url(self.workspace), {"after": after})
        self.assertContains(response, "agent-59")
        self.assertEqual(self.client.get(url(self.workspace), {"after": "nope"}).status_code, 400)

    def test_the_mode_shows_on_the_run_page_and_the_runs_list(self):
        Agent.objects.filter(pk=self.agent.pk).update(mode="minimal")
        run_page = self.client.get(f"/w/{self.workspace.slug}/runs/r1/")
        self.assertContains(run_page, 'class="badge capture-minimal"')
        runs = self.client.get(f"/w/{self.workspace.slug}/runs/")
        self.assertContains(runs, 'class="badge capture-minimal"')
