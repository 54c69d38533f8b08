"""Filters, sort and count of the runs of a workspace: one form serves the Runs page and the API.

The query string is parsed by RunFilterForm (a bad value is an error naming its field: a form error on
the page, a 400 on the API), `matching()` turns the clean values into a queryset, `SORTS` says how it is
ordered and paged (a keyset on the sort key and the id, for every sort), and `count_matches()` counts
without reading more than COUNT_LIMIT rows.
"""

import json
import re
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact
from django.utils import timezone

from .forms import DateRangeForm, agent_choices, of_agent
from .graphs.across_runs import MOVE_KINDS, runs_taking
from .keyset import Keyset
from .models import HAS_ERROR, ModelCall, Run, RunStatus, Task, TaskStatus
from .scores.queries import runs_with_score, score_condition
from .search.query import run_ids_matching

# A count reads at most this many rows plus one; past it the page says "more than 10,000".
COUNT_LIMIT = 10_000

# Sort keys, the column each orders by and how its cursor reads back. Runs without a value (a running
# run's duration, an unknown cost) sort above the others: first when highest first.
SORT_KEYS = {
    "time": Keyset("started_at"),
    "duration": Keyset("duration_ms", kind="int", nullable=True),
    "tokens": Keyset("total_tokens", kind="int"),
    "cost": Keyset("cost", kind="decimal", nullable=True),
    # Ingest order: an immutable key, the one to page through while runs keep arriving and changing.
    "id": Keyset("id", kind="int"),
}
SORT_LABELS = {
    "time": "time",
    "duration": "duration",
    "tokens": "tokens",
    "cost": "cost",
    "id": "ingest order",
}

SORTS = {
    **{f"-{name}": keyset for name, keyset in SORT_KEYS.items()},
    **{name: keyset.flipped() for name, keyset in SORT_KEYS.items()},
}
SORT_CHOICES = [
    (name, f"{SORT_LABELS[name.lstrip('-')]}, {'highest' if name.startswith('-') else 'lowest'} first")
    for name in SORTS
]
# Cursors of every sort: "<time in µs | integer | decimal | n>.<id>".
SORT_CURSOR = RegexValidator(
    r"^(n|\d{1,20}(\.\d{1,10})?)\.\d{1,20}$", "Not a page cursor: follow the page links."
)
# Presets of the time range: the last hour, day, week, month or quarter.
PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
PERIODS |= {"30d": timedelta(days=30), "90d": timedelta(days=90)}
PERIOD_CHOICES = [("", "Any time")] + [(key, f"Last {key}") for key in PERIODS]
# A score condition: the name, a comparison, the value (longest operators first).
SCORE_OPERATORS = {"<=": "lte", ">=": "gte", "!=": "ne", "<": "lt", ">": "gt", "=": "eq"}
SCORE_CONDITION = re.compile(r"^([^<>=!]{1,100})(<=|>=|!=|<|>|=)(.{1,100})$", re.DOTALL)
METADATA_PAIR = re.compile(r"^([^=]{1,100})=(.{0,500})$", re.DOTALL)


class RepeatedField(forms.Field):
    """A parameter that may be given several times (`tag=a&tag=b`); empty values are dropped."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_length=200, **kwargs):
        super().__init__(required=False, **kwargs)
        self.max_length = max_length

    def to_python(self, value):
        values = [item.strip() for item in value or [] if item and item.strip()]
        if len(values) > 20:
            raise forms.ValidationError("At most 20 values.")
        for item in values:
            if len(item) > self.max_length:
                raise forms.ValidationError(f"A value is longer than {self.max_length} characters.")
        return values


class MetadataField(RepeatedField):
    def __init__(self, **kwargs):
        super().__init__(max_length=601, **kwargs)

    def to_python(self, value):
        pairs = []
        for item in super().to_python(value):
            match = METADATA_PAIR.match(item)
            if not match:
                raise forms.ValidationError(f"“{item}” is not key=value.")
            pairs.append((match[1].strip(), match[2].strip()))
        return pairs


class ScoreConditionField(RepeatedField):
    """`name<3`, `name>=4`, `name=rude`, `name!=true`: a score the run must have (traces.scores)."""

    def to_python(self, value):
        conditions = []
        for item in super().to_python(value):
            match = SCORE_CONDITION.match(item)
            if not match:
                raise forms.ValidationError(
                    f"“{item}” is not a score condition such as helpfulness<3 or tone=rude."
                )
            name, operator, wanted = match[1].strip(), SCORE_OPERATORS[match[2]], match[3].strip()
            try:
                score_condition(name, operator, wanted)
            except ValueError as problem:
                raise forms.ValidationError(f"“{item}”: {problem}.") from None
            conditions.append((name, operator, wanted))
        return conditions


def decimal_field(label, **kwargs):
    return forms.DecimalField(
        required=False, min_value=0, max_digits=20, decimal_places=10, label=label, **kwargs
    )


def count_field(label):
    return forms.IntegerField(required=False, min_value=0, max_value=10**15, label=label)


class RunFilterForm(DateRangeForm):
    """What a list of runs may be narrowed to, how it is sorted, and where its page starts."""

    agent = forms.ChoiceField(required=False)
    # A dashboard card names agents by name (metrics.sources); its drill-through links do too.
    agent_name = forms.CharField(
        required=False, max_length=200, widget=forms.HiddenInput, help_text="Runs of agents of this name."
    )
    q = forms.CharField(
        required=False, max_length=200, label="Search", help_text="Runs whose stored text holds every word."
    )
    workflow = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *RunStatus.choices])
    user = forms.CharField(required=False, max_length=200, label="End user")
    tag = RepeatedField(help_text="Runs with this tag; repeat for runs with all of them.")
    meta = MetadataField(label="Metadata", help_text="key=value of the run's metadata; repeatable.")
    score = ScoreConditionField(help_text="A score the run has: helpfulness<3, tone=rude; repeatable.")
    model = forms.CharField(required=False, max_length=200, help_text="Runs that called this model.")
    step = forms.CharField(
        required=False,
        max_length=200,
        help_text="Runs with a task of this name (or step id, if it has none).",
    )
    failed_step = forms.CharField(
        required=False,
        max_length=200,
        label="Failed step",
        help_text="Runs where a task of this name (or step id, if it has none) failed.",
    )
    # A workflow graph's edge across runs (traces.graphs.across_runs): the runs that took it.
    edge_from = forms.CharField(
        required=False, max_length=200, widget=forms.HiddenInput, help_text="Runs that moved from this step …"
    )
    edge_to = forms.CharField(
        required=False, max_length=200, widget=forms.HiddenInput, help_text="… to this one (with edge_from)."
    )
    edge_kind = forms.ChoiceField(
        required=False,
        choices=[("", "flow"), *((kind, kind) for kind in MOVE_KINDS)],
        widget=forms.HiddenInput,
        help_text="How the edge was inferred: flow (the default) or succession.",
    )
    error = forms.BooleanField(
        required=False, label="Errors only", help_text="Failed runs or runs with an error."
    )
    min_duration = decimal_field("Min duration (s)")
    max_duration = decimal_field("Max duration (s)")
    min_tokens = count_field("Min tokens")
    max_tokens = count_field("Max tokens")
    min_cost = decimal_field("Min cost")
    max_cost = decimal_field("Max cost")
    period = forms.ChoiceField(required=False, choices=PERIOD_CHOICES, help_text="Runs started in the last …")
    sort = forms.ChoiceField(
        required=False, choices=SORT_CHOICES, help_text="A sort key; a leading - for highest first."
    )
    default_sort = "-time"
    # The parameters that hold a page cursor of the chosen sort.
    cursor_fields = ("after", "before")

    def __init__(self, data, agents):
        super().__init__(data)
        self.fields["agent"].choices = agent_choices(agents)
        self.fields["after"].validators = self.fields["before"].validators = [SORT_CURSOR]

    def clean(self):
        data = super().clean()
        data["sort"] = data.get("sort") or self.default_sort
        for low, high in (
            ("min_duration", "max_duration"),
            ("min_tokens", "max_tokens"),
            ("min_cost", "max_cost"),
        ):
            if data.get(low) is not None and data.get(high) is not None and data[high] < data[low]:
                self.add_error(high, "The maximum is below the minimum.")
        if bool(data.get("edge_from")) != bool(data.get("edge_to")):
            self.add_error("edge_to" if data.get("edge_from") else "edge_from", "Name both ends of the edge.")
        if data.get("period") and (data.get("since") or data.get("until")):
            self.add_error("period", "Use either a period or dates, not both.")
        keyset = SORTS[data["sort"]]
        for name in self.cursor_fields:
            if data.get(name):
                try:
                    keyset.decode(data[name])
                except (ValueError, ArithmeticError, OverflowError):
                    self.add_error(name, "Not a cursor of this sort: follow the page links.")
        return data

    @property
    def keyset(self):
        return SORTS[self.cleaned_data["sort"]]


def has_tag(tag):
    """Runs whose tags hold `tag`: JSON containment on PostgreSQL, json_each on SQLite (which has no
    containment operator)."""
    if connection.vendor == "postgresql":
        return Q(tags__contains=[tag])
    # The tag is a parameter; the SQL is constant.
    sql = "EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = %s)"
    return Q(RawSQL(sql, [tag], output_field=BooleanField()))  # noqa: S611


def metadata_is(key, value):
    """The metadata value of `key`, as text (a number 3 is "3"), equals `value`. The key is a JSON key
    taken as it is, never split at "__".

    On PostgreSQL, JSON containment of the values whose text `value` can be (the string, and the
    number, boolean, list or object it spells) comes first: the run_by_metadata GIN index answers it,
    and the text comparison keeps the meaning exact (3.0 contains as 3, but its text is "3.0")."""
    same_text = Q(Exact(Cast(KeyTextTransform(key, "metadata"), TextField()), value))
    if connection.vendor != "postgresql":
        return same_text
    contained = Q(metadata__contains={key: value})
    spelled = json_spelled(value)
    if spelled is not None and not isinstance(spelled, str):
        contained |= Q(metadata__contains={key: spelled})
    return contained & same_text


def json_spelled(text):
    """The JSON value `text` spells, or None (not JSON, or a number JSON cannot hold: NaN, 1e999)."""
    try:
        value = json.loads(text)
        json.dumps(value, allow_nan=False)
    except ValueError:
        return None
    return value


def seconds_ms(seconds):
    return int(seconds * Decimal(1000))


def matching(workspace, form, agents):
    """The workspace's runs that the valid `form` asks for (not yet ordered or paged); `agents` are the
    workspace's agents the form was built with."""
    data = form.cleaned_data
    runs = Run.objects.filter(workspace=workspace, **form.time_range("started_at"))
    if data["period"]:
        runs = runs.filter(started_at__gte=timezone.now() - PERIODS[data["period"]])
    runs = of_agent(runs, data["agent"], agents)
    if data["agent_name"]:
        runs = runs.filter(agent__in=[agent.pk for agent in agents if agent.name == data["agent_name"]])
    exact = {"workflow": "workflow", "status": "status", "user": "user_id"}
    runs = runs.filter(**{column: data[name] for name, column in exact.items() if data[name]})
    for tag in data["tag"]:
        runs = runs.filter(has_tag(tag))
    for key, value in data["meta"]:
        runs = runs.filter(metadata_is(key, value))
    for name, operator, wanted in data["score"]:
        runs = runs_with_score(runs, name, operator, wanted)
    if data["model"]:
        calls = ModelCall.objects.filter(workspace=workspace, run=OuterRef("pk"), model=data["model"])
        runs = runs.filter(Exists(calls))
    # A step is named as the workflow graph names its node: a task without a name by its step id.
    if data["step"]:
        runs = runs.filter(having_step(workspace, data["step"]))
    if data["failed_step"]:
        runs = runs.filter(having_step(workspace, data["failed_step"], status=TaskStatus.FAILED))
    if data["error"]:
        runs = runs.filter(HAS_ERROR)
    ranges = {
        "duration_ms": (data["min_duration"], data["max_duration"], seconds_ms),
        "total_tokens": (data["min_tokens"], data["max_tokens"], int),
        "cost": (data["min_cost"], data["max_cost"], Decimal),
    }
    for column, (low, high, convert) in ranges.items():
        if low is not None:
            runs = runs.filter(**{f"{column}__gte": convert(low)})
        if high is not None:
            runs = runs.filter(**{f"{column}__lte": convert(high)})
    if data["edge_from"] and data["edge_to"]:
        kind = data["edge_kind"] or "flow"
        runs = runs.filter(runs_taking(runs.values("id"), kind, data["edge_from"], data["edge_to"]))
    if data.get("q"):
        # Full text over everything a run stored (traces.search), as a subquery of run keys.
        runs = runs.filter(pk__in=run_ids_matching(workspace, data["q"]))
    return runs


def having_step(workspace, label, **fields):
    """Runs with a task named `label` (or, without a name, of that step id) and `fields`: two EXISTS,
    each a lookup of (workspace, name, run) in task_by_name. One EXISTS of an OR read every task of
    each run instead: 3.4 s to count a common step's runs at full scale, 50 ms this way."""
    tasks = Task.objects.filter(workspace=workspace, run=OuterRef("pk"), **fields)
    return Q(Exists(tasks.filter(name=label))) | Q(Exists(tasks.filter(name="", step_id=label)))


def count_matches(queryset):
    """(count, more): the exact count when at most COUNT_LIMIT rows match, else (COUNT_LIMIT, True).
    One query that stops reading after COUNT_LIMIT + 1 rows, however many match."""
    found = queryset.order_by()[: COUNT_LIMIT + 1].count()
    return min(found, COUNT_LIMIT), found > COUNT_LIMIT
