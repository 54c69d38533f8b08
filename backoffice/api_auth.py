"""API key authentication: the key decides the workspace."""

from datetime import timedelta
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from ninja.security import HttpBearer

from .models import ApiKey

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


class ApiKeyAuth(HttpBearer):
    openapi_description = "An API key of the workspace: `Authorization: Bearer bo_…`"

    def authenticate(self, request, token):
        return authenticate_key(request, token)


def api_key_view(view):
    """For key-authenticated views outside the ninja API (OTLP): 401 without a usable key.

    The view is exempt from the login redirect and from CSRF (no cookies are involved) and is marked
    `api_key_required`, the access policy the URL walk test checks.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or authenticate_key(request, token.strip()) is None:
            response = JsonResponse({"detail": "Unauthorized"}, status=401)
            response["WWW-Authenticate"] = "Bearer"
            return response
        return view(request, *args, **kwargs)

    wrapper.api_key_required = True
    return login_not_required(csrf_exempt(wrapper))
