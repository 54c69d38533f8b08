from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Access"

    def ready(self):
        from . import login_throttle  # noqa: F401 - connects the failed-log-in counter
