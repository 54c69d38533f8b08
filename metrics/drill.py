"""Drill-through: the list URL of the rows behind each number of a computed card.

A card's number counts (or aggregates over) the rows of its source that match its filters, in its
period or in one bucket of it, and in one breakdown group; for a rate, its numerator is those that also
meet the condition. Each of those becomes a filter of the list the source has, in the list's own query
parameters: runs → the Runs list, model calls → the Model calls list, business events → the business
events list. Tasks, scores and custom events → the list of a source's rows (metrics.views.rows): the Runs
list filtered by a step or a score counts runs, not the tasks or scores in them, so it could not show the
card's count. The time bounds are the bucket's exact instants (the engine's UTC buckets) written in the
viewer's zone, so that the list holds exactly the rows the number stands for.

The business events list and the rows lists read a card's rules back as `where` parameters and match
them with the engine's own code, so every rule says itself. On the Runs and Model calls lists, a rule
they cannot say exactly (a "contains", a negation) gives no link rather than a link to other rows, as do
"Other" and "(not set)" of a breakdown: `links_for` answers None for the card or for that number. OTLP
metric points have no rows to list.
"""

import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from traces.models import RunStatus

from .charts import LABEL_FORMATS
from .display import format_value
from .engine import CHARTS, FIGURES, as_number
from .models import Aggregation, Kind, Source
from .sources import NAMED_BY


def _json_text(value):
    """A value a JSON property matches only as text (the engine also matches a number as a number,
    which a list's text comparison would miss), or None."""
    return value if value and as_number(value) is None else None


# Integer bounds of a numeric rule on an integer column: (side, bound) from the rule's number.
WHOLE_BOUNDS = {
    "gte": lambda number: ("min", math.ceil(number)),
    "gt": lambda number: ("min", math.floor(number) + 1),
    "lte": lambda number: ("max", math.floor(number)),
    "lt": lambda number: ("max", math.ceil(number) - 1),
}
# The largest bound the lists' token and duration fields take (traces.run_filters).
MAX_BOUND = 10**12


def _whole(value, operator):
    """An integer column's inclusive bound for a numeric rule: (side, bound), or None. The columns
    hold no negative number, so a lower bound under 0 is 0."""
    number = as_number(value)
    if number is None or operator not in WHOLE_BOUNDS:
        return None
    side, bound = WHOLE_BOUNDS[operator](number)
    bound = max(bound, 0) if side == "min" else bound
    return (side, bound) if 0 <= bound <= MAX_BOUND else None


def _money(value):
    """A cost bound as the lists' decimal field takes it (10 digits each side), or None."""
    try:
        text = format(Decimal(value), "f")
    except ArithmeticError:
        return None
    whole, _, fraction = text.partition(".")
    return text if not text.startswith("-") and len(whole) <= 10 and len(fraction) <= 10 else None


def _run_params(rule):
    """The Runs list's parameters (traces.run_filters) for one rule of a runs card, or None."""
    prop, operator, value = rule["property"], rule["operator"], rule.get("value", "")
    plain = {"workflow": "workflow", "user_id": "user", "agent": "agent_name", "status": "status"}
    if operator == "eq" and prop in plain and value:
        if prop == "status" and value not in RunStatus.values:
            return None
        return [(plain[prop], value)]
    if operator == "eq" and prop.startswith("metadata.") and "=" not in prop and _json_text(value):
        return [("meta", f"{prop.removeprefix('metadata.')}={value}")]
    if prop == "total_tokens" and (bound := _whole(value, operator)):
        return [(f"{bound[0]}_tokens", str(bound[1]))]
    if prop == "duration_ms" and (bound := _whole(value, operator)):
        # Milliseconds as the seconds the list takes: thousandths are exact in its decimal field.
        return [(f"{bound[0]}_duration", str(Decimal(bound[1]) / 1000))]
    if prop == "cost" and operator in ("gte", "lte") and (amount := _money(value)):
        return [(f"{'min' if operator == 'gte' else 'max'}_cost", amount)]
    return None


def _model_call_params(rule):
    """The Model calls list's parameters (traces.forms.ModelCallFilterForm) for one rule, or None."""
    prop, operator, value = rule["property"], rule["operator"], rule.get("value", "")
    if operator == "eq" and prop in ("model", "provider") and value:
        return [(prop, value)]
    if prop == "status" and value == "ok" and operator in ("eq", "ne"):
        return [("status", "ok" if operator == "eq" else "error")]
    return None


def _where_params(rule):
    """The `where` parameter of one rule, for the lists that read it back and match it as the engine
    does (metrics.forms.RuleField), so every rule says itself exactly; a property name holding the
    separator cannot."""
    if ":" in rule["property"]:
        return None
    return [("where", encode_rule(rule))]


def encode_rule(rule):
    """`property:operator:value`, as metrics.forms.RuleField reads it back."""
    return f"{rule['property']}:{rule['operator']}:{rule.get('value', '')}"


@dataclass(frozen=True)
class Target:
    url_name: str
    params: object  # rule → [(parameter, value)] or None
    noun: str  # what the list lists

    def url(self, workspace):
        return reverse(self.url_name, args=[workspace.slug])


TARGETS = {
    Source.RUNS: Target("traces:run_list", _run_params, "runs"),
    Source.MODEL_CALLS: Target("traces:model_call_list", _model_call_params, "model calls"),
    Source.EVENTS: Target("metrics:event_list", _where_params, "events"),
    Source.TASKS: Target("metrics:task_rows", _where_params, "tasks"),
    Source.SCORES: Target("metrics:score_rows", _where_params, "scores"),
    Source.CUSTOM_EVENTS: Target("metrics:custom_event_rows", _where_params, "events"),
}


@dataclass
class Links:
    """The drill-through URLs of a computed card (None where a number has none)."""

    noun: str
    value: str | None = None  # a figure: its rows (a rate's: the numerator's)
    whole: str | None = None  # a rate's denominator: every matching row
    points: list = field(default_factory=list)  # per series, per bucket (a pie: per slice, one each)
    numerator: bool = False  # the value's link lists the rows that meet the condition


def _bounds(start, end):
    return [("start", timezone.localtime(start).isoformat()), ("end", timezone.localtime(end).isoformat())]


def links_for(card, result, workspace):
    """The Links of a card's computed result, or None when its rows have no list or its filters cannot
    be said in the list's parameters. No query."""
    target = TARGETS.get(card.source)
    if target is None:
        return None
    base = _translate(target, card.filters or [])
    if base is not None and card.source in NAMED_BY and card.event_name:
        base = [("name", card.event_name), *base]
    if base is None:
        return None
    rate = card.kind == Kind.RATE or card.aggregation == Aggregation.RATE
    # A rate's number stands for the rows that also meet the condition (without one, for none).
    condition = _translate(target, card.condition or []) if card.condition else None
    own = (base + condition if condition is not None else None) if rate else base
    list_url = target.url(workspace)
    links = Links(noun=target.noun, numerator=rate)

    def url(params, start, end):
        if params is None:
            return None
        return f"{list_url}?{urlencode([*params, *_bounds(start, end)])}"

    period = result.period
    if card.kind in FIGURES:
        links.value = url(own, period.start, period.end)
        links.whole = url(base, period.start, period.end) if rate else None
        return links
    if card.kind == Kind.PIE and rate and not card.breakdown:
        # "Meets the condition" and "Does not": the second is a negation no list can say.
        links.points = [[url(own, period.start, period.end)], [None]][: len(result.series)]
        return links
    groups = [_group(target, card, series) for series in result.series]
    if card.kind == Kind.PIE:
        links.points = [[url(_join(own, group), period.start, period.end)] for group in groups]
    elif card.kind in CHARTS:
        ends = [*result.buckets[1:], period.end]
        links.points = [
            [url(_join(own, group), start, end) for start, end in zip(result.buckets, ends, strict=True)]
            for group in groups
        ]
    return links


def _join(params, group):
    return None if params is None or group is None else params + group


def _translate(target, rules):
    params = []
    for rule in rules:
        found = target.params(rule)
        if found is None:
            return None
        params.extend(found)
    return params


def _group(target, card, series):
    """The parameters of a breakdown group's rows ([] without a breakdown), or None for "Other",
    "(not set)" and values the list cannot match exactly."""
    if series.other or series.group == "":
        return None
    if series.group is None:
        return []
    return target.params({"property": card.breakdown, "operator": "eq", "value": series.group})


@dataclass
class DrillRow:
    label: str
    value: str
    url: str


# Links a chart lists per series under it (the latest ones with a value): keyboard access to the points.
ROWS_PER_SERIES = 60


def drill_rows(card, result, links):
    """[(series label, [DrillRow])] for the list under a chart: every point or slice with a value and a
    link, as plain links (plotly's points take no keyboard focus). [] for figures and cards without
    links."""
    if not links or not links.points or card.kind in FIGURES:
        return []
    percentage = result.is_percentage

    def shown(value):
        return format_value(value, result.unit, percentage)

    if card.kind == Kind.PIE:
        slices = [
            DrillRow(series.label, shown(series.values[0]), urls[0])
            for series, urls in zip(result.series, links.points, strict=True)
            if urls[0] and series.values[0]
        ]
        return [("", slices)] if slices else []
    labels = [moment.strftime(LABEL_FORMATS[result.bucket]) for moment in result.buckets]
    rows = []
    for series, urls in zip(result.series, links.points, strict=True):
        points = [
            DrillRow(label, shown(value), url)
            for label, value, url in zip(labels, series.values, urls, strict=True)
            if url and value
        ]
        if points:
            rows.append((series.label, points[-ROWS_PER_SERIES:]))
    return rows
