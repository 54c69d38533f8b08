"""The JSON API under /api/v1/, with its OpenAPI schema at /api/v1/openapi.json."""

import datetime
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import InterfaceError, OperationalError
from django.http import Http404
from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from traces.api import router as traces_router
from traces.api_reviews import router as reviews_router

from .api_auth import ApiKeyAuth


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
    description="Send agent and workflow events; read runs, conversations and reviews.",
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


# Seconds a client waits before sending again when the database cannot be reached.
RETRY_AFTER_UNAVAILABLE = 5


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
