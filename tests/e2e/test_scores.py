from backoffice.models import Role
from tests.factories import make_member, make_score, make_score_config, make_workspace
from traces.models import Score

from .conftest import log_in
from .test_reviews import make_conversation


def test_two_reviewers_score_a_reply_from_its_bubble_and_the_stats_show_their_agreement(
    transactional_db, live_server, page, screenshot
):
    workspace = make_workspace(slug="acme", name="Acme")
    rita = make_member(workspace, Role.REVIEWER, username="rita")
    sam = make_member(workspace, Role.REVIEWER, username="sam")
    admin = make_member(workspace, Role.ADMIN, username="ada")
    run = make_conversation(workspace)
    make_score_config(
        workspace, name="helpfulness", min_value=1, max_value=5, description="1 useless, 5 solved it"
    )
    make_score_config(
        workspace,
        name="tone",
        data_type="categorical",
        categories=[
            {"label": "ok", "value": 0},
            {"label": "curt", "value": 1},
            {"label": "rude", "value": 2},
        ],
    )
    make_score_config(workspace, name="hallucination", data_type="boolean")
    make_score(run, name="helpfulness", value=2.0, source="judge", author="gpt-judge", comment="Wrong facts")
    page.set_viewport_size({"width": 1440, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    for user, helpfulness, tone in ((rita, "1", "curt"), (sam, "2", "curt")):
        log_in(page, live_server, user.username)
        page.goto(f"{live_server.url}/w/acme/runs/run-1042/chat/")
        page.locator("[data-turn=ev-3] >> text=Score this reply").click()
        page.wait_for_url("**/runs/run-1042/review/?score=ev-3*")
        assert page.locator("select[name=score-target]").input_value() == "ev-3"
        page.locator("#score-form label:has-text('helpfulness') + input").fill(helpfulness)
        page.locator("#score-form label:has-text('tone') + select").select_option(tone)
        page.locator("#score-form label:has-text('hallucination') + select").select_option("true")
        page.click("text=Save scores")
        page.locator("#scores >> text=Saved.").wait_for()
        page.context.clear_cookies()

    assert Score.objects.filter(source="reviewer").count() == 6
    log_in(page, live_server, rita.username)
    page.goto(f"{live_server.url}/w/acme/runs/run-1042/review/?score=ev-3#scores")
    assert page.locator("#scores tbody tr").count() == 7
    assert page.locator("#score-form input[type=number]").input_value() == "1"
    page.evaluate("window.scrollTo(0, 0)")
    screenshot("scores-review-tab")
    # A value out of range is refused on its field, in place.
    page.locator("#score-form label:has-text('helpfulness') + input").fill("9")
    page.click("text=Save scores")
    page.locator("#scores .has-error").wait_for()
    page.goto(f"{live_server.url}/w/acme/reviews/stats/")
    assert "Reviewer agreement" in page.inner_text("main")
    assert page.locator("[data-config=tone] [data-figure=agreement]").inner_text() == "100%"
    screenshot("scores-agreement")
    page.context.clear_cookies()

    log_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}/w/acme/settings/scores/")
    screenshot("scores-settings")
    assert errors == []
