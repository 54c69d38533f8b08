"""A live list refreshes under the reader without losing their place, and pauses when asked."""

from playwright.sync_api import expect

from tests.factories import make_member, make_run, make_workspace
from traces.models import Run

from .conftest import log_in

# Resolves at the next live poll's htmx:beforeRequest, telling whether it went on (not cancelled).
NEXT_POLL = """() => new Promise((resolve) => {
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (!event.detail.elt.hasAttribute("data-live")) return;
    setTimeout(() => resolve(!event.defaultPrevented));
  }, { once: true });
})"""
SELECT_FIRST_ID = """() => {
  const cell = document.querySelector("#rows tbody tr:nth-child(3) a");
  const range = document.createRange();
  range.selectNodeContents(cell);
  getSelection().removeAllRanges();
  getSelection().addRange(range);
  return getSelection().toString();
}"""


def live_list(page, live_server):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, "viewer", username="ada")
    for number in range(30):
        make_run(workspace, run_id=f"run-{number:02}", status="running", ended_at=None, duration_ms=None)
    log_in(page, live_server, user.username)
    page.set_viewport_size({"width": 1440, "height": 700})
    page.goto(f"{live_server.url}/w/acme/runs/")
    expect(page.locator("#rows .live-note")).to_be_visible()
    return workspace


def test_a_refresh_keeps_the_selection_the_scroll_and_open_details(live_server, page, screenshot):
    live_list(page, live_server)
    page.click(".save-view summary")
    page.evaluate("() => scrollTo(0, 400)")
    expect(page.locator(".save-view form")).to_be_visible()
    selected = page.evaluate(SELECT_FIRST_ID)
    assert selected.startswith("run-")
    scrolled = page.evaluate("() => scrollY")
    assert scrolled > 0

    # Something changes in the list: the next refresh must bring it, morphed into the same nodes.
    Run.objects.filter(run_id="run-00").update(total_tokens=987654)
    expect(page.locator("#rows")).to_contain_text("987,654", timeout=15_000)
    assert page.evaluate("() => getSelection().toString()") == selected
    assert page.evaluate("() => scrollY") == scrolled
    assert page.locator(".save-view").get_attribute("open") is not None
    screenshot("live-list-after-refresh", narrow=False)


def test_pause_holds_the_refresh_for_the_tab_until_resumed(live_server, page, screenshot):
    live_list(page, live_server)
    toggle = page.locator("[data-live-toggle]")
    toggle.click()
    expect(toggle).to_have_text("Resume", use_inner_text=True)
    expect(page.locator("#rows .live-note")).to_have_text("Paused", use_inner_text=True)
    assert page.evaluate(NEXT_POLL) is False  # the timer ticks, but asks nothing
    Run.objects.filter(run_id="run-00").update(total_tokens=987654)
    assert page.evaluate(NEXT_POLL) is False
    expect(page.locator("#rows")).not_to_contain_text("987,654")
    screenshot("live-list-paused")

    page.reload()  # the choice belongs to the tab: it outlives a reload
    expect(page.locator("[data-live-toggle]")).to_have_text("Resume", use_inner_text=True)
    assert page.evaluate(NEXT_POLL) is False

    page.locator("[data-live-toggle]").click()
    expect(page.locator("[data-live-toggle]")).to_have_text("Pause", use_inner_text=True)
    assert page.evaluate(NEXT_POLL) is True
    expect(page.locator("#rows")).to_contain_text("987,654", timeout=15_000)
