"""The rows behind a card over tasks, scores or custom events: sources with no list of their own (the
Runs list counts runs, not the tasks or scores in them), so a card's number opens this one, narrowed
by the card's own rules with the engine's own matching (metrics.drill): its count is the card's."""

from dataclasses import dataclass

from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.keyset import Keyset
from traces.run_filters import count_matches
from traces.views.common import PAGE_SIZE, bad_query, pager_urls, render_region, time_bounds

from ..forms import CardRowsForm
from ..models import Source
from ..sources import SOURCES


@dataclass(frozen=True)
class RowList:
    title: str
    noun: str
    related: tuple


# Each served by its source's (workspace, time) index: task_by_time, score_latest, event_by_time.
LISTS = {
    Source.TASKS: RowList("Tasks", "task", ("run",)),
    Source.SCORES: RowList("Scores", "score", ("run",)),
    Source.CUSTOM_EVENTS: RowList("Custom events", "event", ("run",)),
}


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def card_rows(request, source):
    listing, spec = LISTS[source], SOURCES[source]
    form = CardRowsForm(request.GET, source)
    if not form.is_valid():
        return bad_query(request, form)
    data = form.cleaned_data
    rows = spec.queryset(request.workspace).filter(
        **{f"{spec.time_field}__isnull": False}, **form.time_range(spec.time_field)
    )
    rows = form.narrow(rows)
    count, more = count_matches(rows)
    page = Keyset(spec.time_field).page(
        rows.select_related(*listing.related), after=data["after"], before=data["before"], size=PAGE_SIZE
    )
    context = {
        "form": form,
        "source": source,
        "listing": listing,
        "page": page,
        "count": count,
        "more": more,
        **pager_urls(request, page, data),
        **time_bounds(request, form),
    }
    return render_region(request, "metrics/card_rows.html", context, {"rows": "rows"})
