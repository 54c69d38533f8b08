"""The JSON API under /api/v1/, with its OpenAPI schema at /api/v1/openapi.json."""

import datetime
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404
from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from traces.api import router as traces_router
from traces.api_reviews import router as reviews_router

from .api_auth import ApiKeyAuth, MissingScope, RateLimited


class PreciseEncoder(DjangoJSONEncoder):
    """Times keep their microseconds (DjangoJSONEncoder cuts them to milliseconds)."""

    def default(self, o):
        if isinstance(o, datetime.datetime):
            text = o.isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text
        return super().default(o)


class PreciseRenderer(JSONRenderer):
    encoder_class = PreciseEncoder
    json_dumps_params = {"ensure_ascii": False}

    def render(self, request, data, *, response_status):
        return json.dumps(data, cls=self.encoder_class, **self.json_dumps_params)


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
    renderer=PreciseRenderer(),
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
