"""The two endpoints monitoring systems call: /metrics (Prometheus) and /health. No login."""

import hmac
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from backoffice import worker

from ..exposition import BackofficeCollector

logger = logging.getLogger(__name__)


def refusal(request):
    """None when the request may read /metrics, else the response that refuses it.

    The figures name every workspace and its volumes and costs: with METRICS_TOKEN set they need the
    bearer token; without one they are open only under DEBUG or when the operator opts in with
    METRICS_PUBLIC=1, and closed (403, saying how to open them) otherwise.
    """
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        response = HttpResponse("A valid bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if settings.DEBUG or settings.METRICS_PUBLIC:
        return None
    return HttpResponse(
        "/metrics is closed: set METRICS_TOKEN to require a bearer token, or METRICS_PUBLIC=1 to open it.\n",
        status=403,
        content_type="text/plain",
    )


@login_not_required
@require_GET
@never_cache
def prometheus_metrics(request):
    if refused := refusal(request):
        return refused
    # A registry per scrape: the figures come from the database, not from this process's memory.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackofficeCollector())
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@login_not_required
@require_GET
@never_cache
def health(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database does not answer")
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    # The worker's state is reported, not judged: a web server stays in service while the worker is down
    # (or while its tables are not migrated yet).
    try:
        jobs = worker.status()
    except DatabaseError:
        logger.exception("Health check: the worker's tables do not answer")
        jobs = {"state": "unknown"}
    return JsonResponse({"status": "ok", "database": "ok", "worker": jobs})
