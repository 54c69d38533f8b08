from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self):
        from django.db.models.signals import post_save

        from backoffice.models import Workspace
        from traces.ingest.sinks import register
        from traces.rollups import daily
        from traces.search import index

        from .ingest import reindex_business_events, store_tracked_events
        from .monitors import presets
        from .rollups import spend

        register("track", store_tracked_events)
        index.register(reindex_business_events)
        daily.follow("model_calls", spend.follow)
        post_save.connect(presets.on_workspace_saved, sender=Workspace, dispatch_uid="monitor_presets")
