# The run workspace and its payload viewer, driven as an operator would: click, arrow keys, find, copy.
# Waits use URLs and locators, not page.wait_for_function: the CSP forbids evaluating strings.
import json
import re

from playwright.sync_api import expect

from tests.factories import make_member, make_workspace
from tests.traces.scenario import make_conversation

from .conftest import log_in


def test_an_operator_walks_the_tree_with_the_keyboard_and_searches_and_copies_a_payload(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, "viewer", username="ada")
    run_id = make_conversation(workspace, "conv-ws", turns=1)[0]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    log_in(page, live_server, user.username)
    page.goto(f"{live_server.url}/w/acme/runs/{run_id}/")
    pane = page.locator("#workspace-pane")
    expect(pane).to_contain_text("Select a task")

    page.click("[data-workspace-tree] >> text=search_docs")
    page.wait_for_url(re.compile(rf"\?task={run_id}-search$"))
    expect(pane.locator("h1")).to_contain_text("search_docs")
    expect(page.locator("tr.selected")).to_contain_text("search_docs")

    page.keyboard.press("ArrowDown")
    page.wait_for_url(re.compile(rf"\?task={run_id}-llm$"))
    expect(pane.locator("h1")).to_contain_text("draft_answer")
    expect(pane).to_contain_text("first token 210 ms")
    page.keyboard.press("ArrowLeft")  # a leaf: up to its parent
    page.wait_for_url(re.compile(rf"\?task={run_id}-plan$"))
    expect(pane.locator("h1")).to_contain_text("plan")
    page.keyboard.press("ArrowLeft")  # an open parent: fold it
    expect(page.locator("[data-workspace-tree] >> text=search_docs")).to_be_hidden()
    page.keyboard.press("ArrowRight")
    expect(page.locator("[data-workspace-tree] >> text=search_docs")).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.wait_for_url(re.compile(rf"\?task={run_id}-search$"))
    screenshot("workspace-1-selected-by-keyboard")

    output = pane.locator("#json-output")
    output.locator("input[type=search]").fill("kb-")
    expect(output.locator(".find-count")).to_have_text("1 of 2")
    expect(output.locator("mark.find-hit")).to_have_count(2)
    output.locator("input[type=search]").press("Enter")
    expect(output.locator(".find-count")).to_have_text("2 of 2")
    expect(output.locator("mark.find-hit.current")).to_have_text("kb-")
    output.get_by_role("button", name="Raw").click()
    expect(output.locator("pre.json-raw")).to_be_visible()
    expect(output.locator(".find-count")).to_have_text("1 of 2")
    output.get_by_role("button", name="Copy output").click()
    expect(output.get_by_role("button", name="Copy output")).to_have_text("Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert json.loads(copied) == {
        "documents": [{"id": "kb-12", "score": 0.82}, {"id": "kb-40", "score": 0.61}]
    }

    page.reload()
    expect(pane.locator("h1")).to_contain_text("search_docs")
    page.click("[data-workspace-tree] >> text=draft_answer")
    page.wait_for_url(re.compile(rf"\?task={run_id}-llm$"))
    chat = pane.locator("#json-input")
    expect(chat.locator(".bubble.user")).to_contain_text("can I get a refund")
    chat.get_by_role("button", name="Pretty").click()
    expect(chat.locator(".json .j-key").first).to_have_text('"messages"')
    screenshot("workspace-2-payload-viewer")
    page.go_back()
    page.wait_for_url(re.compile(rf"\?task={run_id}-search$"))
    expect(pane.locator("h1")).to_contain_text("search_docs")
