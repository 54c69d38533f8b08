"""POST /mcp: the SDK's streamable HTTP transport, run for one request inside a Django view.

The app is WSGI (gunicorn in production, runserver under `make run`), so rather than mounting the SDK's
ASGI app beside Django, each request builds the SDK's own Starlette app in stateless JSON mode (no
session to keep between requests, one JSON answer per POST), runs its lifespan and hands it this one
request as an ASGI exchange, on an event loop of its own (async_to_sync). The tools send their database
work back to this thread, so the request's connection, transaction and workspace are those of any other
view. What the SDK answers (status, headers, body) is what the view answers.
"""

import anyio
from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.views.decorators.http import require_POST

from backoffice import ratelimit
from backoffice.api_auth import api_key_view
from backoffice.models import Scope

from .tools import REQUEST, app_factory

PATH = "/mcp"


def asgi_scope(request):
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers.items()
    ]
    host, _, port = request.get_host().partition(":")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "server": (host, int(port or (443 if request.is_secure() else 80))),
        "client": (request.META.get("REMOTE_ADDR", ""), 0),
    }


async def exchange(scope, body):
    """Run the SDK's app on one request; returns (status, headers, body) of its answer."""
    app = app_factory()(PATH)
    answer = {"status": 500, "headers": [], "body": []}
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # The whole body was read; the client stays connected until the answer is written.
        await anyio.sleep_forever()

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            answer["body"].append(message.get("body", b""))

    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    return answer["status"], answer["headers"], b"".join(answer["body"])


# Stateless: no stream for the server to open (GET) and no session to end (DELETE), so only POST.
@require_POST
def mcp_endpoint(request):
    limited = ratelimit.limit_api(request)
    if limited is not None:
        return limited
    token = REQUEST.set(request)
    try:
        status, headers, body = async_to_sync(exchange)(asgi_scope(request), request.body)
    finally:
        REQUEST.reset(token)
    response = HttpResponse(body, status=status)
    for name, value in headers:
        if name.lower() != b"content-length":
            response[name.decode("latin-1")] = value.decode("latin-1")
    return response


mcp = api_key_view(mcp_endpoint, Scope.READ)
