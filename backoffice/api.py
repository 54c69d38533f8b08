"""The JSON API under /api/v1/, with its OpenAPI schema at /api/v1/openapi.json."""

from django.http import Http404
from ninja import NinjaAPI

from traces.api import router as traces_router
from traces.reviews.api import router as reviews_router

from .api_auth import ApiKeyAuth
from .api_rendering import RENDERER

api = NinjaAPI(
    title="Backoffice API",
    version="1",
    description="Send agent and workflow events; read runs, conversations and reviews.",
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
