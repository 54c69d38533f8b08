"""/api/v1/budgets: budgets managed with an admin key, the check asked with the runtime's ingest key,
and `check_budget` in the Python client."""

from decimal import Decimal

import pytest
from django.test import TestCase, override_settings

from backoffice.api import api
from backoffice.models import AuditEntry
from metrics.models import Budget, Channel
from metrics.monitors import budgets
from tests.factories import make_api_key, make_workspace
from tests.metrics.monitors.test_budget_check import EVENTS
from traces import client as backoffice
from traces.ingest import ingest_batch


def bearer(raw_key):
    return {"Authorization": f"Bearer {raw_key}"}


class BudgetApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.workspace = make_workspace()
        ingest_batch(cls.workspace, EVENTS)
        cls.api_key, cls.admin_key = make_api_key(cls.workspace, label="ops", scopes=["admin"])
        _, cls.ingest_key = make_api_key(cls.workspace, scopes=["ingest"])
        _, cls.read_key = make_api_key(cls.workspace, scopes=["read"])
        cls.channel = Channel.objects.create(
            workspace=cls.workspace, kind="webhook", name="ops", url="http://x.test/"
        )
        cls.other = make_workspace()
        cls.theirs = Budget.objects.create(workspace=cls.other, scope="workspace", limit=1)
        cls.their_channel = Channel.objects.create(
            workspace=cls.other, kind="webhook", name="x", url="http://y.test/"
        )

    def post(self, body, key=None):
        return self.client.post(
            "/api/v1/budgets", body, content_type="application/json", headers=bearer(key or self.admin_key)
        )

    def patch(self, budget_id, body):
        return self.client.patch(
            f"/api/v1/budgets/{budget_id}",
            body,
            content_type="application/json",
            headers=bearer(self.admin_key),
        )

    def check(self, key=None, **query):
        return self.client.get("/api/v1/budgets/check", query, headers=bearer(key or self.ingest_key))

    def test_an_admin_key_creates_lists_changes_and_deletes_a_budget_and_each_change_is_audited(self):
        created = self.post(
            {
                "scope": "agent",
                "key": "support-bot",
                "limit": "3",
                "channels": [self.channel.pk],
                "notify_at": [1, 0.5],
            }
        )
        self.assertEqual(created.status_code, 201, created.content)
        body = created.json()
        self.assertEqual(
            {
                k: body[k]
                for k in ("scope", "key", "period", "unit", "limit", "notify_at", "channels", "spent")
            },
            {
                "scope": "agent",
                "key": "support-bot",
                "period": "day",
                "unit": "usd",
                "limit": "3",
                "notify_at": [0.5, 1.0],
                "channels": [self.channel.pk],
                "spent": "3.75",
            },
        )
        listed = self.client.get("/api/v1/budgets", headers=bearer(self.admin_key)).json()
        self.assertEqual([item["id"] for item in listed], [body["id"]])
        changed = self.patch(body["id"], {"limit": "10", "period": "month", "channels": []})
        self.assertEqual(changed.status_code, 200, changed.content)
        self.assertEqual((changed.json()["limit"], changed.json()["channels"]), ("10", []))
        one = self.client.get(f"/api/v1/budgets/{body['id']}", headers=bearer(self.admin_key))
        self.assertEqual(one.json()["period"], "month")
        gone = self.client.delete(f"/api/v1/budgets/{body['id']}", headers=bearer(self.admin_key))
        self.assertEqual(gone.status_code, 204)
        entries = AuditEntry.objects.filter(workspace=self.workspace).order_by("id")
        self.assertEqual(
            list(entries.values_list("action", flat=True)),
            ["budget.created", "budget.changed", "budget.deleted"],
        )
        self.assertEqual(entries[1].changes["limit"], ["3.000000", "10.000000"])

    def test_bad_input_is_a_422_naming_the_field(self):
        cases = [
            ({"scope": "galaxy", "limit": "1"}, "scope"),
            ({"scope": "agent", "limit": "0"}, "limit"),
            ({"scope": "agent", "limit": "abc"}, "limit"),
            ({"scope": "workspace", "key": "x", "limit": "1"}, "key"),
            ({"scope": "user", "limit": "1", "unit": "tokens"}, None),
            ({"scope": "user", "limit": "1.5", "unit": "tokens"}, "limit"),
            ({"scope": "user", "limit": "1", "notify_at": [0]}, "notify_at"),
            ({"scope": "user", "limit": "1", "notify_at": [0.5] * 11}, "notify_at"),
            ({"scope": "user", "limit": "1", "channels": [self.their_channel.pk]}, "channels"),
            ({"scope": "user", "key": "a\x00b", "limit": "1"}, "key"),
            ({"scope": "user", "key": "k" * 201, "limit": "1"}, "key"),
        ]
        for body, field in cases:
            answer = self.post(body)
            if field is None:
                self.assertEqual(answer.status_code, 201, answer.content)
                continue
            self.assertEqual(answer.status_code, 422, (body, answer.content))
            self.assertEqual(answer.json()["field"], field, body)

    def test_the_same_budget_twice_is_a_422_naming_the_key(self):
        self.assertEqual(self.post({"scope": "user", "key": "u-1", "limit": "1"}).status_code, 201)
        again = self.post({"scope": "user", "key": "u-1", "limit": "2"})
        self.assertEqual((again.status_code, again.json()["field"]), (422, "key"))

    def test_a_patch_cannot_set_a_field_to_null(self):
        budget = self.post({"scope": "user", "limit": "1"}).json()
        answer = self.patch(budget["id"], {"limit": None})
        self.assertEqual((answer.status_code, answer.json()["field"]), (422, "limit"))

    def test_another_workspaces_budget_answers_404(self):
        url = f"/api/v1/budgets/{self.theirs.pk}"
        answers = [
            self.client.get(url, headers=bearer(self.admin_key)),
            self.patch(self.theirs.pk, {"limit": "2"}),
            self.client.delete(url, headers=bearer(self.admin_key)),
        ]
        for answer in answers:
            self.assertEqual((answer.status_code, answer.json()["field"]), (404, "budget_id"))
        self.assertTrue(Budget.objects.filter(pk=self.theirs.pk).exists())

    def test_the_crud_needs_the_admin_scope_and_the_check_the_ingest_scope(self):
        self.assertEqual(self.post({"scope": "user", "limit": "1"}, key=self.ingest_key).status_code, 403)
        self.assertEqual(self.client.get("/api/v1/budgets", headers=bearer(self.read_key)).status_code, 403)
        refused = self.check(key=self.read_key)
        self.assertEqual((refused.status_code, refused.json()["scope"]), (403, "ingest"))
        self.assertEqual(self.check(key="bo_nonsense").status_code, 401)

    def test_the_check_answers_the_budgets_that_limit_the_caller(self):
        self.post({"scope": "agent", "key": "support-bot", "limit": "3"})
        self.post({"scope": "user", "period": "month", "unit": "tokens", "limit": "1000000"})
        self.post({"scope": "workflow", "key": "refunds", "limit": "100"})
        answer = self.check(agent="support-bot", user="u-2")
        self.assertEqual(answer.status_code, 200, answer.content)
        self.assertEqual(
            answer.json(),
            {
                "allowed": False,
                "budgets": [
                    {
                        "id": answer.json()["budgets"][0]["id"],
                        "scope": "agent",
                        "key": "support-bot",
                        "period": "day",
                        "unit": "usd",
                        "limit": "3",
                        "spent": "3.75",
                        "remaining": "0",
                    },
                    {
                        "id": answer.json()["budgets"][1]["id"],
                        "scope": "user",
                        "key": "u-2",
                        "period": "month",
                        "unit": "tokens",
                        "limit": "1000000",
                        "spent": "20000",
                        "remaining": "980000",
                    },
                ],
            },
        )

    @override_settings(API_RATE_PER_MINUTE=1)
    def test_the_check_counts_with_the_api_requests(self):
        self.assertEqual(self.check().status_code, 200)
        again = self.check()
        self.assertEqual(again.status_code, 429)
        self.assertIn("Retry-After", again)

    def test_the_check_refuses_a_bad_parameter_naming_it(self):
        answer = self.check(agent="a" * 201)
        self.assertEqual((answer.status_code, answer.json()["field"]), (422, "agent"))

    @override_settings(API_RATE_PER_MINUTE=0)
    def test_the_check_costs_the_same_queries_for_2_budgets_and_for_20(self):
        def queries():
            with self.assertNumQueries(n) as context:
                self.assertEqual(
                    self.check(agent="support-bot", user="u-1", workflow="orders").status_code, 200
                )
            return context

        Budget.objects.bulk_create(
            Budget(workspace=self.workspace, scope="user", key=f"u-{i}", limit=1) for i in range(2)
        )
        n = 2  # the key, then the budgets with their spend (the rate limit is off here)
        self.check()  # the key's first use notes its time
        queries()
        Budget.objects.bulk_create(
            Budget(workspace=self.workspace, scope="agent", key=f"a-{i}", limit=1) for i in range(20)
        )
        queries()

    def test_every_route_is_in_the_schema_with_its_error_shapes(self):
        paths = api.get_openapi_schema()["paths"]
        check = paths["/api/v1/budgets/check"]["get"]
        self.assertEqual(
            {"200", "401", "403", "422", "429"} - {str(code) for code in check["responses"]}, set()
        )
        self.assertEqual(check["security"], [{"IngestKeyAuth": []}])
        self.assertEqual(set(paths["/api/v1/budgets/{budget_id}"]), {"get", "patch", "delete"})
        self.assertEqual(set(paths["/api/v1/budgets"]), {"get", "post"})


@pytest.mark.django_db(transaction=True)
def test_the_client_checks_the_budget_of_its_agent_and_run(live_server):
    workspace = make_workspace()
    ingest_batch(workspace, EVENTS)
    _, key = make_api_key(workspace, scopes=["ingest"])
    budgets.save_budget(workspace, budgets.clean_budget({"scope": "agent", "limit": "3"}))
    budgets.save_budget(workspace, budgets.clean_budget({"scope": "user", "key": "u-1", "limit": "100"}))
    client = backoffice.Client(live_server.url, key, agent_id="support-bot", flush_at_exit=False)
    answer = client.check_budget()
    assert answer["allowed"] is False
    assert [(b["scope"], b["key"], Decimal(b["spent"])) for b in answer["budgets"]] == [
        ("agent", "support-bot", Decimal("3.75"))
    ]
    with client.run("orders", user_id="u-1"):
        inside = client.check_budget(agent_id="quiet-bot")
    assert inside["allowed"] is True
    assert [(b["scope"], b["key"], b["spent"]) for b in inside["budgets"]] == [
        ("agent", "quiet-bot", "0"),
        ("user", "u-1", "5.75"),
    ]
    client.close(timeout=2)
    assert backoffice.Client(None, None, flush_at_exit=False).check_budget() == {
        "allowed": True,
        "budgets": [],
    }
    with pytest.raises(RuntimeError, match="403"):
        backoffice.Client(
            live_server.url, make_api_key(workspace, scopes=["read"])[1], flush_at_exit=False
        ).check_budget()
