from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def create_cache_table(sender, using, verbosity=1, **kwargs):
    """The database cache's table (CACHE_URL=db://, the default), made by every `migrate`, so `make run`,
    CI and a new deployment need no extra step. A no-op when it exists or the cache is elsewhere."""
    call_command("createcachetable", database=using, verbosity=0)


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Access"

    def ready(self):
        from . import (
            login_throttle,  # noqa: F401 - connects the failed-log-in counter
            timezones,  # noqa: F401 - connects the log-in copy of the profile's time zone
        )

        post_migrate.connect(create_cache_table, sender=self, dispatch_uid="backoffice.create_cache_table")
