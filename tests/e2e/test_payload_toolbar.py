# The payload viewer's toolbar keeps to one line wherever a payload shows, in a narrow chat bubble at
# 1440 px as on a phone: what does not fit goes into its More menu.
from playwright.sync_api import expect

from tests.factories import make_member, make_message, make_run, make_session, make_task, make_workspace

from .conftest import log_in

WIDGET = {
    "type": "order_widget",
    "order": {"id": "A-4400", "lines": [{"sku": "kb-12", "qty": 2}], "total": 31.5},
}
CHAT = {
    "messages": [{"role": "user", "content": "Where is my order?"}, {"role": "assistant", "content": WIDGET}]
}


def assert_toolbars_fit(page):
    """Every toolbar shown is one line high and inside its viewer."""
    bars = [bar for bar in page.locator(".payload-tools").all() if bar.is_visible()]
    assert bars
    for bar in bars:
        box, viewer = bar.bounding_box(), bar.locator("xpath=..").bounding_box()
        tallest = max(
            tool.bounding_box()["height"] for tool in bar.locator(":scope > *").all() if tool.is_visible()
        )
        assert box["height"] <= tallest + 1, box
        assert box["x"] + box["width"] <= viewer["x"] + viewer["width"] + 1, (box, viewer)
        assert bar.evaluate("bar => bar.scrollWidth <= bar.clientWidth")


def test_the_toolbar_keeps_to_one_line_in_narrow_bubbles_and_on_a_phone(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, "viewer", username="ada")
    session = make_session(workspace, session_id="conv-widget")
    run = make_run(workspace, run_id="widget-run", session=session)
    make_task(run, step_id="answer", name="answer", type="llm", input=CHAT, output={"text": "On its way."})
    make_message(session, run=run, role="user", content="Where is my order?")
    make_message(session, run=run, role="assistant", content=WIDGET, metadata={"model": "gpt-4o-mini"})
    log_in(page, live_server, user.username)
    page.set_viewport_size({"width": 1440, "height": 900})

    # A wide bubble keeps every tool in the bar.
    page.goto(f"{live_server.url}/w/acme/conversations/conv-widget/")
    bubble = page.locator(".bubble.assistant").first
    expect(bubble.get_by_role("button", name="Expand all")).to_be_visible()
    expect(bubble.locator(".payload-more").first).to_be_hidden()
    assert_toolbars_fit(page)
    screenshot("payload-toolbar-conversation")

    # On a phone the bubble is narrow: expand, collapse, the match arrows and copy go into More.
    page.set_viewport_size({"width": 390, "height": 844})
    more = bubble.locator(".payload-tools .payload-more").first
    expect(more).to_be_visible()
    assert_toolbars_fit(page)
    more.locator("summary").click()
    screenshot("payload-toolbar-menu", narrow=False)
    # A refit while the menu is open (the bubble's width settling just after the click) keeps it open.
    page.set_viewport_size({"width": 370, "height": 844})
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    expect(more).to_have_attribute("open", "")
    more.get_by_role("button", name="Expand all").click()
    expect(more).not_to_have_attribute("open", "")
    expect(bubble.locator(".json .j-str:text-is('\"kb-12\"')")).to_be_visible()
    bubble.locator(".payload-tools input[type=search]").first.fill("kb-")
    expect(bubble.locator(".find-count").first).to_have_text("1 of 1")
    assert_toolbars_fit(page)
    screenshot("payload-toolbar-phone-find", narrow=False)

    # A bubble inside a payload, in the run workspace's pane beside the tree, at 1440.
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/w/acme/runs/widget-run/?task=answer")
    nested = page.locator("#json-input .bubble.assistant [data-payload]")
    expect(nested.locator(".payload-tools")).to_be_visible()
    assert_toolbars_fit(page)
    screenshot("payload-toolbar-workspace", narrow=False)
    page.set_viewport_size({"width": 390, "height": 844})
    expect(nested.locator(".payload-more")).to_be_visible()
    assert_toolbars_fit(page)
    screenshot("payload-toolbar-workspace-phone", narrow=False)

    # The conversation with a run open beside it: its bubbles are narrow at 1440.
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/w/acme/conversations/conv-widget/?run=widget-run")
    expect(page.locator("#run-panel")).to_contain_text("widget-run")
    expect(page.locator(".bubble.assistant .payload-tools").first).to_be_visible()
    assert_toolbars_fit(page)
    screenshot("payload-toolbar-conversation-panel", narrow=False)
