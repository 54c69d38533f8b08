from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self):
        from traces.ingest.sinks import register

        from .ingest import store_tracked_events

        register("track", store_tracked_events)
