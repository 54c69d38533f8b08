"""Fixed-window counters shared by every process: the ingest and API rate limits, the log-in throttle.

Where they live follows CACHE_URL. With the database cache (the default) they are rows of
`rate_counters`, each request adding one in a single atomic INSERT … ON CONFLICT DO UPDATE … RETURNING,
so N processes never let more than the limit through between them (the database cache's own incr()
is a read then a write, which would). With redis they are cache keys (add + INCR, atomic in redis).
With locmem each process counts on its own: for development only.
"""

import math
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection
from django.http import JsonResponse

from .models import RateCounter

# One statement, so the increment and the read of the new count cannot interleave with another process.
UPSERT = (
    "INSERT INTO rate_counters (name, count, expires) VALUES (%s, 1, %s) "
    "ON CONFLICT (name) DO UPDATE SET count = rate_counters.count + 1 RETURNING count"
)


def in_database():
    return isinstance(caches["default"], DatabaseCache)


def window_key(scope, ident, window, now):
    started = int(math.floor(now / window) * window)
    return f"ratelimit:{scope}:{ident}:{started}", started + window


def add_one(key, expires, window):
    """Adds one to the counter and returns the new count, in one atomic step."""
    if in_database():
        with connection.cursor() as cursor:
            cursor.execute(UPSERT, [key, expires])
            count = cursor.fetchone()[0]
        if count == 1:  # a new window: clear the ones that closed
            RateCounter.objects.filter(expires__lt=int(time.time())).delete()
        return count
    # add() is a no-op when the key exists, so two processes never reset each other's count.
    cache.add(key, 0, timeout=window + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=window + 1)
        return 1


def hit(scope, ident, limit, window):
    """Count one request; returns the seconds to wait when it is over `limit` per `window` seconds, else 0."""
    key, expires = window_key(scope, ident, window, time.time())
    count = add_one(key, expires, window)
    return 0 if count <= limit else seconds_left(window)


def peek(scope, ident, window):
    """The count in the current window without adding to it."""
    key, _ = window_key(scope, ident, window, time.time())
    if in_database():
        return RateCounter.objects.filter(name=key).values_list("count", flat=True).first() or 0
    return cache.get(key, 0)


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
