"""gunicorn reads this file when it starts from the checkout: `gunicorn backoffice.wsgi`."""

from backoffice import startup


def on_starting(server):
    """In the master, before any worker starts: a bad setting stops gunicorn with one line, and an open
    /metrics is said once rather than once per worker."""
    startup.settings_or_exit("gunicorn")
    if warning := startup.metrics_public_warning():
        server.log.warning(warning)
