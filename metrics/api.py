"""The read API's list and export of business events (tracked with `track()`), beside the run record's
(traces.list_api): the traces app never reads metrics, so this router is registered on its own."""

from ninja import Router

from backoffice.api_auth import ApiKeyAuth
from backoffice.api_lists import ApiListForm, Listing

from .forms import TrackedEventFilterForm
from .models import TrackedEvent

router = Router(tags=["lists and exports"], auth=ApiKeyAuth())


class EventListForm(ApiListForm, TrackedEventFilterForm):
    pass


EVENT_ITEM = {
    "event_id": "event_id",
    "name": "name",
    "properties": "properties",
    "timestamp": "timestamp",
    "agent_id": "agent__agent_id",
    "session_id": "session__session_id",
    "run_id": "run__run_id",
}


def events_of(request, form, agents):
    events = TrackedEvent.objects.filter(workspace=request.workspace, **form.time_range("timestamp"))
    return form.narrow(events)


Listing("events", EventListForm, events_of, EVENT_ITEM, summary="Business events").register(router)
