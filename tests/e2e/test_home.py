from backoffice.models import Role
from tests.factories import make_member, make_run, make_workspace

from .conftest import log_in


def test_a_member_logs_in_and_sees_the_home_figures(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    user = make_member(workspace, Role.VIEWER, username="ada")
    for _ in range(3):
        make_run(workspace, total_tokens=1000)
    make_run(workspace, status="failed", error={"message": "tool timed out"}, total_tokens=500)

    log_in(page, live_server, user.username)

    assert page.url.endswith("/w/acme/")
    assert page.locator("[data-figure=runs]").inner_text() == "4"
    assert page.locator("[data-figure=failed]").inner_text() == "1"
    assert page.locator("[data-figure=tokens]").inner_text() == "3,500"
    assert "tool timed out" in page.inner_text("main")
    screenshot("home")
