"""OTLP metric cards in Chromium: a dashboard of GenAI histograms, and the editor's metric fields."""

import random

from backoffice.models import Role
from metrics.models import Dashboard, DashboardCard
from tests.factories import make_api_key, make_member, make_workspace
from tests.metrics.otlp import export, histogram_metric, histogram_point

from .conftest import log_in
from .test_metrics import settle_and_take

DURATION = "gen_ai.client.operation.duration"
TOKENS = "gen_ai.client.token.usage"
MODELS = {"gpt-4o": 1.0, "gpt-4o-mini": 0.45, "claude-sonnet": 1.4}


def send_metrics(client, key):
    """Two days of hourly delta histograms per model, as an SDK with delta temporality exports them."""
    rng = random.Random(17)
    durations, tokens = [], []
    for hour in range(-24, 24):
        for model, scale in MODELS.items():
            spread = [
                rng.randint(0, 4),
                rng.randint(2, 9),
                rng.randint(3, 12),
                rng.randint(1, 6),
                rng.randint(0, 2),
            ]
            counts = [round(n * (1.5 if hour % 24 > 8 else 1)) for n in spread] + [0]
            total = sum(counts) * scale * 1.2
            durations.append(
                histogram_point(
                    hour * 3600, [0.25, 0.5, 1, 2, 4], counts, total, **{"gen_ai.request.model": model}
                )
            )
            for kind, share in (("input", 900), ("output", 250)):
                used = sum(counts) * share * scale
                tokens.append(
                    histogram_point(
                        hour * 3600,
                        [256, 1024, 4096],
                        [0, 0, sum(counts), 0],
                        used,
                        **{"gen_ai.request.model": model, "gen_ai.token.type": kind},
                    )
                )
    request = export(
        histogram_metric(DURATION, durations, unit="s"), histogram_metric(TOKENS, tokens, unit="{token}")
    )
    response = client.post(
        "/v1/metrics",
        request.SerializeToString(),
        content_type="application/x-protobuf",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.content
    assert b"rejected" not in response.content


def make_cards(dashboard):
    common = {"source": "otlp_metric", "time_range": "7d", "breakdown": "gen_ai.request.model"}
    cards = [
        {
            "title": "Median model latency",
            "kind": "number",
            "metric_name": DURATION,
            "aggregation": "p50",
            "width": 1,
        },
        {
            "title": "p95 model latency",
            "kind": "number",
            "metric_name": DURATION,
            "aggregation": "p95",
            "width": 1,
        },
        {"title": "Tokens by model", "kind": "pie", "metric_name": TOKENS, "aggregation": "sum", "width": 2},
        {
            "title": "p95 latency per hour by model",
            "kind": "line",
            "metric_name": DURATION,
            "aggregation": "p95",
            "bucket": "hour",
            "width": 4,
        },
        {
            "title": "Tokens per day by type",
            "kind": "bar",
            "metric_name": TOKENS,
            "aggregation": "sum",
            "bucket": "day",
            "breakdown": "gen_ai.token.type",
            "width": 4,
        },
    ]
    for position, fields in enumerate(cards):
        DashboardCard.objects.create(dashboard=dashboard, position=position, **{**common, **fields})


def test_a_dashboard_of_otlp_metric_cards(transactional_db, live_server, page, screenshot, client):
    workspace = make_workspace(slug="acme", name="Acme")
    admin = make_member(workspace, Role.ADMIN, username="grace")
    _, key = make_api_key(workspace)
    send_metrics(client, key)
    dashboard = Dashboard.objects.create(
        workspace=workspace, slug="genai", name="GenAI metrics", is_default=True
    )
    make_cards(dashboard)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}/w/acme/metrics/genai/")
    page.wait_for_selector("[data-chart] .main-svg")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-value]").first.inner_text().endswith(" ms")
    settle_and_take(page, screenshot, "otlp-metrics-dashboard")

    page.goto(f"{live_server.url}/w/acme/metrics/genai/cards/new/")
    page.select_option("select[name=source]", "otlp_metric")
    assert page.locator("input[name=metric_name]").is_visible()
    page.select_option("select[name=aggregation]", "sum")
    assert not page.locator("input[name=property]").is_visible()  # the value is the point's own
    # The preview's answer brings the names found in the data.
    page.wait_for_selector(f"#metric-names option[value='{DURATION}']", state="attached")
    page.fill("input[name=title]", "Latency p90")
    page.fill("input[name=metric_name]", DURATION)
    page.select_option("select[name=aggregation]", "p90")
    page.select_option("select[name=kind]", "number")
    page.wait_for_selector("#preview [data-preview] [data-value]")
    screenshot("otlp-metric-card-editor", narrow=False)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Latency p90")
    assert not errors, errors
