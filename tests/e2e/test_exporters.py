from datetime import timedelta

from django.utils import timezone

from backoffice.models import Role
from tests.factories import make_exporter, make_member, make_run, make_workspace
from traces.models import Exporter, ExportItem

from .conftest import log_in
from .test_settings import watch_console


def test_an_admin_adds_an_exporter_and_reads_its_backlog(transactional_db, live_server, page, screenshot):
    workspace = make_workspace(slug="acme", name="Acme")
    admin = make_member(workspace, Role.ADMIN, username="ada")
    failing = make_exporter(
        workspace,
        name="grafana-tempo",
        endpoint="https://tempo.example.com:4318/v1/traces",
        headers={"Authorization": "Basic dGVuYW50OnNlY3JldC1wYXNzd29yZA=="},
        last_success_at=timezone.now() - timedelta(hours=2),
        last_error="503 Service Unavailable: upstream connect error or disconnect/reset before headers",
        last_error_at=timezone.now() - timedelta(minutes=3),
    )
    for _ in range(3):
        ExportItem.objects.create(exporter=failing, run=make_run(workspace))
    problems = watch_console(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server, admin.username)

    page.goto(f"{live_server.url}/w/acme/settings/exporters/")
    page.fill("input[name=name]", "collector")
    page.fill("input[name=endpoint]", "https://otel-collector.internal:4318/v1/traces")
    page.fill("textarea[name=header_lines]", "Authorization: Bearer sk-live-0123456789abcdef")
    page.click("button:has-text('Add exporter')")
    page.wait_for_url("**/settings/exporters/")
    assert "added" in page.inner_text(".flash")
    assert Exporter.objects.get(name="collector").headers == {
        "Authorization": "Bearer sk-live-0123456789abcdef"
    }
    assert "sk-live" not in page.content()
    assert page.inner_text("[data-exporter=grafana-tempo] [data-backlog]").startswith("3")
    screenshot("settings-exporters")

    page.click("[data-exporter=collector] a")
    page.wait_for_url("**/settings/exporters/*/")
    assert "••••cdef" in page.inner_text("main")
    screenshot("settings-exporter-edit")
    assert problems == []
