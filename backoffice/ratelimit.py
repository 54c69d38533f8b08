"""Fixed-window counters in Django's cache, shared by every process that shares the cache.

The counters live in the cache rather than in the database because they are short-lived and written
on every request: a table would turn each ingest call into one more write. Point CACHE_URL at a shared
cache (redis, or the database cache) when several processes serve the app; with the default local
memory cache each process counts on its own, so the effective limit is multiplied by their number.
"""

import math
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse


def hit(scope, ident, limit, window):
    """Count one request; returns the seconds to wait when it is over `limit` per `window` seconds, else 0."""
    now = time.time()
    started = math.floor(now / window) * window
    key = f"ratelimit:{scope}:{ident}:{int(started)}"
    # add() is a no-op when the key exists, so two processes never reset each other's count.
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=window + 1)
        count = 1
    return 0 if count <= limit else seconds_left(window)


def peek(scope, ident, window):
    """The count in the current window without adding to it."""
    started = math.floor(time.time() / window) * window
    return cache.get(f"ratelimit:{scope}:{ident}:{int(started)}", 0)


def seconds_left(window):
    """Seconds until the current window closes."""
    now = time.time()
    return max(math.ceil(math.floor(now / window) * window + window - now), 1)


def too_many_requests(wait, detail):
    response = JsonResponse({"detail": detail, "field": None}, status=429)
    response["Retry-After"] = str(wait)
    return response


def limit_ingest(request):
    """The 429 response when the request's API key sent too many ingest requests this minute, else None.

    Call it after authentication (request.api_key is set) from any ingest endpoint: event batch, OTLP.
    """
    per_minute = settings.INGEST_RATE_PER_MINUTE
    api_key = getattr(request, "api_key", None)
    if not per_minute or api_key is None:
        return None
    # The hash, not the primary key: ids are reused after a rollback, the hash never.
    wait = hit("ingest", api_key.key_hash[:24], per_minute, 60)
    if not wait:
        return None
    return too_many_requests(
        wait, f"rate limit: at most {per_minute} ingest requests per minute for this API key"
    )


def limit_api(request):
    """The 429 response when the request's API key made too many read or review API requests this
    minute, else None. Counted apart from ingest, so a busy sender does not lock its readers out."""
    per_minute = settings.API_RATE_PER_MINUTE
    api_key = getattr(request, "api_key", None)
    if not per_minute or api_key is None:
        return None
    wait = hit("api", api_key.key_hash[:24], per_minute, 60)
    if not wait:
        return None
    return too_many_requests(
        wait, f"rate limit: at most {per_minute} API requests per minute for this API key"
    )


def ingest_rate_limited(view):
    """Decorator for plain ingest views that have already put request.api_key on the request."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return limit_ingest(request) or view(request, *args, **kwargs)

    return wrapper
