"""/api/v1/event-types: a workspace's own `custom.<name>` event types (a key with the admin scope)."""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from backoffice import audit
from backoffice.api_auth import AdminKeyAuth
from backoffice.api_errors import Input, problems
from traces.ingest import custom
from traces.models import EventType

router = Router(tags=["event types"], auth=AdminKeyAuth())


class EventTypeIn(Input):
    name: str = Field(description=f"The part after `custom.`: {custom.NAME_RULE}.", examples=["refund"])
    description: str = Field("", max_length=500)
    body_schema: dict[str, Any] = Field(
        alias="schema", description="A JSON Schema (2020-12 unless its $schema names another draft)."
    )


class EventTypeOut(Schema):
    name: str
    type: str
    description: str
    body_schema: dict[str, Any] = Field(alias="schema")
    created_by: str
    created_at: datetime


def out(event_type):
    return {
        "name": event_type.name,
        "type": event_type.type,
        "description": event_type.description,
        "schema": event_type.schema,
        "created_by": event_type.created_by,
        "created_at": event_type.created_at,
    }


@router.get(
    "", response={200: list[EventTypeOut], **problems()}, by_alias=True, summary="The workspace's event types"
)
def event_type_list(request):
    return [out(event_type) for event_type in EventType.objects.filter(workspace=request.workspace)]


@router.post(
    "",
    response={201: EventTypeOut, **problems(409)},
    by_alias=True,
    summary="Define an event type: ingest then validates its events' bodies against the schema",
)
def event_type_create(request, payload: EventTypeIn):
    for field, problem in (
        ("name", custom.name_problem(payload.name)),
        ("schema", custom.schema_problem(payload.body_schema)),
    ):
        if problem:
            return Status(422, {"detail": f"{field}: {problem}", "field": field})
    event_type = EventType(
        workspace=request.workspace,
        name=payload.name,
        description=payload.description,
        schema=payload.body_schema,
        created_by=audit.actor_of(request)[1],
    )
    try:
        with transaction.atomic():
            event_type.save()
    except IntegrityError:
        detail = f"name: custom.{payload.name} is defined already; delete it first to change it"
        return Status(409, {"detail": detail, "field": "name"})
    audit.record(request, "event_type.created", event_type.type, {"schema": [None, event_type.schema]})
    return Status(201, out(event_type))


def get_event_type(request, name):
    return get_object_or_404(EventType.objects.filter(workspace=request.workspace), name=name)


@router.get("/{name}", response={200: EventTypeOut, **problems()}, by_alias=True, summary="An event type")
def event_type_get(request, name: str):
    return out(get_event_type(request, name))


@router.delete("/{name}", response={204: None, **problems()}, summary="Delete an event type")
def event_type_delete(request, name: str):
    """Its stored events stay; new events of the type are refused until it is defined again."""
    event_type = get_event_type(request, name)
    event_type.delete()
    audit.record(request, "event_type.deleted", event_type.type, {"schema": [event_type.schema, None]})
    return Status(204, None)
