"""A monitor's metric: a card's metric fields, checked by the card form and computed by the card engine.

So that one engine computes both, a monitor's metric becomes an unsaved DashboardCard: a pie (one value
per breakdown value over the whole window) when it breaks down, else a number. Its value over a window
is `engine.window_values`; the runs behind it are the card's drill-through (metrics.drill). A spike
monitor (`compare_windows`) watches the ratio of that value to its mean over the windows just before.
"""

from ..dashboards import card_fields
from ..drill import links_for
from ..engine import CardResult, window_series, window_values
from ..forms import CardForm, card_form_data
from ..models import DashboardCard, Kind
from ..periods import Period

# The fields of a card that say what it computes (not how it looks, nor over which range).
FIELDS = [
    "source",
    "event_name",
    "metric_name",
    "aggregation",
    "property",
    "filters",
    "condition",
    "breakdown",
]
# With a breakdown, the values with the most rows each get a state; the rest are not watched.
MAX_KEYS = 50


def of_card(card):
    return {name: getattr(card, name) for name in FIELDS}


def check(metric):
    """(the metric as a card's form cleans it, {field: [errors]}). A metric is a JSON object of FIELDS."""
    if not isinstance(metric, dict):
        return None, {"metric": ["must be an object of a card's metric fields"]}
    unknown = sorted(set(metric) - set(FIELDS))
    if unknown:
        return None, {"metric": [f"unknown fields: {', '.join(unknown)}; a metric has {', '.join(FIELDS)}"]}
    kind = Kind.PIE if metric.get("breakdown") else Kind.NUMBER
    try:
        data = card_form_data({**card_fields(DashboardCard()), **metric, "title": "monitor", "kind": kind})
    except (ValueError, AttributeError, TypeError) as error:
        return None, {"metric": [str(error)]}
    form = CardForm(data=data)
    if not form.is_valid():
        return None, {name: list(errors) for name, errors in form.errors.items()}
    return {name: form.cleaned_data[name] for name in FIELDS}, {}


def as_card(metric):
    kind = Kind.PIE if metric.get("breakdown") else Kind.NUMBER
    fields = {name: metric.get(name, "") for name in FIELDS}
    return DashboardCard(kind=kind, breakdown_limit=MAX_KEYS, **fields)


def values(monitor, start, end):
    """{breakdown value ("" without one): the monitor's value over [start, end)}: the metric's, or for a
    spike monitor its ratio to the usual (`spikes`). One query, the compared windows' included."""
    card = as_card(monitor.metric)
    if not monitor.compare_windows:
        return window_values(card, monitor.workspace, start, end)
    width = end - start
    *before, current = window_series(
        card, monitor.workspace, start - width * monitor.compare_windows, width, monitor.compare_windows + 1
    )
    return spikes(current, before)


def spikes(current, before):
    """{key: the current value over the mean of that key's values in the windows before}. A key with no
    value before, or a mean of 0, has no ratio (None): nothing is usual yet, so nothing is a spike."""
    ratios = {}
    for key, value in current.items():
        usual = [window[key] for window in before if window.get(key) is not None]
        mean = sum(usual) / len(usual) if usual else None
        ratios[key] = value / mean if value is not None and mean else None
    return ratios


def rows_url(monitor, key, start, end):
    """The list of the rows behind one value (path and query), or None where the list cannot say them.
    No query."""
    card = as_card(monitor.metric)
    if card.breakdown:
        if not key:
            return None
        card.filters = [*(card.filters or []), {"property": card.breakdown, "operator": "eq", "value": key}]
        card.breakdown = ""
    card.kind = Kind.NUMBER
    period = Period(start, end, "")
    result = CardResult(kind=Kind.NUMBER, aggregation=card.aggregation, unit="", period=period)
    links = links_for(card, result, monitor.workspace)
    return links.value if links else None
