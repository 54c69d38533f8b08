"""How a computed card reads: formatted figures, change, threshold state. Templates only display this."""

from dataclasses import dataclass

from django.contrib.humanize.templatetags.humanize import intcomma

from traces.durations import duration
from traces.money import money

from .engine import CHARTS, FIGURES, Series
from .models import Aggregation, Kind, ThresholdDirection

COLOURS = {
    "blue": "#3b5bdb",
    "violet": "#7048e8",
    "teal": "#0c8599",
    "green": "#2f9e44",
    "amber": "#e67700",
    "red": "#e03131",
    "slate": "#495057",
}
OTHER_COLOUR = "#adb5bd"
STATES = ("ok", "warning", "alert")


def format_value(value, unit="", percentage=False):
    if value is None:
        return "No data"
    if percentage:
        return f"{value:.1f} %"
    if unit == "ms":
        return duration(value)
    if unit == "usd":
        return money(value)
    if float(value).is_integer():
        return intcomma(int(value))
    return intcomma(f"{value:.2f}")


def threshold_state(card, value):
    """ "alert", "warning" or "ok" for a value against the card's thresholds; None without thresholds."""
    if card.warning_threshold is None and card.alert_threshold is None:
        return None
    if value is None:
        return "ok"

    def crossed(limit):
        if limit is None:
            return False
        return value >= limit if card.threshold_direction == ThresholdDirection.ABOVE else value <= limit

    if crossed(card.alert_threshold):
        return "alert"
    if crossed(card.warning_threshold):
        return "warning"
    return "ok"


def latest(series: Series):
    return next((value for value in reversed(series.values) if value is not None), None)


@dataclass
class CardView:
    value: str = ""
    detail: str = ""
    change: str = ""
    change_tone: str = ""  # "up", "down" or "": the arrow, and whether that is good news
    change_bad: bool = False
    bar: float | None = None
    state: str | None = None
    skipped: str = ""
    empty: bool = False


def card_view(card, result):
    view = CardView()
    percentage = result.is_percentage
    if result.skipped:
        view.skipped = (
            f"{intcomma(result.skipped)} non-numeric value{'s' if result.skipped != 1 else ''} skipped"
        )
    if card.kind in FIGURES:
        view.value = format_value(result.value, result.unit, percentage)
        view.empty = result.value is None
        view.state = threshold_state(card, result.value)
        if card.kind == Kind.RATE and result.value is not None:
            view.bar = max(0.0, min(100.0, result.value))
        if (
            result.numerator is not None
            and result.denominator
            and card.aggregation in (Aggregation.COUNT, Aggregation.RATE)
        ):
            view.detail = f"{intcomma(int(result.numerator))} of {intcomma(int(result.denominator))}"
        change = result.change
        if change is not None:
            view.change_tone = "up" if change > 0 else "down" if change < 0 else ""
            worse = "up" if card.threshold_direction == ThresholdDirection.ABOVE else "down"
            has_thresholds = view.state is not None
            view.change_bad = has_thresholds and view.change_tone == worse
            view.change = f"{change:+.1f} pp" if percentage else f"{change:+.0f} %"
        elif result.previous is not None and result.value is not None:
            view.change = "new" if result.previous == 0 and result.value else ""
        return view
    view.empty = not result.has_data
    if card.kind in CHARTS:
        states = [threshold_state(card, latest(series)) for series in result.series if not series.other]
        states = [state for state in states if state]
        view.state = max(states, key=STATES.index) if states else None
    return view
