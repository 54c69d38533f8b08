"""Bad input at POST /api/v1/ingest: each bad event is rejected by itself naming its field, the rest of
its batch is stored, and what is stored never breaks a page."""

import json

from django.test import TestCase
from django.urls import reverse

from metrics.models import TrackedEvent
from tests.events import event, post_batch
from tests.factories import make_api_key, make_cast, make_workspace
from traces.models import ChatMessage, Event, ModelCall, Run, Session, Task


class BadInputTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)
        cls.cast = make_cast(cls.workspace)

    def send(self, events):
        return post_batch(self.client, self.key, events)

    def send_text(self, text):
        return self.client.post(
            "/api/v1/ingest",
            text,
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.key}"},
        )

    def assert_rejected(self, bad, field, reason_part=""):
        """`bad` is rejected naming `field`, and a good event sent beside it is stored."""
        good = event("run.start", {"run_id": "good-run", "agent_id": "bot"})
        response = self.send([good, bad])
        self.assertEqual(response.status_code, 207, response.content)
        results = response.json()["results"]
        self.assertEqual(results[0]["status"], "accepted")
        self.assertEqual(results[1]["status"], "rejected", results[1])
        self.assertEqual(results[1]["field"], field, results[1])
        self.assertIn(reason_part, results[1]["reason"])
        self.assertTrue(Run.objects.filter(workspace=self.workspace, run_id="good-run").exists())
        return results[1]


class TimestampRangeTest(BadInputTestCase):
    def test_a_time_past_the_accepted_range_is_rejected_naming_timestamp(self):
        for stamp in ("9999-12-31T20:00:00-05:00", "2200-01-01T00:00:00+00:00", "1969-12-31T23:59:59+00:00"):
            bad = event("run.start", {"run_id": "r-late", "agent_id": "bot"})
            bad["timestamp"] = stamp
            with self.subTest(stamp=stamp):
                self.assert_rejected(bad, "timestamp", "1970")
        self.assertFalse(Run.objects.filter(run_id="r-late").exists())

    def test_an_offset_of_24_hours_is_rejected_naming_timestamp(self):
        bad = event("step.start", {"run_id": "r1", "step_id": "s", "name": "n"})
        bad["timestamp"] = "2026-01-01T00:00:00+24:00"
        self.assert_rejected(bad, "timestamp")

    def test_a_track_event_out_of_range_is_rejected_too(self):
        bad = event("track", {"name": "signup"})
        bad["timestamp"] = "9999-12-31T23:00:00+00:00"
        self.assert_rejected(bad, "timestamp")
        self.assertFalse(TrackedEvent.objects.exists())

    def test_the_last_accepted_times_leave_the_runs_page_and_the_run_api_working(self):
        events = [
            event("run.start", {"run_id": "r-edge", "agent_id": "bot"}),
            event("run.complete", {"run_id": "r-edge", "output": "ok"}),
        ]
        events[0]["timestamp"] = "2199-12-31T23:59:59.999999+00:00"
        events[1]["timestamp"] = "2199-12-31T23:59:59.999999+00:00"
        self.assertEqual(self.send(events).status_code, 200)
        self.client.force_login(self.cast["viewer"])
        for url in (
            reverse("traces:run_list", args=[self.workspace.slug]),
            reverse("traces:run_list", args=[self.workspace.slug]) + "?since=2199-12-01&until=2199-12-31",
            reverse("traces:run_detail", args=[self.workspace.slug, "r-edge"]),
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 200)
        response = self.client.get("/api/v1/runs/r-edge", headers={"Authorization": f"Bearer {self.key}"})
        self.assertEqual(response.status_code, 200)


class LinkIdTest(BadInputTestCase):
    def test_a_session_id_too_long_or_not_a_string_is_rejected_on_types_that_do_not_declare_it(self):
        for value, reason in (("s" * 201, "200"), ({"a": 1}, "string"), (7, "string")):
            for type_, body in (
                ("step.start", {"run_id": "r1", "step_id": "s1", "name": "n"}),
                ("tool.ok", {"run_id": "r1", "step_id": "s1"}),
            ):
                with self.subTest(type=type_, value=str(value)[:10]):
                    self.assert_rejected(
                        event(type_, {**body, "session_id": value}), "body.session_id", reason
                    )
        self.assertFalse(Session.objects.exists())

    def test_every_link_an_event_may_carry_is_checked_on_any_type(self):
        for field in ("run_id", "agent_id", "user_id", "step_id", "workflow"):
            bad = event("track", {"name": "x", field: "x" * 201})
            with self.subTest(field=field):
                self.assert_rejected(bad, f"body.{field}", "200")

    def test_a_provider_longer_than_its_column_is_rejected(self):
        bad = event("llm.call", {"run_id": "r1", "model": "m", "provider": "p" * 150})
        self.assert_rejected(bad, "body.provider", "100")
        self.assertFalse(ModelCall.objects.exists())

    def test_every_text_field_of_the_schema_fits_its_column(self):
        too_long = {
            ("llm.call", "model"): {"run_id": "r1"},
            ("llm.call", "finish_reason"): {"run_id": "r1", "model": "m"},
            ("llm.call", "status"): {"run_id": "r1", "model": "m"},
            ("step.start", "name"): {"run_id": "r1", "step_id": "s"},
            ("tool.call", "tool"): {"run_id": "r1", "step_id": "s"},
            ("gate.waiting", "name"): {"run_id": "r1", "step_id": "s"},
            ("agent.upsert", "name"): {"agent_id": "a"},
            ("track", "name"): {},
            ("run.start", "invocation_id"): {"run_id": "r1", "agent_id": "a"},
        }
        for (type_, field), body in too_long.items():
            with self.subTest(type=type_, field=field):
                self.assert_rejected(event(type_, {**body, field: "x" * 201}), f"body.{field}")

    def test_an_event_id_with_a_nul_is_rejected_naming_id(self):
        bad = event("track", {"name": "x"}, event_id="e\x00vil")
        self.assert_rejected(bad, "id", "NUL")

    def test_a_user_id_may_hold_control_characters_but_not_nul(self):
        self.assert_rejected(event("track", {"name": "x", "user_id": "u\x00"}), "body.user_id", "NUL")
        response = self.send([event("run.start", {"run_id": "r1", "agent_id": "a", "user_id": "u\x1b[31m"})])
        self.assertEqual(response.status_code, 200, response.content)


class NulTest(BadInputTestCase):
    def test_nul_in_payloads_metadata_properties_and_errors_is_stored_as_a_replacement_character(self):
        nul = "a\x00b"
        events = [
            event("run.start", {"run_id": "r1", "agent_id": "bot", "session_id": "s1", "input": {nul: nul}}),
            event("run.failed", {"run_id": "r1", "error": {"message": nul}}),
            event("step.start", {"run_id": "r1", "step_id": "t", "name": nul, "input": [nul]}),
            event("step.ok", {"run_id": "r1", "step_id": "t", "output": nul, "extra": nul}),
            event("message", {"session_id": "s1", "role": "user", "content": nul, "metadata": {"k": nul}}),
            event("track", {"name": "x", "properties": {"p": nul}}),
            event("llm.call", {"run_id": "r1", "model": "m", "request": {"q": nul}, "error": nul}),
        ]
        response = self.send(events)
        self.assertEqual(response.status_code, 200, response.content)
        fixed = "a\ufffdb"
        run = Run.objects.get(run_id="r1")
        self.assertEqual((run.input, run.error), ({fixed: fixed}, {"message": fixed}))
        task = Task.objects.get(step_id="t")
        self.assertEqual((task.name, task.input, task.output), (fixed, [fixed], fixed))
        self.assertEqual(task.metadata["extra"], fixed)
        message = ChatMessage.objects.get()
        self.assertEqual((message.content, message.metadata), (fixed, {"k": fixed}))
        self.assertEqual(TrackedEvent.objects.get().properties, {"p": fixed})
        self.assertEqual(
            (ModelCall.objects.get().request, ModelCall.objects.get().error), ({"q": fixed}, fixed)
        )
        self.assertNotIn("\\u0000", json.dumps(list(Event.objects.values_list("payload", flat=True))))

    def test_nul_in_an_id_is_rejected_naming_it(self):
        for field in ("run_id", "session_id", "step_id"):
            bad = event("step.start", {"run_id": "r1", "step_id": "s", "name": "n", field: "x\x00y"})
            with self.subTest(field=field):
                self.assert_rejected(bad, f"body.{field}", "control")


class DepthTest(BadInputTestCase):
    @staticmethod
    def nested(levels):
        value = "leaf"
        for _ in range(levels):
            value = {"k": value}
        return value

    def test_a_payload_nested_past_the_limit_is_rejected_naming_its_field(self):
        for levels in (65, 300, 900):
            bad = event("step.start", {"run_id": "r1", "step_id": "s", "name": "n", "input": "<deep>"})
            good = event("run.start", {"run_id": "good-run", "agent_id": "bot"})
            text = json.dumps({"batch": [good, bad]})
            text = text.replace('"<deep>"', '{"k": ' * levels + "1" + "}" * levels)
            with self.subTest(levels=levels):
                response = self.send_text(text)
                self.assertEqual(response.status_code, 207, response.content)
                results = response.json()["results"]
                self.assertEqual(results[0]["status"], "accepted")
                self.assertEqual((results[1]["field"], results[1]["status"]), ("body.input", "rejected"))
                self.assertIn("64", results[1]["reason"])

    def test_a_payload_nested_to_the_limit_is_stored(self):
        response = self.send(
            [event("run.start", {"run_id": "r1", "agent_id": "b", "input": self.nested(64)})]
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(Run.objects.get().input, self.nested(64))

    def test_a_body_nested_past_what_json_can_read_is_a_400_naming_body(self):
        text = '{"batch": [' + "[" * 5000 + "]" * 5000 + "]}"
        response = self.send_text(text)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["field"], "body")


class NumberTest(BadInputTestCase):
    def test_nan_and_infinity_in_track_properties_are_stored_as_null(self):
        body = json.dumps(
            {"batch": [event("track", {"name": "score", "properties": {"a": "<nan>", "b": "<inf>"}})]}
        )
        response = self.send_text(body.replace('"<nan>"', "NaN").replace('"<inf>"', "-Infinity"))
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(TrackedEvent.objects.get().properties, {"a": None, "b": None})
        self.assertEqual(Event.objects.get().payload["properties"], {"a": None, "b": None})

    def test_nan_in_metadata_and_extras_is_stored_as_null(self):
        text = json.dumps(
            {
                "batch": [
                    event(
                        "run.start",
                        {"run_id": "r1", "agent_id": "b", "metadata": {"m": "<nan>"}, "x": "<nan>"},
                    )
                ]
            }
        )
        response = self.send_text(text.replace('"<nan>"', "NaN"))
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(Run.objects.get().metadata, {"m": None, "x": None})

    def test_negative_and_oversized_counts_and_costs_are_rejected_naming_the_field(self):
        for field, value in (
            ("prompt_tokens", -1),
            ("completion_tokens", 10**13),
            ("cost", 10**18),
            ("cost", -1),
            ("latency_ms", -5),
        ):
            bad = event("llm.call", {"run_id": "r1", "model": "m", field: value})
            with self.subTest(field=field, value=value):
                self.assert_rejected(bad, f"body.{field}")
        self.assertFalse(ModelCall.objects.exists())
