"""Real headless Chromium (the Debian package) driven by Playwright against Django's live server."""

import os
import threading
import time
from pathlib import Path

import pytest
from django.core.signals import request_finished, request_started

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make there
# are synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items):
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class RequestsInFlight:
    """Counts the live server's unfinished requests.

    Closing the browser does not stop a request the server is still answering (a chart a reload
    asked for, a live poll). On SQLite the server thread shares the test's connection, so the flush
    after the test would meet that request's open statement ("database table is locked") and leave
    the rows for the next test. The page fixture waits for the count to reach zero first.
    """

    def __init__(self):
        self.count = 0
        self.changed = threading.Condition()
        request_started.connect(self.started, weak=False)
        request_finished.connect(self.finished, weak=False)

    def started(self, **kwargs):
        with self.changed:
            self.count += 1

    def finished(self, **kwargs):
        with self.changed:
            self.count = max(0, self.count - 1)
            self.changed.notify_all()

    def wait_until_idle(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.count and time.monotonic() < deadline:
                self.changed.wait(deadline - time.monotonic())


@pytest.fixture(scope="session")
def requests_in_flight():
    return RequestsInFlight()


@pytest.fixture
def page(browser, requests_in_flight, transactional_db, live_server):
    # Asking for the database here makes its flush run after this fixture's teardown.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    requests_in_flight.wait_until_idle()


@pytest.fixture
def screenshot(page):
    """screenshot(name) saves the page at desktop width and at 390 px under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name, *, narrow=True):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        if narrow:
            size = page.viewport_size
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=str(SCREENSHOTS / f"{name}-narrow.png"), full_page=True)
            page.set_viewport_size(size)

    return take


def log_in(page, live_server, username, password="correct horse battery staple"):  # noqa: S107
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
