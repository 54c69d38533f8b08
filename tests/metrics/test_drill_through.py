"""Drill-through: every number of a card links to a list that holds exactly the rows it counted.

The data goes through ingest, so that the cards read the daily roll-ups for whole days and the rows for
the rest, as they do in production; each test renders a card, follows every link it carries (the value,
each point's customdata, the links under a chart) and counts the rows of the list it lands on.
"""

import html
import json
import re
from datetime import timedelta

from django.test import Client, TestCase
from django.utils import timezone

from metrics.engine import evaluate
from metrics.models import Dashboard, DashboardCard
from tests.events import event, post_batch
from tests.factories import make_api_key, make_cast, make_event, make_score, make_workspace
from traces.models import Run

DAY = 24 * 3600
COUNT = re.compile(r'<p class="list-count"[^>]*>(?:More than )?([\d,]+) (?:run|call|event|task|score)')


def ingest(client, raw_key):
    """Runs of two agents over six days: some failed, each with a model call and a business event."""
    events = [
        event("agent.upsert", {"agent_id": "a1", "name": "Alpha"}, at=-4 * DAY),
        event("agent.upsert", {"agent_id": "a2", "name": "Beta"}, at=-4 * DAY),
    ]
    for index in range(24):
        run_id = f"run-{index:03d}"
        at = -3 * DAY + index * 9000 + 0.123456  # every 2.5 hours, across day boundaries
        body = {
            "run_id": run_id,
            "agent_id": "a1" if index % 3 else "a2",
            "workflow": "checkout" if index % 4 else "refund",
            "metadata": {"tier": "gold" if index % 2 else "silver"},
        }
        events.append(event("run.start", body, at=at))
        # Two "charge" attempts and a "notify" step: several tasks per run.
        for step, (name, end) in enumerate(
            (("charge", "step.failed"), ("charge", "step.ok"), ("notify", "step.ok"))
        ):
            step_id = f"{run_id}-{step}"
            failed = end == "step.failed" and index % 2 == 0
            events.append(
                event(
                    "step.start",
                    {"run_id": run_id, "step_id": step_id, "name": name, "type": "tool"},
                    at=at + 0.1 + step,
                )
            )
            outcome = {"error": "timeout"} if failed else {"output": "ok"}
            events.append(
                event(
                    "step.failed" if failed else "step.ok",
                    {"run_id": run_id, "step_id": step_id, **outcome},
                    at=at + 0.5 + step,
                )
            )
        model = "gpt-a" if index % 2 else "gpt-b"
        call = {"run_id": run_id, "model": model, "provider": "openai", "prompt_tokens": 10 + index}
        if index % 5 == 0:
            call["status"] = "error"
        events.append(event("llm.call", call, at=at + 1))
        properties = {"plan": "pro" if index % 3 else "free", "amount": index * 5}
        events.append(
            event("track", {"name": "purchase", "properties": properties, "run_id": run_id}, at=at + 2)
        )
        if index % 4 == 1:
            events.append(event("run.failed", {"run_id": run_id, "error": "declined"}, at=at + 3 + index))
        else:
            events.append(event("run.complete", {"run_id": run_id}, at=at + 3 + index))
    response = post_batch(client, raw_key, events)
    assert response.status_code == 200, response.content


class DrillThroughTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        cls.cast = make_cast(cls.workspace)
        cls.dashboard = Dashboard.objects.create(
            workspace=cls.workspace, slug="ops", name="Ops", is_default=True
        )
        _, raw = make_api_key(cls.workspace)
        ingest(Client(), raw)

    def setUp(self):
        self.client.force_login(self.cast["viewer"])

    def card(self, **fields):
        defaults = {
            "title": "Card",
            "source": "runs",
            "aggregation": "count",
            "time_range": "7d",
            "bucket": "day",
        }
        return DashboardCard.objects.create(dashboard=self.dashboard, **{**defaults, **fields})

    def render(self, card):
        response = self.client.get(
            f"/w/{self.workspace.slug}/metrics/ops/cards/{card.pk}/", headers={"HX-Request": "true"}
        )
        self.assertEqual(response.status_code, 200)
        return response.text

    def listed(self, url):
        response = self.client.get(html.unescape(url))
        self.assertEqual(response.status_code, 200, url)
        found = COUNT.search(response.text)
        self.assertIsNotNone(found, url)
        return int(found[1].replace(",", ""))

    def figure(self, text, card):
        found = re.search(rf'<script id="chart-{card.pk}" type="application/json">(.*?)</script>', text, re.S)
        return json.loads(found[1])

    def value_link(self, text):
        found = re.search(r'<a class="drill" href="([^"]+)"', text)
        self.assertIsNotNone(found, "the value links to its rows")
        return found[1]

    def assert_points_match(self, card, expected=None):
        """Every point with a link lands on a list of as many rows as the point shows (or as `expected`
        says, for rates: the numerator's rows); returns how many points were followed."""
        text = self.render(card)
        figure = self.figure(text, card)
        followed = 0
        for trace in figure["data"]:
            values = trace["values"] if trace["type"] == "pie" else trace["y"]
            for index, url in enumerate(trace.get("customdata") or []):
                if url is None:
                    continue
                want = expected(trace, index) if expected else values[index]
                self.assertEqual(self.listed(url), want, (trace.get("name"), index, url))
                followed += 1
        self.assertGreater(followed, 0)
        # The links under the chart are the same URLs, for the keyboard.
        for url in re.findall(r'<a href="([^"]+)" data-drill>', text):
            self.assertIn(html.unescape(url), {u for t in figure["data"] for u in t.get("customdata") or []})
        return followed

    def test_a_number_card_over_runs_lands_on_its_runs(self):
        card = self.card(
            kind="number",
            filters=[
                {"property": "workflow", "operator": "eq", "value": "checkout"},
                {"property": "metadata.tier", "operator": "eq", "value": "gold"},
            ],
        )
        text = self.render(card)
        shown = evaluate(card, self.workspace, time_range=None).value
        self.assertGreater(shown, 0)
        self.assertEqual(self.listed(self.value_link(text)), shown)

    def test_numeric_rules_become_the_lists_exact_ranges(self):
        for operator, value in (("gt", "20.5"), ("gte", "21"), ("lt", "25"), ("lte", "24.9")):
            card = self.card(
                kind="number", filters=[{"property": "total_tokens", "operator": operator, "value": value}]
            )
            shown = evaluate(card, self.workspace).value
            self.assertGreater(shown, 0)
            self.assertEqual(self.listed(self.value_link(self.render(card))), shown, (operator, value))

    def test_a_rate_card_links_its_numerator_and_says_so(self):
        card = self.card(
            kind="rate",
            aggregation="rate",
            filters=[{"property": "agent", "operator": "eq", "value": "Alpha"}],
            condition=[{"property": "status", "operator": "eq", "value": "failed"}],
        )
        text = self.render(card)
        result = evaluate(card, self.workspace)
        self.assertIn("meet the condition", text)
        self.assertEqual(self.listed(self.value_link(text)), result.numerator)
        whole = re.search(r'<a href="([^"]+)" data-drill-whole>', text)[1]
        self.assertEqual(self.listed(whole), result.denominator)

    def test_each_bar_of_a_breakdown_lands_on_its_runs(self):
        card = self.card(kind="bar", breakdown="agent")
        self.assert_points_match(card)

    def test_each_point_of_a_line_by_status_lands_on_its_runs(self):
        card = self.card(kind="line", breakdown="status", bucket="hour", time_range="24h")
        self.card(kind="line", breakdown="status")  # and by day over the week, from the roll-ups
        for each in DashboardCard.objects.filter(dashboard=self.dashboard, kind="line"):
            if each.pk == card.pk and not evaluate(each, self.workspace).has_data:
                continue  # the last day may hold no run, whatever the hour the suite runs
            self.assert_points_match(each)

    def test_a_rate_chart_links_the_rows_that_meet_the_condition(self):
        condition = [{"property": "status", "operator": "eq", "value": "failed"}]
        card = self.card(kind="bar", aggregation="rate", condition=condition)
        counted = self.card(kind="bar", filters=condition)
        hits = evaluate(counted, self.workspace).series[0].values
        self.assert_points_match(card, expected=lambda trace, index: hits[index])

    def test_each_pie_slice_lands_on_its_runs(self):
        self.assert_points_match(self.card(kind="pie", breakdown="workflow"))

    def test_model_call_cards_land_on_the_model_calls_list(self):
        errors = [{"property": "status", "operator": "ne", "value": "ok"}]
        number = self.card(kind="number", source="model_calls", filters=errors)
        text = self.render(number)
        self.assertEqual(self.listed(self.value_link(text)), evaluate(number, self.workspace).value)
        self.assert_points_match(self.card(kind="bar", source="model_calls", breakdown="model"))
        self.assert_points_match(self.card(kind="pie", source="model_calls", breakdown="model"))

    def test_business_event_cards_land_on_the_events_list(self):
        rules = [
            {"property": "plan", "operator": "eq", "value": "pro"},
            {"property": "amount", "operator": "gte", "value": "20"},
        ]
        number = self.card(kind="number", source="events", event_name="purchase", filters=rules)
        text = self.render(number)
        shown = evaluate(number, self.workspace).value
        self.assertGreater(shown, 0)
        self.assertEqual(self.listed(self.value_link(text)), shown)
        self.assert_points_match(
            self.card(kind="bar", source="events", event_name="purchase", breakdown="plan")
        )
        self.assert_points_match(
            self.card(kind="pie", source="events", event_name="purchase", breakdown="plan")
        )

    def test_a_rule_the_runs_list_cannot_say_gives_no_link_rather_than_a_wrong_one(self):
        card = self.card(
            kind="number", filters=[{"property": "workflow", "operator": "contains", "value": "out"}]
        )
        self.assertNotIn('class="drill"', self.render(card))

    def test_task_cards_land_on_the_tasks_they_counted(self):
        # A run holds several tasks of a name: the Runs list would count runs, the tasks list counts tasks.
        failed = [{"property": "status", "operator": "ne", "value": "ok"}]
        number = self.card(kind="number", source="tasks", filters=failed)
        shown = evaluate(number, self.workspace).value
        self.assertGreater(shown, 0)
        self.assertEqual(self.listed(self.value_link(self.render(number))), shown)
        self.assert_points_match(self.card(kind="bar", source="tasks", breakdown="type"))

    def test_score_and_custom_event_cards_land_on_their_rows(self):
        runs = list(Run.objects.filter(workspace=self.workspace).order_by("id")[:6])
        now = timezone.now()
        for index, run in enumerate(runs):
            make_score(run, value=index, created_at=now - timedelta(hours=index * 7))
            make_score(run, name="tone", data_type="categorical", value=None, string_value="rude")
            make_event(
                run, type="custom.refund", payload={"amount": index}, timestamp=now - timedelta(hours=index)
            )
        low = [
            {"property": "name", "operator": "eq", "value": "helpfulness"},
            {"property": "value", "operator": "lt", "value": "4"},
        ]
        scores = self.card(kind="number", source="scores", filters=low)
        self.assertEqual(evaluate(scores, self.workspace).value, 4)
        self.assertEqual(self.listed(self.value_link(self.render(scores))), 4)
        self.assert_points_match(self.card(kind="pie", source="scores", breakdown="name"))
        refunds = self.card(
            kind="number",
            source="custom_events",
            event_name="custom.refund",
            filters=[{"property": "amount", "operator": "gte", "value": "2"}],
        )
        self.assertEqual(self.listed(self.value_link(self.render(refunds))), 4)
        self.assert_points_match(self.card(kind="bar", source="custom_events", event_name="custom.refund"))

    def test_bad_rules_and_bounds_answer_400_naming_the_field(self):
        base = f"/w/{self.workspace.slug}"
        for url, field in (
            (f"{base}/events/?where=plan:like:pro", "where"),
            (f"{base}/events/?where=amount:gt:lots", "where"),
            (f"{base}/runs/?start=yesterday", "start"),
            (f"{base}/runs/?start=0001-01-01T00:00:00-05:00", "start"),
            (f"{base}/events/?end=9999-12-31T23:59:59%2B14:00", "end"),
            (f"{base}/model-calls/?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "end"),
        ):
            response = self.client.get(url, headers={"HX-Request": "true", "HX-Target": "events"})
            self.assertEqual(response.status_code, 400, url)
            self.assertContains(response, field, status_code=400)

    def test_the_events_list_is_scoped_to_the_workspace(self):
        self.client.force_login(self.cast["outsider"])
        response = self.client.get(f"/w/{self.workspace.slug}/events/")
        self.assertEqual(response.status_code, 404)

    def test_the_events_list_issues_the_same_queries_for_2_and_24_events(self):
        for query, rows in (("?where=amount:lt:10", 2), ("", 24)):
            with self.assertNumQueries(5):
                response = self.client.get(f"/w/{self.workspace.slug}/events/{query}")
            self.assertContains(response, f"{rows} events")
            self.assertContains(response, "<html")
        fragment = self.client.get(
            f"/w/{self.workspace.slug}/events/", headers={"HX-Request": "true", "HX-Target": "events"}
        )
        self.assertNotContains(fragment, "<html")
        self.assertContains(fragment, 'id="events"')

    def test_the_rows_list_issues_the_same_queries_for_few_and_many_tasks(self):
        base = f"/w/{self.workspace.slug}/rows/tasks/"
        for query, rows in (("?where=status:eq:failed", 12), ("", 72)):
            with self.assertNumQueries(5):
                response = self.client.get(base + query)
            self.assertContains(response, f"{rows} tasks")
        self.client.force_login(self.cast["outsider"])
        self.assertEqual(self.client.get(base).status_code, 404)
