"""The MCP server at /mcp through the SDK's own streamable HTTP client, against the live test server:
the tools listed and called, bad arguments named, keys refused, workspaces kept apart."""

import json

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.events import post_batch, workflow_run
from tests.factories import make_api_key, make_review, make_run, make_task, make_workspace
from traces.models import Review

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = {
    "search_runs",
    "get_run",
    "get_conversation",
    "list_reviews",
    "create_review",
    "update_review",
    "export_reviews",
}


@pytest.fixture
def keyed(client):
    """A workspace with a key and two recorded runs (one failed), and another workspace with a run."""
    workspace = make_workspace()
    _, key = make_api_key(workspace)
    post_batch(client, key, workflow_run("r-ok", session_id="chat-1"))
    post_batch(client, key, workflow_run("r-bad", session_id="chat-2", fail=True, start=10))
    other = make_workspace()
    make_run(other, run_id="theirs")
    return workspace, key


def using(live_server, key, work, mode="auto"):
    """Run `work(client)` with an SDK client connected to /mcp with `key`; returns what it returns."""

    async def main():
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
        async with (
            http,
            Client(streamable_http_client(f"{live_server.url}/mcp", http_client=http), mode=mode) as mcp,
        ):
            return await work(mcp)

    return anyio.run(main)


def call(live_server, key, name, arguments, mode="auto"):
    async def work(mcp):
        return await mcp.call_tool(name, arguments)

    return using(live_server, key, work, mode)


def answer(result):
    assert not result.is_error, result.content[0].text
    return result.structured_content


def refusal(result):
    """The message of a refused call, without the SDK's "Error executing tool <name>: " before it."""
    assert result.is_error
    return result.content[0].text.partition(": ")[2]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_tools_are_listed_with_their_arguments(live_server, keyed, mode):
    _, key = keyed

    async def work(mcp):
        return (await mcp.list_tools()).tools

    tools = {tool.name: tool for tool in using(live_server, key, work, mode)}
    assert set(tools) == TOOLS
    assert {"q", "status", "tag", "meta", "cursor"} <= set(tools["search_runs"].input_schema["properties"])
    assert tools["create_review"].input_schema["required"] == ["run_id", "rating", "comment"]
    assert tools["get_run"].annotations.read_only_hint


def test_search_runs_filters_and_finds_text_with_a_snippet(live_server, keyed):
    _, key = keyed
    failed = answer(call(live_server, key, "search_runs", {"status": "failed"}))
    assert [item["run_id"] for item in failed["items"]] == ["r-bad"]
    assert failed["items"][0]["agent_id"] == "order-bot"
    found = answer(call(live_server, key, "search_runs", {"q": "order 42", "sort": "time"}))
    assert [item["run_id"] for item in found["items"]] == ["r-ok", "r-bad"]
    assert "**42**" in found["items"][0]["snippet"]
    newest = answer(call(live_server, key, "search_runs", {}))
    assert [item["run_id"] for item in newest["items"]] == ["r-bad", "r-ok"]
    paged = answer(call(live_server, key, "search_runs", {"limit": 1}))
    rest = answer(call(live_server, key, "search_runs", {"limit": 1, "cursor": paged["next_cursor"]}))
    assert {paged["items"][0]["run_id"], rest["items"][0]["run_id"]} == {"r-ok", "r-bad"}


def test_get_run_has_tasks_turns_and_errors(live_server, keyed):
    workspace, key = keyed
    run = answer(call(live_server, key, "get_run", {"run_id": "r-bad"}))
    assert (run["status"], run["session_id"], run["error"]) == (
        "failed",
        "chat-2",
        {"message": "payment declined"},
    )
    assert len(run["tasks"]) == run["task_count"] > 0
    assert [turn["role"] for turn in run["turns"]][:1] == ["user"]
    stuck = make_run(workspace, run_id="stuck", status="failed")
    make_task(stuck, step_id="fetch", name="fetch", sequence=1)
    make_task(
        stuck, step_id="pay", name="pay", sequence=2, status="failed", error={"message": "card expired"}
    )
    errors = answer(call(live_server, key, "get_run", {"run_id": "stuck"}))["errors"]
    assert errors == [
        {"step_id": "pay", "name": "pay", "status": "failed", "error": {"message": "card expired"}}
    ]


def test_get_conversation_has_its_turns(live_server, keyed):
    _, key = keyed
    conversation = answer(call(live_server, key, "get_conversation", {"session_id": "chat-1"}))
    assert [turn["role"] for turn in conversation["messages"]] == ["user", "assistant"]


def test_reviews_are_filed_updated_listed_and_exported(live_server, keyed):
    _, key = keyed
    filed = answer(
        call(
            live_server,
            key,
            "create_review",
            {"run_id": "r-ok", "rating": "bad", "comment": "Order 42 is not valid."},
        )
    )
    assert (filed["run_id"], filed["status"], filed["priority"]) == ("r-ok", "open", "medium")
    changed = answer(
        call(
            live_server,
            key,
            "update_review",
            {"review_id": filed["id"], "status": "resolved", "corrected_output": "No."},
        )
    )
    assert (changed["status"], changed["resolved_by"]) == ("resolved", "tests")
    listed = answer(call(live_server, key, "list_reviews", {"status": "resolved"}))
    assert [item["id"] for item in listed["items"]] == [filed["id"]]
    exported = answer(call(live_server, key, "export_reviews", {}))
    assert exported["complete"] and len(exported["lines"]) == 1
    assert json.loads(exported["lines"][0])["messages"][-1] == {"role": "assistant", "content": "No."}


def test_bad_arguments_are_refused_naming_the_field(live_server, keyed):
    _, key = keyed
    assert "comment" in refusal(
        call(live_server, key, "create_review", {"run_id": "r-ok", "rating": "bad", "comment": "short"})
    )
    assert "rating" in refusal(
        call(live_server, key, "create_review", {"run_id": "r-ok", "rating": "meh", "comment": "x" * 20})
    )
    assert "status" in refusal(call(live_server, key, "search_runs", {"status": "lost"}))
    assert refusal(call(live_server, key, "search_runs", {"cursor": "nope"})).startswith("cursor:")
    assert refusal(call(live_server, key, "search_runs", {"min_tokens": 9, "max_tokens": 2})).startswith(
        "max_tokens:"
    )
    assert refusal(call(live_server, key, "list_reviews", {"after": "1.2"})).startswith("after:")
    assert refusal(call(live_server, key, "update_review", {"review_id": 999999})).startswith("review_id:")
    assert not Review.objects.exists()


def test_another_workspaces_rows_are_not_found(live_server, keyed):
    workspace, key = keyed
    assert refusal(call(live_server, key, "get_run", {"run_id": "theirs"})).startswith("run_id:")
    assert refusal(
        call(live_server, key, "create_review", {"run_id": "theirs", "rating": "bad", "comment": "x" * 20})
    ).startswith("run_id:")
    theirs = make_review(make_run(make_workspace(), run_id="elsewhere"))
    assert refusal(
        call(live_server, key, "update_review", {"review_id": theirs.pk, "status": "resolved"})
    ).startswith("review_id:")
    assert answer(call(live_server, key, "list_reviews", {}))["items"] == []


def test_a_wrong_key_or_a_key_without_read_is_refused(live_server, keyed, client):
    workspace, _ = keyed
    _, ingest_only = make_api_key(workspace, scopes=("ingest",))
    for key, status in (("bo_not-a-key", 401), (ingest_only, 403)):
        with pytest.raises(ExceptionGroup) as refused:
            call(live_server, key, "get_run", {"run_id": "r-ok"})
        assert refused.group_contains(MCPError, depth=None)
        response = client.post(
            "/mcp", {}, content_type="application/json", headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == status
    assert client.post("/mcp", {}, content_type="application/json").status_code == 401
