"""What the entry points (manage.py, backoffice/wsgi.py, gunicorn.conf.py) do before Django runs anything.

A misconfigured start answers with one line naming the variable and a non-zero status, not with the
55-line traceback of an ImproperlyConfigured raised while Django imports the settings.
"""

import os
import sys
from pathlib import Path

import dotenv
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

DOTENV = Path(__file__).resolve().parent.parent / ".env"


def read_dotenv():
    """Fills in, from the checkout's .env (or the file ENV_FILE names; ENV_FILE= for none), the
    variables the environment does not set.

    Only manage.py calls this: `make run` writes the file (DEBUG=1 and a generated SECRET_KEY) so that
    the README's commands work as written in a local checkout. The test suite and gunicorn never read
    it, and a variable set in the environment always wins over the file.
    """
    path = os.environ.get("ENV_FILE", str(DOTENV))
    if path:
        dotenv.load_dotenv(path, override=False)


def settings_or_exit(program, status=1):
    """django.conf.settings, read now; a bad value prints one line and exits with `status`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    try:
        settings.SECRET_KEY  # noqa: B018 - the first read imports backoffice.settings
    except ImproperlyConfigured as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        sys.exit(status)
    return settings


def metrics_public_warning():
    """The line a server logs when it starts with GET /metrics open to anyone, else None."""
    if settings.METRICS_PUBLIC and not settings.METRICS_TOKEN and not settings.DEBUG:
        return (
            "GET /metrics is public (METRICS_PUBLIC=1): anyone who reaches this server reads every "
            "workspace's slug, volumes and costs; set METRICS_TOKEN to require a bearer token."
        )
    return None


def unreachable_database(exc):
    """The line to print when the OperationalError `exc` came from connecting to the database, not
    from a query of a connection that was open (None then: that one deserves its traceback)."""
    if connection.connection is not None:
        return None
    database = settings.DATABASES["default"]
    where = database["NAME"]
    if database["HOST"]:
        where = f"{database['HOST']}:{database['PORT'] or 5432}/{where}"
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"cannot connect to the database of DATABASE_URL ({where}): {reason}"
