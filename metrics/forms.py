import json

from django import forms
from django.http import QueryDict

from backoffice.days import DayField
from traces.forms import DateRangeForm
from traces.ingest.custom import is_custom
from traces.run_filters import RepeatedField

from .dashboards import CARD_FIELDS, EXPORT_FORMAT, EXPORT_VERSION
from .engine import (
    NEEDS_NUMBERS,
    NEEDS_PROPERTY,
    NUMERIC_OPERATORS,
    OPERATORS,
    VALUELESS_OPERATORS,
    as_number,
    rows_matching,
)
from .models import Aggregation, Dashboard, DashboardCard, Kind, Source, TimeRange
from .otlp_cards import AGGREGATIONS as METRIC_AGGREGATIONS
from .sources import NAMED_BY, SOURCES

FILTER_ROWS = 4
CONDITION_ROWS = 2
CHART_KINDS = {Kind.LINE, Kind.BAR, Kind.PIE}
MAX_CUSTOM_DAYS = 366


class RangeForm(forms.Form):
    """The dashboard's time-range control and refresh interval, from the query string."""

    range = forms.ChoiceField(choices=[("", "Card ranges"), *TimeRange.choices], required=False)
    start = DayField(required=False)
    end = DayField(required=False)
    refresh = forms.TypedChoiceField(
        choices=[("", "Off"), ("30", "30 s"), ("60", "1 min"), ("300", "5 min")],
        required=False,
        coerce=int,
        empty_value=None,
    )

    def clean(self):
        data = super().clean()
        if data.get("range") == TimeRange.CUSTOM:
            start, end = data.get("start"), data.get("end")
            if not start:
                self.add_error("start", "A custom range needs a start date.")
            if not end:
                self.add_error("end", "A custom range needs an end date.")
            if start and end and start > end:
                self.add_error("end", "The end date comes before the start date.")
            if start and end and (end - start).days > MAX_CUSTOM_DAYS:
                self.add_error("end", f"A custom range spans at most {MAX_CUSTOM_DAYS} days.")
        return data

    def evaluate_kwargs(self):
        """Keyword arguments for metrics.engine.evaluate: empty when every card keeps its own range."""
        data = self.cleaned_data
        if not data.get("range"):
            return {}
        return {"time_range": data["range"], "custom_start": data.get("start"), "custom_end": data.get("end")}

    def query(self):
        """The query string that carries this state to each card's own request."""
        query = QueryDict(mutable=True)
        for name in ("range", "start", "end", "refresh"):
            value = self.cleaned_data.get(name)
            if value not in (None, "") and (
                name not in ("start", "end") or self.cleaned_data["range"] == "custom"
            ):
                query[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return query.urlencode()


class DashboardForm(forms.ModelForm):
    class Meta:
        model = Dashboard
        fields = ["name"]


def rule_fields(prefix, label):
    operators = [("", "—"), *OPERATORS.items()]
    return {
        f"{prefix}_property": forms.CharField(required=False, max_length=200, label=f"{label} property"),
        f"{prefix}_operator": forms.ChoiceField(choices=operators, required=False, label="Operator"),
        f"{prefix}_value": forms.CharField(required=False, max_length=200, label="Value"),
    }


class CardForm(forms.ModelForm):
    """A card's definition, with its filter and rate-condition rows as flat fields.

    The same form checks cards coming from a dashboard import.
    """

    class Meta:
        model = DashboardCard
        fields = [name for name in CARD_FIELDS if name not in ("filters", "condition")]
        field_classes = {"custom_start": DayField, "custom_end": DayField}
        widgets = {
            "custom_start": forms.DateInput(attrs={"type": "date"}),
            "custom_end": forms.DateInput(attrs={"type": "date"}),
            "colour": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for rows, prefix, label in (
            (FILTER_ROWS, "filter", "Filter"),
            (CONDITION_ROWS, "condition", "Condition"),
        ):
            for index in range(rows):
                self.fields.update(rule_fields(f"{prefix}_{index}", label))
        if not self.is_bound:
            for prefix, rules in (("filter", self.instance.filters), ("condition", self.instance.condition)):
                for index, rule in enumerate(rules or []):
                    for part in ("property", "operator", "value"):
                        self.initial[f"{prefix}_{index}_{part}"] = rule.get(part, "")
        self.fields["event_name"].widget.attrs["list"] = "event-names"
        self.fields["metric_name"].widget.attrs["list"] = "metric-names"
        for name in ("property", "breakdown", *[f"filter_{i}_property" for i in range(FILTER_ROWS)]):
            self.fields[name].widget.attrs["list"] = "property-names"
        for index in range(CONDITION_ROWS):
            self.fields[f"condition_{index}_property"].widget.attrs["list"] = "property-names"

    def rows(self, prefix):
        count = FILTER_ROWS if prefix == "filter" else CONDITION_ROWS
        return [
            [self[f"{prefix}_{index}_{part}"] for part in ("property", "operator", "value")]
            for index in range(count)
        ]

    def filter_rows(self):
        return self.rows("filter")

    def condition_rows(self):
        return self.rows("condition")

    def clean(self):
        data = super().clean()
        source = data.get("source")
        if source not in SOURCES:
            return data
        spec = SOURCES[source]
        kind, aggregation = data.get("kind"), data.get("aggregation")
        if source not in NAMED_BY:
            data["event_name"] = ""
        elif source == Source.CUSTOM_EVENTS and data.get("event_name") and not is_custom(data["event_name"]):
            self.add_error(
                "event_name", "A custom event type is named custom.<name>, as in Settings › Event types."
            )
        if source == Source.OTLP_METRIC:
            self._check_metric(kind, aggregation)
        else:
            data["metric_name"] = ""
            if aggregation == Aggregation.LAST:
                self.add_error("aggregation", "“Last value” is for OTLP metrics: pick another aggregation.")

        if source == Source.OTLP_METRIC:
            data["property"] = ""  # the value is the point's own
        elif aggregation in NEEDS_PROPERTY:
            self._check_property("property", spec, numeric=aggregation in NEEDS_NUMBERS)
        else:
            data["property"] = ""
        if kind in CHART_KINDS and data.get("breakdown"):
            self._check_property("breakdown", spec)
        else:
            data["breakdown"] = ""

        data["filters"] = self._rules("filter", FILTER_ROWS, spec)
        data["condition"] = self._rules("condition", CONDITION_ROWS, spec)
        if (kind == Kind.RATE or aggregation == Aggregation.RATE) and not data["condition"]:
            self.add_error(
                "condition_0_property", "A rate needs a condition: what the counted rows must also meet."
            )

        if data.get("time_range") == TimeRange.CUSTOM:
            start, end = data.get("custom_start"), data.get("custom_end")
            if not start:
                self.add_error("custom_start", "A custom range needs a start date.")
            if not end:
                self.add_error("custom_end", "A custom range needs an end date.")
            if start and end and start > end:
                self.add_error("custom_end", "The end date comes before the start date.")
            if start and end and (end - start).days > MAX_CUSTOM_DAYS:
                self.add_error("custom_end", f"A custom range spans at most {MAX_CUSTOM_DAYS} days.")
        else:
            data["custom_start"] = data["custom_end"] = None
        return data

    def _check_metric(self, kind, aggregation):
        name = (self.cleaned_data.get("metric_name") or "").strip()
        self.cleaned_data["metric_name"] = name
        if not name:
            self.add_error("metric_name", "Name the metric to chart.")
        if aggregation not in METRIC_AGGREGATIONS:
            choices = ", ".join(
                str(Aggregation(value).label) for value in Aggregation if value in METRIC_AGGREGATIONS
            )
            self.add_error("aggregation", f"An OTLP metric card shows one of: {choices}.")
        if kind == Kind.RATE:
            self.add_error("kind", "OTLP metric points have no rate: pick a number or a chart.")

    def _check_property(self, field, spec, numeric=False):
        key = (self.cleaned_data.get(field) or "").strip()
        self.cleaned_data[field] = key
        if not key:
            self.add_error(field, "Pick a property.")
            return None
        prop = spec.resolve(key)
        if prop is None:
            self.add_error(field, f"{spec.label} have no property “{key}”.")
        elif numeric and not prop.may_be_numeric:
            self.add_error(field, f"“{prop.label}” is not a number: pick a numeric property.")
        return prop

    def _rules(self, prefix, count, spec):
        rules = []
        for index in range(count):
            name = f"{prefix}_{index}"
            key = (self.cleaned_data.get(f"{name}_property") or "").strip()
            operator = self.cleaned_data.get(f"{name}_operator") or ""
            value = self.cleaned_data.get(f"{name}_value") or ""
            if not key and not operator and not value:
                continue
            if not key:
                self.add_error(f"{name}_property", "Pick a property for this rule.")
                continue
            if spec.resolve(key) is None:
                self.add_error(f"{name}_property", f"{spec.label} have no property “{key}”.")
                continue
            if not operator:
                self.add_error(f"{name}_operator", "Pick an operator.")
                continue
            if operator in NUMERIC_OPERATORS and as_number(value) is None:
                self.add_error(f"{name}_value", f"“{OPERATORS[operator]}” compares numbers: enter a number.")
                continue
            rules.append(
                {
                    "property": key,
                    "operator": operator,
                    "value": "" if operator in VALUELESS_OPERATORS else value,
                }
            )
        return rules

    def save(self, commit=True):
        self.instance.filters = self.cleaned_data["filters"]
        self.instance.condition = self.cleaned_data["condition"]
        return super().save(commit)


def card_form_data(fields):
    """An exported card (a dict) as the data of a CardForm."""
    data = {name: value for name, value in fields.items() if name not in ("filters", "condition")}
    for prefix, limit in (("filter", FILTER_ROWS), ("condition", CONDITION_ROWS)):
        rules = fields.get("filters" if prefix == "filter" else "condition") or []
        if not isinstance(rules, list) or len(rules) > limit:
            raise ValueError(f"{prefix}s: at most {limit} rules")
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict):
                raise ValueError(f"{prefix}s: each rule is an object")
            for part in ("property", "operator", "value"):
                data[f"{prefix}_{index}_{part}"] = rule.get(part, "")
    if data.get("hide_without_data") is False:
        data.pop("hide_without_data")
    return {name: "" if value is None else value for name, value in data.items()}


class ImportForm(forms.Form):
    file = forms.FileField(required=False, help_text="A dashboard exported as JSON.")
    text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 8}), label="…or paste the JSON"
    )

    MAX_BYTES = 1024 * 1024
    MAX_CARDS = 100

    def clean(self):
        data = super().clean()
        upload, text = data.get("file"), data.get("text")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError("The file is larger than 1 MB: that is not a dashboard export.")
            text = upload.read().decode("utf-8", errors="replace")
        if not text:
            raise forms.ValidationError("Choose a file or paste the JSON of a dashboard.")
        try:
            exported = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"This is not valid JSON: {exc}") from None
        if not isinstance(exported, dict) or exported.get("format") != EXPORT_FORMAT:
            raise forms.ValidationError(
                f"This is not a dashboard export (its “format” is not {EXPORT_FORMAT})."
            )
        if exported.get("version") != EXPORT_VERSION:
            raise forms.ValidationError(f"Only version {EXPORT_VERSION} exports can be imported.")
        cards = exported.get("cards")
        if not isinstance(cards, list) or len(cards) > self.MAX_CARDS:
            raise forms.ValidationError(f"“cards” must be a list of at most {self.MAX_CARDS} cards.")
        name = str(exported.get("name") or "Imported dashboard")[:100]
        forms_, problems = [], []
        for number, fields in enumerate(cards, start=1):
            title = fields.get("title", "") if isinstance(fields, dict) else ""
            try:
                form = CardForm(data=card_form_data(fields))
            except (ValueError, AttributeError) as exc:
                problems.append(f"Card {number} “{title}”: {exc}")
                continue
            if not form.is_valid():
                for field, errors in form.errors.items():
                    problems.extend(f"Card {number} “{title}”, {field}: {error}" for error in errors)
            forms_.append(form)
        if problems:
            raise forms.ValidationError(problems)
        data["name"], data["cards"] = name, forms_
        return data


class RuleField(RepeatedField):
    """`property:operator:value` rules over the rows of a card source (`amount:gt:10`, `plan:eq:pro`,
    `coupon:set:`), matched as a card's filters are (metrics.engine.rows_matching): what a card's
    drill-through link carries to a list of its rows (metrics.drill)."""

    def __init__(self, source=Source.EVENTS, **kwargs):
        super().__init__(max_length=700, **kwargs)
        self.source = source

    def to_python(self, value):
        spec = SOURCES[self.source]
        rules = []
        for item in super().to_python(value):
            key, _, rest = item.partition(":")
            operator, separated, wanted = rest.partition(":")
            if not separated or spec.resolve(key) is None:
                raise forms.ValidationError(f"“{item}” is not property:operator:value.")
            if operator not in OPERATORS:
                raise forms.ValidationError(f"“{item}”: the operator is one of {', '.join(OPERATORS)}.")
            if operator in NUMERIC_OPERATORS and as_number(wanted) is None:
                raise forms.ValidationError(f"“{item}”: “{OPERATORS[operator]}” compares numbers.")
            rules.append({"property": key.strip(), "operator": operator, "value": wanted})
        return rules


WHERE_HELP = (
    "property:operator:value, as a card's filters (eq, ne, contains, gt, gte, lt, lte, set, not_set); "
    "repeatable."
)


class TrackedEventFilterForm(DateRangeForm):
    """The business events list and its API (metrics.api): what a list of events may be narrowed to."""

    name = forms.CharField(required=False, max_length=200, help_text="Events of this name.")
    run = forms.CharField(required=False, max_length=200, help_text="Events of this run (its run_id).")
    session = forms.CharField(required=False, max_length=200, help_text="Events of this session_id.")
    where = RuleField(label="Property rules", help_text=WHERE_HELP)

    def narrow(self, events):
        data = self.cleaned_data
        lookups = {"name": "name", "run": "run__run_id", "session": "session__session_id"}
        events = events.filter(**{path: data[name] for name, path in lookups.items() if data[name]})
        return rows_matching(events, SOURCES[Source.EVENTS], data["where"]) if data["where"] else events


class CardRowsForm(DateRangeForm):
    """The rows of a card source that has no list of its own (tasks, scores, custom events), narrowed
    by a card's event name and rules."""

    name = forms.CharField(required=False, max_length=200, help_text="The custom event type.")
    where = RuleField(label="Rules", help_text=WHERE_HELP)

    def __init__(self, data, source):
        super().__init__(data)
        self.source = source
        self.fields["where"].source = source

    def narrow(self, rows):
        data = self.cleaned_data
        if data["name"] and self.source in NAMED_BY:
            rows = rows.filter(**{NAMED_BY[self.source]: data["name"]})
        return rows_matching(rows, SOURCES[self.source], data["where"]) if data["where"] else rows
