"""The Langfuse SDK's score calls, answered as Langfuse answers them, so the SDK logs no error.

- `POST /api/public/scores`: the latest SDK sends a list of scores (202 `{"message": "Accepted"}`, or
  207 with counts and errors when some were rejected); a single score answers `{"id"}`.
- `POST /api/public/ingestion`: the 3.x SDK sends `score-create` events in a batch; the answer is
  always the 207 multi-status `{"successes": [{"id", "status"}], "errors": [{"id", "status",
  "message", "error"}]}`.
- `GET /api/public/projects`: the SDK's `auth_check()` needs one project: the key's workspace.

Keys come as for the SDK's OTel path: HTTP Basic with the Backoffice key as the password. A Langfuse
trace id is the run id of the trace's run (OTLP runs take the trace id), an observation id the
step id of its span.
"""

import json

from django.http import JsonResponse
from django.views.decorators.http import require_GET, require_POST

from backoffice.api_auth import api_key_view
from backoffice.api_errors import holds_nul
from backoffice.models import Scope
from traces.ingest.request_body import BodyError, read_body
from traces.models import ScoreSource

from .configs import ScoreError
from .records import ScoreIn, save_scores

MAX_SCORES = 1000
MAX_BYTES = 5 * 1024 * 1024
DATA_TYPES = {"NUMERIC": "numeric", "CATEGORICAL": "categorical", "BOOLEAN": "boolean"}
# Langfuse field → ScoreIn field.
FIELDS = {
    "id": "id",
    "traceId": "run_id",
    "observationId": "task_id",
    "sessionId": "session_id",
    "name": "name",
    "value": "value",
    "comment": "comment",
    "metadata": "metadata",
}


class Unreadable(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def problem(status, message):
    return JsonResponse({"message": message, "error": message}, status=status)


def read_json(request):
    try:
        body = read_body(request, MAX_BYTES)
    except BodyError as exc:
        raise Unreadable(exc.status, f"{exc.field}: {exc.detail}") from None
    if body is None:
        raise Unreadable(413, f"body: larger than {MAX_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Unreadable(400, "body: not JSON") from None


def score_in(body):
    """The ScoreIn of a Langfuse score body, or ScoreError naming the Langfuse field."""
    if not isinstance(body, dict):
        raise ScoreError("body", "a score is a JSON object")
    if holds_nul(body):  # PostgreSQL cannot store U+0000, in text or JSON
        raise ScoreError("body", "must not contain the NUL character (U+0000)")
    data_type = body.get("dataType")
    if data_type is not None and data_type not in DATA_TYPES:
        raise ScoreError("dataType", f"{data_type!r} scores are not kept: NUMERIC, CATEGORICAL or BOOLEAN")
    fields = {ours: body[theirs] for theirs, ours in FIELDS.items() if body.get(theirs) is not None}
    for name in ("id", "run_id", "task_id", "session_id", "name", "comment"):
        if name in fields and not isinstance(fields[name], str):
            raise ScoreError(langfuse_name(name), "must be a string")
    if "name" not in fields or "value" not in fields:
        raise ScoreError("name" if "name" not in fields else "value", "is required")
    return ScoreIn(data_type=DATA_TYPES.get(data_type), **fields)


def langfuse_name(field):
    return {ours: theirs for theirs, ours in FIELDS.items()}.get(field, field)


def save(request, bodies):
    """One result per body: the stored score's id, or the error's message naming the Langfuse field."""
    results, items, places = [None] * len(bodies), [], []
    for index, body in enumerate(bodies):
        try:
            items.append(score_in(body))
            places.append(index)
        except ScoreError as exc:
            results[index] = f"{exc.field}: {exc.message}"
    saved = save_scores(request.workspace, items, source=ScoreSource.SDK, author=request.api_key.label)
    for index, result in zip(places, saved, strict=True):
        if isinstance(result, ScoreError):
            results[index] = f"{langfuse_name(result.field)}: {result.message}"
        else:
            results[index] = result.score
    return results


@require_POST
def scores(request):
    try:
        payload = read_json(request)
    except Unreadable as exc:
        return problem(exc.status, str(exc))
    if isinstance(payload, dict):
        (result,) = save(request, [payload])
        if isinstance(result, str):
            return problem(400, result)
        return JsonResponse({"id": result.client_id})
    if not isinstance(payload, list) or not payload:
        return problem(400, "body: a score object or a list of them")
    if len(payload) > MAX_SCORES:
        return problem(413, f"body: at most {MAX_SCORES} scores at once")
    errors = [result for result in save(request, payload) if isinstance(result, str)]
    if not errors:
        return JsonResponse({"message": "Accepted"}, status=202)
    if len(errors) == len(payload):
        return problem(400, "; ".join(errors))
    errors = [{"message": message} for message in errors]
    answer = {"accepted": len(payload) - len(errors), "rejected": len(errors), "errors": errors}
    return JsonResponse(answer, status=207)


@require_POST
def ingestion(request):
    try:
        payload = read_json(request)
    except Unreadable as exc:
        return problem(exc.status, str(exc))
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        return problem(400, 'body: must be an object {"batch": [event, …]}')
    events = payload["batch"]
    if len(events) > MAX_SCORES:
        return problem(413, f"batch: at most {MAX_SCORES} events")
    successes, errors, scored = [], [], []
    for index, event in enumerate(events):
        event_id = str(event.get("id", index)) if isinstance(event, dict) else str(index)
        kind = event.get("type") if isinstance(event, dict) else None
        if kind != "score-create":
            detail = f"type: {kind!r} events are not kept here; traces go to /api/public/otel/v1/traces"
            errors.append({"id": event_id, "status": 400, "message": detail, "error": detail})
            continue
        scored.append((event_id, event.get("body")))
    for (event_id, _), result in zip(scored, save(request, [body for _, body in scored]), strict=True):
        if isinstance(result, str):
            errors.append({"id": event_id, "status": 400, "message": result, "error": result})
        else:
            successes.append({"id": event_id, "status": 201})
    return JsonResponse({"successes": successes, "errors": errors}, status=207)


@require_GET
def projects(request):
    workspace = request.workspace
    organization = {"id": workspace.slug, "name": workspace.name}
    project = {"id": workspace.slug, "name": workspace.name, "organization": organization, "metadata": {}}
    return JsonResponse({"data": [project]})


scores = api_key_view(scores, Scope.INGEST)
ingestion = api_key_view(ingestion, Scope.INGEST)
projects = api_key_view(projects, Scope.INGEST)
