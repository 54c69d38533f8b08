# Waits use URLs and locators, not page.wait_for_function: the CSP forbids evaluating strings.
import re

from playwright.sync_api import expect

from backoffice.models import Role
from tests.factories import make_member, make_workspace
from tests.traces.scenario import make_conversation
from traces.models import Event

from .conftest import log_in


def current(page):
    return page.locator('#playback [aria-current="step"]')


def test_an_operator_steps_through_a_conversation_with_the_keyboard(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    make_member(workspace, Role.VIEWER, username="ada")
    make_conversation(workspace, "conv-broken", turns=2, fail_last=True, user_id="customer-9")
    events = list(Event.objects.filter(run__session__session_id="conv-broken").order_by("timestamp", "id"))
    log_in(page, live_server, "ada")

    page.goto(f"{live_server.url}/w/acme/conversations/conv-broken/")
    page.click("text=Step through events")
    page.wait_for_selector("#playback")
    expect(page.locator("#playback-current")).to_contain_text(events[0].type)

    page.keyboard.press("j")
    page.wait_for_url(re.compile(rf"[?&]at={events[1].pk}\b"))
    expect(page.locator("#playback-current")).to_contain_text(events[1].type)
    page.keyboard.press("ArrowDown")
    page.wait_for_url(re.compile(rf"[?&]at={events[2].pk}\b"))
    expect(current(page)).to_contain_text(events[2].type)
    page.keyboard.press("k")
    page.wait_for_url(re.compile(rf"[?&]at={events[1].pk}\b"))
    expect(current(page)).to_contain_text(events[1].type)
    screenshot("playback-1-conversation")

    # Errors only, of the second turn: the filters are in the URL and stepping keeps them.
    page.fill("input[name=turn]", "2")
    page.check("#playback input[name=error]")
    page.click("#playback button[type=submit]")
    page.wait_for_url(re.compile(r"turn=2.*error=on|error=on.*turn=2"))
    expect(page.locator(".playback-list li")).not_to_have_count(0)
    assert page.locator(".playback-list li").count() == page.locator(".playback-list li.failed").count()
    page.keyboard.press("j")
    page.wait_for_url(re.compile(r"[?&]at=\d+"))
    assert "turn=2" in page.url
    screenshot("playback-2-errors-of-turn-2")

    # The run's own Playback tab.
    page.goto(f"{live_server.url}/w/acme/runs/conv-broken-run-2/playback/")
    expect(page.locator("#tab-playback")).to_have_attribute("aria-current", "page")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(r"[?&]at=\d+"))
    expect(current(page)).to_have_count(1)
