from django.apps import AppConfig


class TracesConfig(AppConfig):
    name = "traces"
    verbose_name = "Run record"

    def ready(self):
        from django.db.backends.signals import connection_created

        from .ingest.bulk import create_staging_tables

        connection_created.connect(create_staging_tables)
