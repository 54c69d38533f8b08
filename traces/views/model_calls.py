"""Model calls: every call, newest first, under a per-model roll-up of the chosen range."""

from datetime import timedelta

from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from backoffice.access import workspace_view
from traces.forms import ModelCallFilterForm
from traces.keyset import Keyset
from traces.models import ModelCall
from traces.rollups.model_calls import model_rollup
from traces.run_filters import count_matches

from .common import PAGE_SIZE, bad_query, fragment_target, pager_urls, render_region, time_bounds

CALLS = Keyset("created_at")
# Without a chosen range the roll-up covers this much, so its query stays bounded.
DEFAULT_ROLLUP_DAYS = 7
LISTED_FIELDS = (
    "id",
    "run__run_id",
    "run__invocation_id",
    "step_id",
    "call_id",
    "provider",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "total_tokens",
    "latency_ms",
    "ttft_ms",
    "cost",
    "finish_reason",
    "status",
    "created_at",
)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def model_call_list(request):
    form = ModelCallFilterForm(request.GET)
    if not form.is_valid():
        return bad_query(request, form)
    data = form.cleaned_data
    in_range = ModelCall.objects.filter(workspace=request.workspace, **form.time_range("created_at"))
    calls = form.narrow(in_range)
    if data["provider"]:
        in_range = in_range.filter(provider=data["provider"])
    page = CALLS.page(
        calls.select_related("run").only(*LISTED_FIELDS),
        after=data["after"],
        before=data["before"],
        size=PAGE_SIZE,
    )
    count, more = count_matches(calls)
    context = {
        "form": form,
        "page": page,
        "count": count,
        "more": more,
        **pager_urls(request, page, data),
        **time_bounds(request, form),
    }
    # Paging swaps the list of calls alone: the roll-up of the range, the page's costliest query,
    # is the same on every page of it.
    if fragment_target(request) != "calls":
        default_range = not (data["since"] or data["until"] or data["start"] or data["end"])
        if default_range:
            in_range = in_range.filter(created_at__gte=timezone.now() - timedelta(days=DEFAULT_ROLLUP_DAYS))
        context.update(
            rollup=model_rollup(in_range), default_range=default_range, rollup_days=DEFAULT_ROLLUP_DAYS
        )
    regions = {"results": "results", "calls": "calls"}
    return render_region(request, "traces/model_call_list.html", context, regions)
