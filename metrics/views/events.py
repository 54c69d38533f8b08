"""Business events: every event tracked with `track()`, newest first, filtered as a card filters them,
so that a business-events card's number opens the very events it counted (metrics.drill)."""

from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.keyset import Keyset
from traces.run_filters import count_matches
from traces.views.common import PAGE_SIZE, bad_query, pager_urls, render_region, time_bounds

from ..forms import TrackedEventFilterForm
from ..models import TrackedEvent

# Served by the tracked_by_time index (workspace, timestamp), or tracked_by_name with a name.
EVENTS = Keyset("timestamp")
LISTED_FIELDS = (
    "id",
    "name",
    "properties",
    "timestamp",
    "agent__agent_id",
    "agent__name",
    "session__session_id",
    "run__run_id",
)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def event_list(request):
    form = TrackedEventFilterForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    data = form.cleaned_data
    events = form.narrow(
        TrackedEvent.objects.filter(workspace=request.workspace, **form.time_range("timestamp"))
    )
    count, more = count_matches(events)
    page = EVENTS.page(
        events.select_related("agent", "session", "run").only(*LISTED_FIELDS),
        after=data["after"],
        before=data["before"],
        size=PAGE_SIZE,
    )
    context = {
        "form": form,
        "page": page,
        "count": count,
        "more": more,
        **pager_urls(request, page, data),
        **time_bounds(request, form),
    }
    return render_region(request, "metrics/event_list.html", context, {"events": "events"})
