"""The one error shape of the JSON API, and the schema base that keeps NUL out of what it accepts.

Every 4xx of /api/v1/ is a Problem: `detail` says what is wrong, `field` names the parameter, body
field or header it is about (null when none is), and a validation error lists every bad field in
`errors`. Routes document theirs with `problems(…)`, and backoffice/api.py reshapes ninja's own
answers (its 422 list, its 400 for an unreadable body, its 401) into it.
"""

from ninja import Schema
from pydantic import field_validator

NUL = "\x00"


class FieldProblem(Schema):
    field: str
    detail: str


class Problem(Schema):
    detail: str
    field: str | None = None
    errors: list[FieldProblem] | None = None


DESCRIPTIONS = {
    400: "Bad request: a NUL character in the path or a parameter, or a body that is not JSON.",
    401: "No API key, or not a usable one.",
    404: "No such object in the key's workspace, or no such route.",
    403: "The key lacks the scope this operation needs: `field` is `scope`.",
    409: "Conflict with what is stored.",
    413: "Body too large.",
    422: "A parameter or body field is not valid: `field` names it, `errors` lists them all.",
    429: "Too many requests: wait for Retry-After seconds.",
    502: "An outside service this operation calls (an agent's replay webhook) failed: `detail` says how.",
    503: "The database cannot be reached: send again after Retry-After seconds.",
}

# Seconds a client waits before sending again when the database cannot be reached (a 503).
RETRY_AFTER_UNAVAILABLE = 5

# What every key-authenticated route may answer, whatever its parameters.
ALWAYS = (400, 401, 403, 404, 422, 429, 503)


def problems(*codes):
    """The `response` entries of these error statuses, all answered as a Problem."""
    return dict.fromkeys(sorted({*ALWAYS, *codes}), Problem)


def holds_nul(value):
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple | set):
        return any(holds_nul(item) for item in value)
    return False


class Input(Schema):
    """Base of the API's request schemas: PostgreSQL cannot store or compare U+0000, so any string of
    the request that holds one is a validation error of its field (422), on both databases."""

    @field_validator("*")
    @classmethod
    def no_nul(cls, value):
        if holds_nul(value):
            raise ValueError("must not contain the NUL character (U+0000)")
        return value


def field_of(loc):
    """`comment` for ("body", "payload", "comment"), `limit` for ("query", "limit"), `tags.1` for a
    list item: where ninja located an error, without its source and body parameter name."""
    source, *rest = loc
    if source == "body" and len(rest) > 1:
        rest = rest[1:]
    return ".".join(str(part) for part in rest) or str(source)


def validation_problem(errors):
    """A Problem from ninja's list of pydantic errors."""
    listed = []
    for error in errors:
        message = error.get("msg", "not valid")
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        listed.append({"field": field_of(error.get("loc", ("body",))), "detail": message})
    if not listed:
        return {"detail": "not valid", "field": None, "errors": []}
    first = listed[0]
    return {"detail": f"{first['field']}: {first['detail']}", "field": first["field"], "errors": listed}
