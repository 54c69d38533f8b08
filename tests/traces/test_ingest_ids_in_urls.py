"""Ids and names become URL path segments: ingest rejects the ones no page could be reached by ('/' and
control characters), and every page and API route reaches the others (reverse() encodes them)."""

from urllib.parse import quote

from django.test import TestCase
from django.urls import reverse

from tests.events import event, post_batch
from tests.factories import make_api_key, make_cast, make_review, make_workspace
from tests.urlwalk import routes
from traces.models import Run

ODD = "a ?#%&+é😀;="
RUN, SESSION, STEP, AGENT, WORKFLOW = (
    f"{kind} {ODD}" for kind in ("run", "session", "step", "agent", "flow")
)
WORKFLOW_PATH = f"{WORKFLOW}/with a slash"  # workflows/<path:workflow>/dag/ takes one
# What stands for each path parameter of the walked routes.
PARAMS = {"run_id": RUN, "session_id": SESSION, "task_id": STEP, "workflow": WORKFLOW_PATH}


class SlashAndControlCharactersTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)

    def test_an_id_with_a_slash_or_a_control_character_is_rejected_on_every_route_id(self):
        cases = [
            ("run.start", {"agent_id": "bot"}, "run_id"),
            ("run.start", {"run_id": "r1"}, "agent_id"),
            ("step.start", {"run_id": "r1", "name": "n"}, "step_id"),
            ("step.start", {"run_id": "r1", "step_id": "s", "name": "n"}, "parent_id"),
            ("message", {"role": "user", "content": "hi"}, "session_id"),
            ("run.start", {"run_id": "r1", "agent_id": "bot"}, "workflow"),
        ]
        for type_, body, field in cases:
            for value, reason in (("a/b", "'/'"), ("a\nb", "control"), ("a\x1fb", "control")):
                if field == "workflow" and value == "a/b":
                    continue  # a workflow name is a path of its own
                with self.subTest(field=field, value=value):
                    response = post_batch(self.client, self.key, [event(type_, {**body, field: value})])
                    self.assertEqual(response.status_code, 400, response.content)
                    result = response.json()["results"][0]
                    self.assertEqual(result["field"], f"body.{field}")
                    self.assertIn(reason, result["reason"])
        self.assertFalse(Run.objects.exists())


class OddCharactersReachEveryPageTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        _, cls.key = make_api_key(cls.workspace)
        cls.cast = make_cast(cls.workspace)
        batch = [
            event(
                "run.start",
                {"run_id": RUN, "agent_id": AGENT, "session_id": SESSION, "workflow": WORKFLOW_PATH},
            ),
            event("message", {"session_id": SESSION, "run_id": RUN, "role": "user", "content": "hi"}, at=0.1),
            event("step.start", {"run_id": RUN, "step_id": STEP, "name": "n"}, at=0.2),
            event("step.ok", {"run_id": RUN, "step_id": STEP, "output": 1}, at=0.3),
            event("llm.call", {"run_id": RUN, "step_id": STEP, "model": "m", "prompt_tokens": 1}, at=0.3),
            event("run.complete", {"run_id": RUN, "output": "ok"}, at=0.4),
        ]
        response = post_batch(cls.client_class(), cls.key, batch)
        assert response.status_code == 200, response.content
        cls.review = make_review(Run.objects.get(run_id=RUN))

    def test_every_page_whose_path_names_them_answers(self):
        self.client.force_login(self.cast["admin"])
        checked = 0
        for route in routes():
            if route.policy != "workspace" or not set(route.params) - {"workspace"}:
                continue
            values = {"workspace": self.workspace.slug, "review_id": self.review.pk, **PARAMS}
            if not set(route.params) <= set(values):
                continue
            url = reverse(route.name, kwargs={name: values[name] for name in route.params})
            with self.subTest(route=route.name):
                response = self.client.get(url)
                # A POST-only route answers 405 to a GET: reached all the same.
                self.assertIn(response.status_code, (200, 405), f"{url}: {response.status_code}")
                checked += 1
        self.assertGreater(checked, 10)

    def test_the_read_api_reaches_them(self):
        headers = {"Authorization": f"Bearer {self.key}"}
        for path in (
            f"runs/{quote(RUN, safe='')}",
            f"runs/{quote(RUN, safe='')}/tasks",
            f"sessions/{quote(SESSION, safe='')}",
        ):
            with self.subTest(path=path):
                response = self.client.get(f"/api/v1/{path}", headers=headers)
                self.assertEqual(response.status_code, 200, response.content)
        run = self.client.get(f"/api/v1/runs/{quote(RUN, safe='')}", headers=headers).json()
        self.assertEqual((run["run_id"], run["session_id"], run["agent_id"]), (RUN, SESSION, AGENT))
