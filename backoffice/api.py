"""The JSON API under /api/v1/, with its OpenAPI schema at /api/v1/openapi.json."""

from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from metrics.api import router as metrics_router
from metrics.monitors.api import router as monitors_router
from metrics.monitors.budget_api import router as budgets_router
from traces.api import router as traces_router
from traces.event_types_api import router as event_types_router
from traces.list_api import router as lists_router
from traces.replay_api import router as replay_router
from traces.reviews.api import router as reviews_router
from traces.reviews.rules_api import router as review_rules_router
from traces.scores.api import router as scores_router

from .api_auth import ApiKeyAuth, MissingScope, RateLimited
from .api_errors import DESCRIPTIONS, RETRY_AFTER_UNAVAILABLE, validation_problem
from .api_rendering import RENDERER
from .forget_api import router as forget_router


class BackofficeAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        return document_errors(super().get_openapi_schema(*args, **kwargs))


api = BackofficeAPI(
    title="Backoffice API",
    version="1",
    description=(
        "Send agent and workflow events; read runs, conversations and reviews. Every request carries an "
        "API key of the workspace (`Authorization: Bearer bo_…`) with the scope the operation names: "
        "`ingest` to send events, spans and scores (and add score configs), `read` to read runs, "
        "conversations and reviews and to file and edit reviews, `admin` to delete reviews and change "
        "configuration. A key without the scope gets 403 naming it; too many requests a minute get 429 "
        "with Retry-After. The same reads and review edits are MCP tools at `POST /mcp` (streamable HTTP, "
        "a key with the `read` scope) for agents."
    ),
    auth=ApiKeyAuth(),
    renderer=RENDERER,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("/", traces_router)
api.add_router("/", lists_router)
api.add_router("/", metrics_router)
api.add_router("/reviews", reviews_router)
api.add_router("/review-rules", review_rules_router)
api.add_router("/event-types", event_types_router)
api.add_router("/", scores_router)
api.add_router("/", forget_router)
api.add_router("/", replay_router)
api.add_router("/budgets", budgets_router)
api.add_router("/", monitors_router)


@api.exception_handler(Http404)
def not_found(request, exc):
    """The object a path parameter names is not in the key's workspace: the last parameter is named."""
    names = list(request.resolver_match.kwargs) if request.resolver_match else []
    return api.create_response(
        request, {"detail": "Not found", "field": names[-1] if names else None}, status=404
    )


@api.exception_handler(ValidationError)
def not_valid(request, exc):
    return api.create_response(request, validation_problem(exc.errors), status=422)


@api.exception_handler(HttpError)
def http_error(request, exc):
    """ninja's own 4xx (an unreadable body, a missing key) and ours raised as HttpError("field: …")."""
    detail = str(exc)
    if isinstance(exc, AuthenticationError):
        field = "Authorization"
    elif detail.startswith("Cannot parse request body"):
        field, detail = "body", "body: not valid JSON"
    else:
        head, colon, _ = detail.partition(":")
        field = head if colon and head.isidentifier() else None
    return api.create_response(request, {"detail": detail, "field": field}, status=exc.status_code)


@csrf_exempt
@login_not_required
def no_such_route(request, rest=""):
    """Any path under /api/v1/ that no route serves, `/reviews/abc` included: a JSON 404, not HTML."""
    return JsonResponse({"detail": "No such route", "field": "path"}, status=404)


def document_errors(schema):
    """Every documented error status gets its description, instead of ninja's bare "Not Found"."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                if int(code) in DESCRIPTIONS:
                    response["description"] = DESCRIPTIONS[int(code)]
    return schema


@api.exception_handler(MissingScope)
def missing_scope(request, exc):
    return api.create_response(request, exc.answer(), status=403)


@api.exception_handler(RateLimited)
def rate_limited(request, exc):
    return exc.response


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def database_unavailable(request, exc):
    """A database that cannot be reached (down, restarting, out of connections) is a 503 to retry, in
    JSON like every other answer: the client keeps its events and sends them again."""
    response = api.create_response(
        request, {"detail": "the database is unavailable; retry later", "field": None}, status=503
    )
    response["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    return response
