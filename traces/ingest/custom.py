"""A workspace's own event types, `custom.<name>`, whose bodies a JSON Schema describes.

The schema is checked against its metaschema when it is saved (the draft its `$schema` names, 2020-12
when it names none), and every event of the type is validated against it at ingest by the maintained
`jsonschema` library. A rejection names the field (the path into the body) and the schema rule that
failed. An event may carry `run_id` and `step_id` as any event does: it then goes to that run's event
log, and the run is created if it is not known yet, as for every other type.
"""

import re
from typing import Annotated

from jsonschema import validators
from jsonschema.exceptions import SchemaError, best_match
from pydantic import StringConstraints
from referencing.exceptions import Unresolvable

from traces.models import EventType

from .schemas import Body, Envelope, Id

PREFIX = "custom."
# The events table keeps a type in 32 characters: "custom." and 25 more.
NAME = re.compile(r"[a-z][a-z0-9_.-]{0,24}")
NAME_RULE = "a lowercase letter, then up to 24 lowercase letters, digits, '_', '.' or '-'"
HOW_TO_DEFINE = (
    "define it in Settings › Event types or with POST /api/v1/event-types (a key with the admin scope)"
)
DEFAULT_DRAFT = validators.Draft202012Validator


def is_custom(event_type):
    return isinstance(event_type, str) and event_type.startswith(PREFIX)


def name_problem(name):
    """Why `name` cannot name a custom type, or None."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        return f"must be {NAME_RULE}"
    return None


def validator_class(schema):
    return validators.validator_for(schema, default=DEFAULT_DRAFT)


def schema_problem(schema):
    """Why `schema` is not a usable JSON Schema for an event body, or None."""
    if not isinstance(schema, dict):
        return "must be a JSON object (a JSON Schema)"
    if not isinstance(schema.get("$schema", ""), str):
        return "not a valid JSON Schema: $schema must be the URI of a draft"
    try:
        validator_class(schema).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        return f"not a valid JSON Schema: {exc.message}" + (f" (at {where})" if where else "")
    # A $ref that leads nowhere (or outside the schema: nothing is fetched) would refuse every event
    # that reaches it: tried once on a value of each JSON kind.
    validator = validator_class(schema)(schema)
    for sample in ({}, [], "", 0, None, True):
        problem = unusable(validator, sample)
        if problem:
            return f"not a usable JSON Schema: {problem}"
    return None


def unusable(validator, body):
    """Why the schema cannot judge `body` (a $ref it cannot resolve, a reference loop), or None."""
    try:
        for _ in validator.iter_errors(body):
            pass
    except Unresolvable as exc:
        return f"$ref cannot be resolved ({exc})"
    except RecursionError:
        return "its $refs loop forever"
    return None


def body_problem(validator, body):
    """(field, reason) for the first way `body` breaks the type's schema, or None.

    The field is the dotted path into the event (`body.items.0.sku`); the reason is the library's
    message and the schema rule that failed (`required`, `properties/amount/type`…)."""
    problem = unusable(validator, body)
    if problem:
        return "type", f"the schema of this type cannot judge this body: {problem}"
    error = best_match(validator.iter_errors(body))
    if error is None:
        return None
    field = ".".join(["body", *(str(part) for part in error.path)])
    rule = "/".join(str(part) for part in error.schema_path)
    return field, f"{error.message} (schema rule: {rule})"


def catalogue(workspace, types):
    """{type: validator} of the workspace's definitions among `types`. One query; none when empty."""
    names = [event_type[len(PREFIX) :] for event_type in types if is_custom(event_type)]
    if not names:
        return {}
    found = EventType.objects.filter(workspace=workspace, name__in=names).values_list("name", "schema")
    return {PREFIX + name: validator_class(schema)(schema) for name, schema in found}


class CustomEnvelope(Envelope):
    """The envelope of a custom event: as every event's, with a `custom.<name>` type."""

    type: Annotated[str, StringConstraints(pattern=r"^custom\.[a-z][a-z0-9_.-]{0,24}$")]


class CustomBody(Body):
    """What the fold reads of a custom body; the rest is the workspace's schema's business."""

    run_id: Id | None = None
    step_id: Id | None = None
