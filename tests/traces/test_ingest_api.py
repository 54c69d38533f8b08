import gzip
import json
from decimal import Decimal

from django.test import TestCase, override_settings
from django.utils import timezone

from metrics.models import TrackedEvent
from tests.events import event, post_batch, workflow_run
from tests.factories import make_api_key, make_workspace
from traces.models import Agent, ChatMessage, Event, ModelCall, ModelPrice, Run, Session, Task


class IngestTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def send(self, events, **extra):
        return post_batch(self.client, self.key, events, **extra)

    def run_row(self, run_id="r1"):
        return Run.objects.get(workspace=self.workspace, run_id=run_id)


class RunLifecycleTest(IngestTestCase):
    def test_it_folds_a_run_start_into_a_run_with_its_agent_and_session(self):
        response = self.send(
            [
                event(
                    "run.start",
                    {
                        "run_id": "r1",
                        "agent_id": "bot",
                        "session_id": "s1",
                        "user_id": "u1",
                        "workflow": "triage",
                        "input": {"q": "hi"},
                        "tags": ["a"],
                        "metadata": {"env": "prod"},
                        "region": "eu",
                    },
                )
            ]
        )
        self.assertEqual(response.status_code, 200)
        run = self.run_row()
        self.assertEqual(run.status, "running")
        self.assertEqual(run.agent.agent_id, "bot")
        self.assertEqual(run.session.session_id, "s1")
        self.assertEqual(run.workflow, "triage")
        self.assertEqual(run.input, {"q": "hi"})
        self.assertEqual(run.tags, ["a"])
        self.assertEqual(run.metadata, {"env": "prod", "region": "eu"})
        self.assertEqual(len(run.invocation_id), 8)
        self.assertEqual(run.session.user_id, "u1")

    def test_it_keeps_a_given_invocation_id(self):
        self.send([event("run.start", {"run_id": "r1", "agent_id": "bot", "invocation_id": "abcd1234"})])
        self.assertEqual(self.run_row().invocation_id, "abcd1234")

    def test_it_completes_a_run_with_its_output_and_duration(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot"}, at=0),
                event("run.complete", {"run_id": "r1", "output": "done"}, at=2.5),
            ]
        )
        run = self.run_row()
        self.assertEqual((run.status, run.output, run.duration_ms), ("completed", "done", 2500))
        self.assertEqual(run.ended_at - run.started_at, timezone.timedelta(seconds=2.5))

    def test_it_fails_a_run_with_its_error(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot"}, at=0),
                event("run.failed", {"run_id": "r1", "error": {"message": "boom"}}, at=1),
            ]
        )
        run = self.run_row()
        self.assertEqual((run.status, run.error), ("failed", {"message": "boom"}))

    def test_it_pauses_and_resumes_a_run(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot"}, at=0),
                event("run.paused", {"run_id": "r1", "reason": "waiting for approval"}, at=1),
            ]
        )
        self.assertEqual(self.run_row().status, "paused")
        self.assertIsNone(self.run_row().ended_at)
        self.send([event("run.resumed", {"run_id": "r1"}, at=2)])
        self.assertEqual(self.run_row().status, "running")

    def test_a_checkpoint_sets_state_and_trace_and_the_latest_one_wins(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot"}, at=0),
                event("state.checkpoint", {"run_id": "r1", "state": {"n": 2}, "trace": ["a", "b"]}, at=2),
            ]
        )
        self.send([event("state.checkpoint", {"run_id": "r1", "state": {"n": 1}, "trace": ["a"]}, at=1)])
        run = Run.objects.get(run_id="r1")
        self.assertEqual((run.state, run.trace), ({"n": 2}, ["a", "b"]))

    def test_without_a_checkpoint_the_trace_is_the_top_level_tasks_in_start_order(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot"}, at=0),
                event("step.start", {"run_id": "r1", "step_id": "b", "name": "second"}, at=2),
                event("step.start", {"run_id": "r1", "step_id": "a", "name": "first"}, at=1),
                event(
                    "step.start", {"run_id": "r1", "step_id": "c", "name": "child", "parent_id": "a"}, at=1.5
                ),
            ]
        )
        self.assertEqual(self.run_row().trace, ["first", "second"])

    def test_an_agent_upsert_creates_and_updates_the_agent(self):
        self.send([event("agent.upsert", {"agent_id": "bot", "name": "Bot", "mode": "standard"}, at=1)])
        self.send([event("agent.upsert", {"agent_id": "bot", "name": "Old name"}, at=0)])
        agent = Agent.objects.get(workspace=self.workspace, agent_id="bot")
        self.assertEqual((agent.name, agent.mode), ("Bot", "standard"))


class StepsTest(IngestTestCase):
    def test_steps_become_tasks_with_hierarchy_sequence_status_and_duration(self):
        self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot"}, at=0),
                event(
                    "step.start", {"run_id": "r1", "step_id": "p", "name": "plan", "type": "condition"}, at=1
                ),
                event("step.start", {"run_id": "r1", "step_id": "c", "name": "act", "parent_id": "p"}, at=2),
                event("step.ok", {"run_id": "r1", "step_id": "c", "output": {"x": 1}}, at=2.25),
                event("step.failed", {"run_id": "r1", "step_id": "p", "error": "bad"}, at=3),
            ]
        )
        plan, act = Task.objects.filter(run__run_id="r1").order_by("sequence")
        self.assertEqual(
            (plan.sequence, plan.type, plan.status, plan.error), (1, "condition", "failed", "bad")
        )
        self.assertEqual((act.sequence, act.parent_id, act.status, act.output), (2, plan.pk, "ok", {"x": 1}))
        self.assertEqual((plan.duration_ms, act.duration_ms), (2000, 250))

    def test_a_retry_keeps_its_attempt_number(self):
        self.send([event("step.start", {"run_id": "r1", "step_id": "s2", "name": "pay", "attempt": 2})])
        self.assertEqual(Task.objects.get(step_id="s2").attempt, 2)

    def test_tool_calls_become_tool_tasks(self):
        self.send(
            [
                event(
                    "tool.call", {"run_id": "r1", "step_id": "t", "tool": "search", "args": {"q": "x"}}, at=0
                ),
                event("tool.failed", {"run_id": "r1", "step_id": "t", "error": "timeout"}, at=1),
                event("tool.call", {"run_id": "r1", "step_id": "t2", "tool": "search"}, at=2),
                event("tool.ok", {"run_id": "r1", "step_id": "t2", "result": [1, 2]}, at=3),
            ]
        )
        failed, ok = Task.objects.filter(run__run_id="r1").order_by("sequence")
        self.assertEqual(
            (failed.type, failed.name, failed.input, failed.status), ("tool", "search", {"q": "x"}, "failed")
        )
        self.assertEqual((ok.status, ok.output), ("ok", [1, 2]))

    def test_gates_wait_then_are_approved_or_rejected(self):
        self.send(
            [
                event("gate.waiting", {"run_id": "r1", "step_id": "g1", "name": "approve refund"}, at=0),
                event("gate.waiting", {"run_id": "r1", "step_id": "g2", "name": "approve"}, at=0),
                event("gate.waiting", {"run_id": "r1", "step_id": "g3", "name": "approve"}, at=0),
                event("gate.approved", {"run_id": "r1", "step_id": "g2", "approver": "kim"}, at=5),
                event("gate.rejected", {"run_id": "r1", "step_id": "g3", "comment": "too much"}, at=5),
            ]
        )
        gates = {t.step_id: t for t in Task.objects.filter(run__run_id="r1")}
        self.assertEqual(gates["g1"].status, "waiting")
        self.assertIsNone(gates["g1"].ended_at)
        self.assertEqual((gates["g2"].status, gates["g2"].metadata), ("approved", {"approver": "kim"}))
        self.assertEqual(gates["g3"].status, "rejected")
        self.assertEqual({g.type for g in gates.values()}, {"gate"})

    def test_a_log_event_is_a_finished_custom_span(self):
        self.send(
            [
                event(
                    "log",
                    {
                        "run_id": "r1",
                        "step_id": "l",
                        "name": "retrieved",
                        "level": "debug",
                        "output": [1],
                        "k": 1,
                    },
                )
            ]
        )
        task = Task.objects.get(step_id="l")
        self.assertEqual((task.type, task.status, task.output), ("custom", "ok", [1]))
        self.assertEqual(task.metadata, {"level": "debug", "k": 1})


class ModelCallsTest(IngestTestCase):
    def test_llm_calls_become_model_calls_and_roll_up_to_task_run_and_session(self):
        self.send(workflow_run("r1", steps=2))
        run = self.run_row()
        self.assertEqual(run.model_calls, 2)
        self.assertEqual((run.prompt_tokens, run.completion_tokens, run.total_tokens), (201, 40, 241))
        self.assertEqual(run.cost, Decimal("0.0022"))
        call = ModelCall.objects.get(call_id="r1-step-0-llm")
        self.assertEqual(
            (call.model, call.provider, call.latency_ms, call.task.step_id),
            ("gpt-4o", "openai", 812, "r1-step-0"),
        )
        self.assertEqual(call.task.total_tokens, 120)
        session = Session.objects.get(session_id="s-1")
        self.assertEqual((session.total_tokens, session.cost, session.run_count), (241, Decimal("0.0022"), 1))

    def test_cost_comes_from_the_price_table_when_the_client_sends_none(self):
        ModelPrice.objects.create(model_pattern="gpt-4o*", input_per_million=2, output_per_million=8)
        ModelPrice.objects.create(
            workspace=self.workspace,
            model_pattern="gpt-4o-mini",
            input_per_million=1,
            output_per_million=4,
            cached_per_million=Decimal("0.5"),
        )
        self.send(
            [
                event(
                    "llm.call",
                    {"run_id": "r1", "model": "gpt-4o", "prompt_tokens": 1000, "completion_tokens": 500},
                ),
                event(
                    "llm.call",
                    {
                        "run_id": "r1",
                        "model": "gpt-4o-mini",
                        "prompt_tokens": 1000,
                        "cached_tokens": 400,
                        "completion_tokens": 1000,
                    },
                ),
                event("llm.call", {"run_id": "r1", "model": "unknown-model", "prompt_tokens": 10}),
            ]
        )
        costs = {c.model: c.cost for c in ModelCall.objects.all()}
        self.assertEqual(costs["gpt-4o"], Decimal("0.006"))
        self.assertEqual(costs["gpt-4o-mini"], Decimal("0.0048"))
        self.assertIsNone(costs["unknown-model"])  # no price: unknown, not $0

    def test_a_call_that_arrives_before_its_step_is_linked_when_the_step_comes(self):
        self.send(
            [event("llm.call", {"run_id": "r1", "step_id": "s", "model": "m", "prompt_tokens": 5}, at=1)]
        )
        self.send([event("step.start", {"run_id": "r1", "step_id": "s", "name": "think"}, at=0)])
        task = Task.objects.get(step_id="s")
        self.assertEqual(task.model_calls.count(), 1)
        self.assertEqual(task.total_tokens, 5)

    def test_an_error_marks_the_call_status(self):
        self.send([event("llm.call", {"run_id": "r1", "model": "m", "error": "rate limited"})])
        self.assertEqual(ModelCall.objects.get().status, "error")


class ConversationTest(IngestTestCase):
    def test_messages_become_ordered_turns_with_session_previews(self):
        self.send(
            [
                event(
                    "message",
                    {"session_id": "s1", "role": "assistant", "content": {"type": "text", "text": "Hi!"}},
                    at=2,
                ),
                event("message", {"session_id": "s1", "role": "user", "content": "Hello   there\n"}, at=1),
                event(
                    "message",
                    {"session_id": "s1", "role": "tool", "content": {"type": "json", "data": [1]}},
                    at=3,
                ),
            ]
        )
        turns = list(ChatMessage.objects.filter(session__session_id="s1").order_by("sequence"))
        self.assertEqual([t.role for t in turns], ["user", "assistant", "tool"])
        self.assertEqual([t.sequence for t in turns], [1, 2, 3])
        session = Session.objects.get(session_id="s1")
        self.assertEqual(
            (session.message_count, session.last_user_text, session.last_assistant_text),
            (3, "Hello there", "Hi!"),
        )

    def test_a_turn_that_arrives_late_takes_its_place_by_time(self):
        self.send([event("message", {"session_id": "s1", "role": "user", "content": "b"}, at=2)])
        self.send([event("message", {"session_id": "s1", "role": "user", "content": "a"}, at=1)])
        turns = ChatMessage.objects.filter(session__session_id="s1").order_by("sequence")
        self.assertEqual([t.content for t in turns], ["a", "b"])
        self.assertEqual(Session.objects.get(session_id="s1").last_user_text, "b")

    def test_an_unknown_role_is_kept_as_custom(self):
        self.send([event("message", {"session_id": "s1", "role": "Critic", "content": "hm"})])
        message = ChatMessage.objects.get()
        self.assertEqual((message.role, message.metadata), ("custom", {"role": "Critic"}))

    def test_a_failed_run_marks_its_conversation(self):
        self.send(workflow_run("r1", session_id="s9", fail=True))
        self.assertTrue(Session.objects.get(session_id="s9").has_error)

    def test_track_events_become_business_events(self):
        self.send(
            [event("track", {"name": "ticket_resolved", "properties": {"minutes": 4}, "session_id": "s1"})]
        )
        tracked = TrackedEvent.objects.get()
        self.assertEqual(
            (tracked.name, tracked.properties, tracked.session.session_id),
            ("ticket_resolved", {"minutes": 4}, "s1"),
        )


class BatchResultsTest(IngestTestCase):
    def test_every_event_is_kept_in_the_log_with_microseconds(self):
        self.send([event("run.start", {"run_id": "r1", "agent_id": "bot"}, at=1.000123)])
        stored = Event.objects.get()
        self.assertEqual(stored.timestamp.microsecond, 123)
        self.assertEqual(
            (stored.type, stored.run.run_id, stored.payload["agent_id"]), ("run.start", "r1", "bot")
        )

    def test_a_duplicate_id_is_stored_once_in_one_batch_and_across_batches(self):
        first = event("run.start", {"run_id": "r1", "agent_id": "bot"}, event_id="same")
        response = self.send([first, first])
        self.assertEqual([r["status"] for r in response.json()["results"]], ["accepted", "duplicate"])
        response = self.send([first])
        self.assertEqual(response.json()["duplicates"], 1)
        self.assertEqual(Event.objects.count(), 1)
        self.assertEqual(Run.objects.count(), 1)

    def test_valid_events_are_stored_when_others_are_rejected_and_the_field_is_named(self):
        response = self.send(
            [
                event("run.start", {"run_id": "r1", "agent_id": "bot"}),
                event("run.start", {"agent_id": "bot"}),
                event("step.start", {"run_id": "r1", "step_id": "s", "name": "x", "type": "banana"}),
                {"id": "x", "type": "no.such", "timestamp": "2026-01-01T00:00:00Z", "body": {}},
                {"id": "y", "type": "run.start", "timestamp": "2026-01-01T00:00:00", "body": {}},
                "not an object",
            ]
        )
        self.assertEqual(response.status_code, 207)
        results = response.json()["results"]
        self.assertEqual(results[0]["status"], "accepted")
        self.assertEqual((results[1]["field"], results[1]["status"]), ("body.run_id", "rejected"))
        self.assertEqual(results[2]["field"], "body.type")
        self.assertEqual(results[3]["field"], "type")
        self.assertIn("no.such", results[3]["reason"])
        self.assertEqual(results[4]["field"], "timestamp")
        self.assertEqual(results[5]["field"], "event")
        self.assertEqual(Run.objects.count(), 1)

    def test_the_answer_has_every_field_of_each_result_in_the_schema_order(self):
        first = event("run.start", {"run_id": "r1", "agent_id": "bot"}, event_id="é1")
        response = self.send([first, first, event("run.start", {"agent_id": "bot"}, event_id="e2")])
        self.assertEqual(
            (response.status_code, response["Content-Type"]), (207, "application/json; charset=utf-8")
        )
        self.assertEqual(
            response.content.decode(),
            '{"accepted": 1, "duplicates": 1, "rejected": 1, "results": ['
            '{"index": 0, "id": "é1", "status": "accepted", "field": null, "reason": null}, '
            '{"index": 1, "id": "é1", "status": "duplicate", "field": null, "reason": null}, '
            '{"index": 2, "id": "e2", "status": "rejected", "field": "body.run_id", '
            '"reason": "Field required"}]}',
        )

    def test_a_batch_where_every_event_is_rejected_answers_400(self):
        response = self.send([event("run.start", {})])
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["rejected"], 1)

    def test_an_empty_batch_is_fine(self):
        response = self.send([])
        self.assertEqual((response.status_code, response.json()["accepted"]), (200, 0))

    def test_a_body_that_is_not_json_or_not_a_batch_answers_400(self):
        headers = {"Authorization": f"Bearer {self.key}"}
        for body in ["{nope", "[]", '{"events": []}', '{"batch": {}}', "\xff"]:
            response = self.client.post(
                "/api/v1/ingest", body, content_type="application/json", headers=headers
            )
            self.assertEqual(response.status_code, 400, body)
            self.assertIn("field", response.json())

    @override_settings(INGEST_MAX_EVENTS=3)
    def test_too_many_events_answers_413(self):
        response = self.send([event("run.start", {"run_id": f"r{i}", "agent_id": "b"}) for i in range(4)])
        self.assertEqual(response.status_code, 413)
        self.assertEqual(Run.objects.count(), 0)

    @override_settings(INGEST_MAX_BYTES=2000)
    def test_a_body_over_the_size_limit_answers_413(self):
        response = self.send([event("run.start", {"run_id": "r", "agent_id": "b", "input": "x" * 3000})])
        self.assertEqual(response.status_code, 413)

    def test_the_default_limits_are_1000_events_and_5_mb(self):
        from django.conf import settings

        self.assertEqual((settings.INGEST_MAX_EVENTS, settings.INGEST_MAX_BYTES), (1000, 5 * 1024 * 1024))

    def test_a_gzipped_body_is_accepted(self):
        body = gzip.compress(
            json.dumps({"batch": [event("run.start", {"run_id": "r1", "agent_id": "b"})]}).encode()
        )
        response = self.client.post(
            "/api/v1/ingest",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.key}", "Content-Encoding": "gzip"},
        )
        self.assertEqual(response.status_code, 200)

    def test_unicode_html_nul_and_lone_surrogates_are_stored_as_text(self):
        content = "naïve 日本語 😀 <script>alert(1)</script> \x00 end"
        body = json.dumps(
            {
                "batch": [
                    event("message", {"session_id": "s1", "role": "user", "content": content}),
                    event("message", {"session_id": "s1", "role": "user", "content": "x"}),
                ]
            }
        )
        body = body.replace('"x"', '"\\ud800"')
        response = self.client.post(
            "/api/v1/ingest",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(response.status_code, 200, response.content)
        stored = ChatMessage.objects.order_by("sequence").first().content
        self.assertEqual(stored, content.replace("\x00", "\ufffd"))

    def test_unstorable_text_in_any_form_a_json_body_can_carry_is_stored_as_text(self):
        # An upper-case escape, and a surrogate's raw bytes, which json.loads lets through.
        body = json.dumps(
            {
                "batch": [
                    event("message", {"session_id": "s1", "role": "user", "content": f"<{n}>"})
                    for n in (1, 2)
                ]
            }
        ).encode()
        body = body.replace(b"<1>", b"a\\uD800b").replace(b"<2>", b"c\xed\xa0\x80d")
        response = self.client.post(
            "/api/v1/ingest",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(response.status_code, 200, response.content)
        stored = list(ChatMessage.objects.order_by("content").values_list("content", flat=True))
        self.assertEqual(stored, ["a?b", "c?d"])  # as make_storable replaces them

    def test_nan_and_infinity_in_payloads_are_stored_as_null(self):
        # json.loads reads them; PostgreSQL's JSON has no such numbers.
        batch = [
            event("run.start", {"run_id": "r1", "agent_id": "bot", "input": {"x": "<nan>"}}),
            event("step.start", {"run_id": "r1", "step_id": "s", "name": "n", "input": ["<inf>"]}),
            event("llm.call", {"run_id": "r1", "step_id": "s", "model": "m", "request": {"t": "<-inf>"}}),
        ]
        body = json.dumps({"batch": batch})
        body = body.replace('"<nan>"', "NaN").replace('"<inf>"', "Infinity").replace('"<-inf>"', "-Infinity")
        response = self.client.post(
            "/api/v1/ingest",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(self.run_row().input, {"x": None})
        self.assertEqual(Task.objects.get().input, [None])
        self.assertEqual(ModelCall.objects.get().request, {"t": None})
        self.assertEqual(Event.objects.get(type="run.start").payload["input"], {"x": None})


class AuthTest(IngestTestCase):
    def test_without_a_key_it_answers_401(self):
        response = self.client.post("/api/v1/ingest", {"batch": []}, content_type="application/json")
        self.assertEqual(response.status_code, 401)

    def test_a_wrong_or_revoked_key_answers_401(self):
        api_key, raw = make_api_key(self.workspace)
        api_key.revoked_at = timezone.now()
        api_key.save()
        for key in [raw, "bo_nope", "nope"]:
            response = post_batch(self.client, key, [])
            self.assertEqual(response.status_code, 401, key)

    def test_an_expired_key_answers_401(self):
        api_key, raw = make_api_key(self.workspace)
        api_key.expires_at = timezone.now() - timezone.timedelta(seconds=1)
        api_key.save()
        self.assertEqual(post_batch(self.client, raw, []).status_code, 401)

    def test_the_key_decides_the_workspace_and_notes_its_use(self):
        other = make_workspace()
        api_key, other_key = make_api_key(other)
        post_batch(self.client, other_key, [event("run.start", {"run_id": "r1", "agent_id": "b"})])
        self.assertEqual(Run.objects.get().workspace, other)
        api_key.refresh_from_db()
        self.assertIsNotNone(api_key.last_used_at)

    def test_the_same_ids_in_two_workspaces_are_two_runs(self):
        other = make_workspace()
        _, other_key = make_api_key(other)
        same = event("run.start", {"run_id": "r1", "agent_id": "b"}, event_id="e1")
        self.send([same])
        post_batch(self.client, other_key, [same])
        self.assertEqual(Run.objects.filter(run_id="r1").count(), 2)
