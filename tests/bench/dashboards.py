"""Dashboard figures: each card of the default dashboard over the last 30 days, and a rate card broken
down by a business-event property over every business event of the workspace."""

from backoffice.models import Workspace

from .measure import Figure, median_ms, not_measured, timed

CARDS_NAME, CARDS_TARGET = "Default dashboard, slowest card over 30 days", "≤ 500 ms"
RATE_NAME, RATE_TARGET = (
    "Rate card by a business-event property (success by plan, all events, 90 days)",
    "≤ 1,000 ms",
)


def dashboard_figures(facts, repeats):
    try:
        from metrics.dashboards import default_dashboard, rule
        from metrics.engine import evaluate
        from metrics.models import Aggregation, DashboardCard, Kind, Source, TimeRange
    except ImportError:
        reason = "dashboards are not on this branch yet"
        return [not_measured(CARDS_NAME, CARDS_TARGET, reason), not_measured(RATE_NAME, RATE_TARGET, reason)]
    workspace = Workspace.objects.get(slug=facts.workspaces[0])
    dashboard = default_dashboard(workspace)
    anchor = facts.anchor_time

    def card_ms(card, time_range):
        evaluate(card, workspace, time_range=time_range, now=anchor)  # warm: plans, caches
        return median_ms(
            [
                timed(lambda: evaluate(card, workspace, time_range=time_range, now=anchor))[0]
                for _ in range(repeats)
            ]
        )

    cards = [
        (card_ms(card, TimeRange.MONTH), card.title) for card in dashboard.cards.order_by("position", "id")
    ]
    slowest, title = max(cards)
    note = "; ".join(f"{name} {ms:,.0f} ms" for ms, name in cards)
    figures = [Figure(CARDS_NAME, CARDS_TARGET, f"{slowest:,.0f} ms ({title})", slowest <= 500, note=note)]
    rate = DashboardCard(
        dashboard=dashboard,
        title="Success rate by plan",
        kind=Kind.BAR,
        source=Source.EVENTS,
        aggregation=Aggregation.RATE,
        condition=[rule("success", "eq", "true")],
        breakdown="plan",
        time_range=TimeRange.QUARTER,
    )
    ms = card_ms(rate, TimeRange.QUARTER)
    events = round(facts.counts["tracked"] * 0.6)
    figures.append(
        Figure(
            RATE_NAME,
            RATE_TARGET,
            f"{ms:,.0f} ms",
            ms <= 1000,
            note=f"over the ~{events:,} business events of the first workspace",
        )
    )
    return figures
