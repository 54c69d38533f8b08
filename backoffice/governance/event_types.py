"""Settings › Event types: the workspace's own `custom.<name>` events and the JSON Schema of their body."""

import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from backoffice import audit
from backoffice.access import workspace_view
from backoffice.models import Role
from traces.models import EventType

from .forms import EventTypeForm

EXAMPLE = {
    "type": "object",
    "required": ["order_id", "amount"],
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "minimum": 0}},
}


def render_event_types(request, form=None):
    event_types = list(EventType.objects.filter(workspace=request.workspace))
    for event_type in event_types:
        event_type.schema_text = json.dumps(event_type.schema, indent=2, ensure_ascii=False)
    context = {
        "section": "event_types",
        "event_types": event_types,
        "form": form or EventTypeForm(initial={"schema": EXAMPLE}),
    }
    return render(request, "backoffice/governance/event_types.html", context)


@require_GET
@workspace_view(Role.ADMIN)
def event_type_list(request):
    return render_event_types(request)


@require_POST
@workspace_view(Role.ADMIN)
def event_type_create(request):
    form = EventTypeForm(request.POST, instance=EventType(workspace=request.workspace))
    if not form.is_valid():
        return render_event_types(request, form)
    event_type = form.save(commit=False)
    event_type.created_by = audit.actor_of(request)[1]
    event_type.save()
    audit.record(request, "event_type.created", event_type.type, {"schema": [None, event_type.schema]})
    messages.success(request, f"{event_type.type} defined: ingest accepts its events from now on.")
    return redirect("governance:event_types", workspace=request.workspace.slug)


@require_POST
@workspace_view(Role.ADMIN)
def event_type_delete(request, event_type_id):
    event_type = get_object_or_404(EventType.objects.filter(workspace=request.workspace), pk=event_type_id)
    event_type.delete()
    audit.record(request, "event_type.deleted", event_type.type, {"schema": [event_type.schema, None]})
    messages.success(request, f"{event_type.type} deleted: its stored events stay, new ones are refused.")
    return redirect("governance:event_types", workspace=request.workspace.slug)
