"""The JSON API under /api/v1/, with its OpenAPI schema at /api/v1/openapi.json."""

from django.http import Http404
from ninja import NinjaAPI

from traces.api import router as traces_router
from traces.reviews.api import router as reviews_router

from .api_auth import ApiKeyAuth, MissingScope, RateLimited
from .api_rendering import RENDERER

api = NinjaAPI(
    title="Backoffice API",
    version="1",
    description=(
        "Send agent and workflow events; read runs, conversations and reviews. Every request carries an "
        "API key of the workspace (`Authorization: Bearer bo_…`) with the scope the operation names: "
        "`ingest` to send events and spans, `read` to read runs, conversations and reviews and to file "
        "and edit reviews, `admin` to delete reviews and change configuration. A key without the scope "
        "gets 403 naming it; too many requests a minute get 429 with Retry-After."
    ),
    auth=ApiKeyAuth(),
    renderer=RENDERER,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("/", traces_router)
api.add_router("/reviews", reviews_router)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, {"detail": "Not found"}, status=404)


@api.exception_handler(MissingScope)
def missing_scope(request, exc):
    return api.create_response(request, exc.answer(), status=403)


@api.exception_handler(RateLimited)
def rate_limited(request, exc):
    return exc.response
