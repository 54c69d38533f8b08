"""Finding scores (the API's keyset pages, a run's scores) and runs by a score (the Runs list filter)."""

import re
from collections import defaultdict

from django.db.models import Exists, OuterRef, Q

from traces.keyset import Keyset
from traces.models import Score, ScoreDataType

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
NEWEST = Keyset("created_at")
CURSOR = re.compile(r"-?\d{1,20}\.\d{1,20}")

# How a run's score may be compared: `helpfulness < 3`, `tone = rude`, `hallucination = true`.
OPERATORS = {
    "lt": "value__lt",
    "lte": "value__lte",
    "gt": "value__gt",
    "gte": "value__gte",
}
EQUALITY = ("eq", "ne")


def scores_in(workspace):
    """The workspace's scores with the public ids of what they score."""
    return Score.objects.filter(workspace=workspace).select_related("run", "task", "session", "message")


def scores_of_runs(runs):
    """The scores of these runs, by run primary key, in name order. One query."""
    found = {run.pk: [] for run in runs}
    scores = Score.objects.filter(run__in=list(found)).select_related("task", "message", "session")
    for score in scores.order_by("run_id", "name", "id"):
        found[score.run_id].append(score)
    return found


def score_summaries(runs):
    """{run pk: "helpfulness 4 · tone ok"}: each score name of the run with its values (several
    reviewers' values joined by "/"), in name order, for the Runs list. One query."""
    values = defaultdict(lambda: defaultdict(list))
    rows = Score.objects.filter(run__in=[run.pk for run in runs]).order_by("run_id", "name", "id")
    for run_pk, name, data_type, number, label in rows.values_list(
        "run_id", "name", "data_type", "value", "string_value"
    ):
        shown = f"{number:g}" if data_type == ScoreDataType.NUMERIC and number is not None else label
        values[run_pk][name].append(shown)
    return {
        run_pk: " · ".join(f"{name} {'/'.join(found)}" for name, found in names.items())
        for run_pk, names in values.items()
    }


def page_of_scores(queryset, after=None, size=PAGE_SIZE):
    """(scores, cursor of the next page or None), newest first. `after` was checked by valid_cursor."""
    page = NEWEST.page(queryset, after=after, size=size)
    return page.rows, page.next


def valid_cursor(text):
    return bool(CURSOR.fullmatch(text or ""))


def score_condition(name, operator, value):
    """Q over scores: named `name`, and compared to `value` with `operator` (lt, lte, gt, gte on the
    number; eq, ne on the label, or the number when `value` is one). ValueError for a bad comparison."""
    condition = Q(name=name)
    if operator in OPERATORS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        return condition & Q(**{OPERATORS[operator]: number})
    if operator not in EQUALITY:
        raise ValueError(f"{operator!r} is not one of {', '.join([*OPERATORS, *EQUALITY])}")
    label = str(value).strip()
    same = Q(string_value=label.lower() if label.lower() in ("true", "false") else label)
    number = as_number(value)
    if number is not None:
        same |= Q(value=number, data_type="numeric")
    return condition & (same if operator == "eq" else ~same)


def as_number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def runs_with_score(runs, name, operator, value):
    """Runs of the queryset that have a score `name` compared so with `value` (see score_condition):
    `runs_with_score(runs, "helpfulness", "lt", 3)`, `runs_with_score(runs, "tone", "eq", "rude")`.

    One EXISTS per run, probing the run's scores by name (index score_by_run).
    """
    matching = Score.objects.filter(score_condition(name, operator, value), run=OuterRef("pk"))
    return runs.filter(Exists(matching))
