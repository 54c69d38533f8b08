"""Root-level endpoints for monitoring: GET /metrics and GET /health."""

from django.urls import path

from .views import public

urlpatterns = [
    path("metrics", public.prometheus_metrics, name="prometheus_metrics"),
    path("health", public.health, name="health"),
]
