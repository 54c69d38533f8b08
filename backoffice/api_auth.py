"""API key authentication: the key decides the workspace."""

import base64
import binascii
from datetime import timedelta
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from ninja.security import HttpBearer

from . import ratelimit
from .models import ApiKey, Scope

# last_used_at is informative; writing it on every request would turn every read into a write.
TOUCH_EVERY = timedelta(minutes=1)


def authenticate_key(request, raw_key):
    """Find the key, note its use, and put its workspace on the request. Returns the key or None."""
    api_key = ApiKey.find(raw_key)
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > TOUCH_EVERY:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    request.workspace = api_key.workspace
    request.api_key = api_key
    return api_key


def presented_key(request):
    """The key from `Bearer <key>`, or the password of HTTP Basic (the Langfuse SDK's form: its public
    key is the user, its secret key the password)."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


class MissingScope(Exception):
    """The key is valid but was not given the scope this endpoint needs: answered 403."""

    def __init__(self, scope):
        super().__init__(scope)
        self.scope = str(scope)

    def answer(self):
        detail = f"this API key lacks the '{self.scope}' scope"
        return {"detail": detail, "field": "scope", "scope": self.scope}


class RateLimited(Exception):
    """The key sent too many requests this minute: answered 429 with Retry-After."""

    def __init__(self, response):
        super().__init__(response["Retry-After"])
        self.response = response


def check_scope(request, scope):
    """Raises MissingScope when the authenticated key of the request lacks `scope`."""
    if not request.api_key.allows(scope):
        raise MissingScope(scope)


class ApiKeyAuth(HttpBearer):
    """An API key with the scope an endpoint needs. Each scope is its own security scheme in the
    OpenAPI schema, so the schema tells which scope every operation requires."""

    scope = Scope.READ
    openapi_description = (
        "An API key of the workspace with the `read` scope: `Authorization: Bearer bo_…`. Reads runs, "
        "conversations and reviews, and files and edits reviews. A key without the scope gets 403."
    )

    def authenticate(self, request, token):
        api_key = authenticate_key(request, token)
        if api_key is None:
            return None
        check_scope(request, self.scope)
        limited = ratelimit.limit_api(request)
        if limited is not None:
            raise RateLimited(limited)
        return api_key


class IngestKeyAuth(ApiKeyAuth):
    scope = Scope.INGEST
    openapi_description = (
        "An API key of the workspace with the `ingest` scope: `Authorization: Bearer bo_…`. Sends "
        "events (and OTLP spans at /v1/traces). A key without the scope gets 403."
    )

    def authenticate(self, request, token):
        # Ingest has its own rate limit, checked by the endpoint (it answers in the ingest format).
        api_key = authenticate_key(request, token)
        if api_key is not None:
            check_scope(request, self.scope)
        return api_key


class AdminKeyAuth(ApiKeyAuth):
    scope = Scope.ADMIN
    openapi_description = (
        "An API key of the workspace with the `admin` scope: `Authorization: Bearer bo_…`. Deletes "
        "reviews and changes configuration. A key without the scope gets 403."
    )


def api_key_view(view, scope=Scope.READ):
    """For key-authenticated views outside the ninja API: 401 without a usable key, 403 without `scope`.
    The key comes as a Bearer token or as the password of HTTP Basic (see presented_key).

    The view is exempt from the login redirect and from CSRF (no cookies are involved) and is marked
    `api_key_required`, the access policy the URL walk test checks.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if authenticate_key(request, presented_key(request)) is None:
            response = JsonResponse({"detail": "Unauthorized"}, status=401)
            response["WWW-Authenticate"] = "Bearer"
            return response
        try:
            check_scope(request, scope)
        except MissingScope as exc:
            return JsonResponse(exc.answer(), status=403)
        return view(request, *args, **kwargs)

    wrapper.api_key_required = True
    return login_not_required(csrf_exempt(wrapper))
