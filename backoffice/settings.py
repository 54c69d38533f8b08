"""Settings, read from the environment. A bad value stops the start with a message naming it."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name, default):
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}")


def envint(name, default):
    value = os.environ.get(name, str(default)).strip()
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {value!r}") from None


def envlist(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url, name="DATABASE_URL"):
    if not url.startswith(("sqlite:", "postgres:", "postgresql:")):
        raise ImproperlyConfigured(
            f"{name} must start with sqlite:// or postgres://; got {url.split(':', 1)[0]!r}"
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the pages read while ingest writes; the timeout rides out short write locks.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    else:
        # Every query here is an index range or a bounded aggregate; PostgreSQL's JIT misjudges the
        # big tables and spends 10-200 ms compiling a query that runs in a few ms.
        options = config.setdefault("OPTIONS", {})
        options["options"] = f"-c jit=off {options.get('options', '')}".strip()
    return config


def replicas_from_urls(urls, primary):
    """DATABASES entries replica_1, replica_2… for DATABASE_REPLICA_URLS: hot standbys of the primary,
    read by the pages and the read API through backoffice.replicas."""
    replicas = {}
    for number, url in enumerate(urls, start=1):
        config = database_from_url(url, "DATABASE_REPLICA_URLS")
        if config["ENGINE"] != primary["ENGINE"] or primary["ENGINE"] != "django.db.backends.postgresql":
            raise ImproperlyConfigured(
                "DATABASE_REPLICA_URLS must list postgres:// standbys of a PostgreSQL DATABASE_URL"
            )
        # A replica that is down is skipped after two seconds, not after the system's TCP timeout.
        config["OPTIONS"]["connect_timeout"] = 2
        # The test runner creates no database on a replica (a standby is read-only): as a mirror of
        # default it only takes the test database's name, which physical replication copies to it.
        config["TEST"] = {"MIRROR": "default"}
        replicas[f"replica_{number}"] = config
    return replicas


DEBUG = envbool("DEBUG", "0")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (in a local checkout, `make run` writes one to .env)"
        )
    SECRET_KEY = "insecure-development-key-only-used-with-debug"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

DATABASES = {
    "default": database_from_url(os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))
}
DATABASES.update(replicas_from_urls(envlist("DATABASE_REPLICA_URLS", ""), DATABASES["default"]))
# GET and HEAD requests read from a healthy replica; writes, transactions and everything else use default.
DATABASE_REPLICAS = [alias for alias in DATABASES if alias != "default"]
DATABASE_ROUTERS = ["backoffice.replicas.ReplicaRouter"]
# A replica further behind its primary than this many seconds is skipped until it catches up.
DATABASE_REPLICA_MAX_LAG = envint("DATABASE_REPLICA_MAX_LAG", 5)
if DATABASE_REPLICA_MAX_LAG < 1:
    raise ImproperlyConfigured(f"DATABASE_REPLICA_MAX_LAG must be 1 or more; got {DATABASE_REPLICA_MAX_LAG}")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE columns) are a PostgreSQL speed-up; SQLite builds the same indexes without
# them, which is all the embedded default needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "ninja",
    "csp",
    "django_q",
    "backoffice",
    "traces",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything queries: a NUL in a path, parameter or form field is a 4xx, not a database 500.
    "backoffice.nul_guard.RejectNulMiddleware",
    # Before anything reads: which database this request reads from (backoffice.replicas).
    "backoffice.replicas.ReplicaReadsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "backoffice.timezones.ViewerTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backoffice.context_processors.workspace_nav",
            ],
            # Template filters that live with the part they serve rather than in an app's templatetags/.
            "libraries": {"review_tags": "traces.reviews.template_filters"},
        },
    },
    {
        # The rows of the long lists only: see backoffice.jinja.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "backoffice.jinja.environment"},
    },
]

# Form widgets render through Jinja2 (Django ships their templates): the Django engine spent ~0.3 ms
# on each widget of the lists' filter forms, more than the rows of the list cost.
FORM_RENDERER = "django.forms.renderers.Jinja2"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "root"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files straight from the app folders; set STATIC_ROOT to run collectstatic.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True

# Outside DEBUG the site is served over HTTPS unless the operator says otherwise (SECURE_SSL=0, plain
# HTTP): cookies only travel encrypted, plain HTTP is redirected, and browsers are told to stay on HTTPS.
# BEHIND_PROXY=1 trusts the proxy's X-Forwarded-Proto (is the request HTTPS?) and X-Forwarded-For (the
# client address, see backoffice.proxy); without a proxy those headers come from the client and are ignored.
SECURE_SSL = envbool("SECURE_SSL", "0" if DEBUG else "1")
BEHIND_PROXY = envbool("BEHIND_PROXY", "0")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if SECURE_SSL:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # /health is probed over plain HTTP by load balancers inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "0")
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "0")
    # Subdomains and the browsers' preload list are the domain owner's call, not this app's: both stay
    # opt-in (the variables above), so `check --deploy` does not ask for them.
    SILENCED_SYSTEM_CHECKS += ["security.W005", "security.W021"]

# No inline scripts anywhere: every script is a file under /static/. Style attributes stay allowed
# (style-src-attr) because plotly and Swagger UI set them; <style> elements are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        # Chat turns show the images and play the audio agents send by URL, from https only
        # (traces/chat_content.py): the reader's browser fetches them, with no referrer.
        "img-src": ["'self'", "data:", "https:"],
        "media-src": ["'self'", "https:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}


def cache_from_url(url):
    """CACHES["default"] from CACHE_URL: db://TABLE (default), redis://HOST:PORT/DB, locmem://.

    The rate-limit and login-throttle counters follow it (backoffice/ratelimit.py): with db:// they
    are rows of rate_counters in the app's database, shared by every process; locmem counts per process.
    """
    scheme, _, rest = url.partition("://")
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": rest or "backoffice"}
    if scheme == "db":
        return {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": rest or "cache_entries"}
    if scheme in ("redis", "rediss"):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    raise ImproperlyConfigured(f"CACHE_URL must start with locmem://, db:// or redis://; got {scheme!r}")


CACHES = {"default": cache_from_url(os.environ.get("CACHE_URL", "db://"))}

# Ingest requests per API key per minute (event batch and OTLP); 0 turns the limit off.
INGEST_RATE_PER_MINUTE = envint("INGEST_RATE_PER_MINUTE", 600)
# Read and review API requests per API key per minute; 0 turns the limit off.
API_RATE_PER_MINUTE = envint("API_RATE_PER_MINUTE", 1200)
# Failed log-ins allowed per username from one address, and per address, within LOGIN_FAILURE_WINDOW seconds.
LOGIN_FAILURES_PER_USER = envint("LOGIN_FAILURES_PER_USER", 5)
LOGIN_FAILURES_PER_ADDRESS = envint("LOGIN_FAILURES_PER_ADDRESS", 50)
LOGIN_FAILURE_WINDOW = envint("LOGIN_FAILURE_WINDOW", 15 * 60)

# How long "Replay" waits for an agent's replay webhook (traces.replay) before saying it did not answer.
REPLAY_TIMEOUT_SECONDS = envint("REPLAY_TIMEOUT_SECONDS", 10)
# How long a trace exporter (traces.export) waits for its endpoint's answer to one request.
EXPORT_TIMEOUT_SECONDS = envint("EXPORT_TIMEOUT_SECONDS", 10)

# Ingest limits (DESIGN §4).
INGEST_MAX_EVENTS = envint("INGEST_MAX_EVENTS", 1000)
INGEST_MAX_BYTES = envint("INGEST_MAX_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BYTES + 1024 * 1024

LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING").strip().upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got {LOG_LEVEL!r}"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# E-mail (invitation links). Without EMAIL_HOST, messages are written to the log (console backend).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "1")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "backoffice@localhost")

# The background worker (backoffice/worker.py, `manage.py worker`): django-q2 with the database as its
# broker, so nothing runs beside the web server and the database. A job is acknowledged (deleted from
# the queue) only after it succeeds; one whose worker died (kill -9, a lost host) is handed out again
# once `retry` seconds pass without that, which must be longer than a job may run (WORKER_JOB_TIMEOUT).
WORKER_JOB_TIMEOUT = envint("WORKER_JOB_TIMEOUT", 300)
WORKER_RETRY_AFTER = envint("WORKER_RETRY_AFTER", WORKER_JOB_TIMEOUT + 60)
if WORKER_RETRY_AFTER <= WORKER_JOB_TIMEOUT:
    raise ImproperlyConfigured("WORKER_RETRY_AFTER must be longer than WORKER_JOB_TIMEOUT")
# SQLite has one writer at a time: one worker process, handed one job at a time.
_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
WORKER_PROCESSES = 1 if _SQLITE else envint("WORKER_PROCESSES", 2)
Q_CLUSTER = {
    "name": "backoffice",
    "orm": "default",
    "workers": WORKER_PROCESSES,
    "queue_limit": WORKER_PROCESSES * 2,
    "timeout": WORKER_JOB_TIMEOUT,
    "retry": WORKER_RETRY_AFTER,
    "max_attempts": 5,
    # The ORM broker's polling interval (seconds): how long a queued job may wait for a free worker.
    "poll": 1,
    # A schedule missed while no worker ran runs once when one starts, not once per missed interval.
    "catch_up": False,
    "save_limit": 1000,
    "label": "Worker",
    "log_level": LOG_LEVEL,
    # The runner saves its own statistics (for its `qmonitor`) twice a second: kept in the worker's
    # memory, they cost the shared cache nothing. /health and /metrics say what an operator needs.
    "cache": "worker_statistics",
}
CACHES["worker_statistics"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}

# Where people reach this Backoffice: the links in notifications (monitors) start with it.
BACKOFFICE_URL = os.environ.get("BACKOFFICE_URL", "http://127.0.0.1:8000").rstrip("/")

# GET /metrics (Prometheus) shows every workspace's slug, volumes and costs. Outside DEBUG it answers
# only to `Authorization: Bearer $METRICS_TOKEN`, and 403 while no token is set, unless the operator
# opens it to anyone who can reach it with METRICS_PUBLIC=1 (the server logs a warning when it starts).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_PUBLIC = envbool("METRICS_PUBLIC", "0")
