"""Read replicas: the pages and the read API read from a hot standby when a healthy one is configured.

DATABASE_REPLICA_URLS adds the aliases replica_1, replica_2… (backoffice/settings.py). A GET or HEAD
request opens a read scope (ReplicaReadsMiddleware); inside it ReplicaRouter sends reads to one replica,
chosen at the request's first read and kept to its end, so a page reads one server's state. Every
other query goes to the primary:

- anything outside a request's read scope: requests other than GET and HEAD (ingest included),
  responses streamed after the view returned, management commands, the tests' own queries;
- reads inside transaction.atomic(): a transaction reads what it is about to write;
- the rest of a request that wrote a row a replica serves: it reads its own writes;
- the requests of a client for a short while after its POST, PUT, PATCH or DELETE (or a GET that
  wrote): a cookie keeps them on the primary for as long as a replica in use may be behind, so the
  page a form redirects to shows what the form saved;
- who may do what (users, sessions, workspaces, memberships, API keys, invitations), the shared cache
  and the rate counters: a revoked key or a removed member is refused at once, counters stay exact.

Writes and migrations only ever go to the primary; a replica follows its schema and rows by replication.

A replica more than DATABASE_REPLICA_MAX_LAG seconds behind, or unreachable, is skipped. Each process
asks each replica at most every CHECK_EVERY seconds and keeps the answer: the one thing Backoffice
keeps in a process, an observation of a server that is a few seconds old at most, not data. A replica
whose connection fails during a request is skipped from then until its next check.
"""

import random
import time
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, Error, connections

CHECK_EVERY = 2
COOKIE = "read_primary"
# The requests whose reads may go to a replica, and those that change nothing (RFC 9110's safe methods).
READS = ("GET", "HEAD")
SAFE = (*READS, "OPTIONS", "TRACE")

# Read on the primary whatever the request (see the docstring). django_cache is the database cache.
PRIMARY_APPS = {"auth", "sessions", "contenttypes", "django_cache"}
PRIMARY_MODELS = {
    "backoffice.workspace",
    "backoffice.profile",
    "backoffice.membership",
    "backoffice.apikey",
    "backoffice.invitation",
    "backoffice.ratecounter",
}

# Seconds behind the primary. A standby that has replayed all it received from a live stream is
# current however long ago the primary last wrote; otherwise it is as old as the last transaction it
# replayed. NULL (nothing replayed since it started, and no stream) counts as down.
LAG_SQL = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
            AND EXISTS (SELECT FROM pg_stat_wal_receiver) THEN 0
        ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    END
"""

# alias -> (time.monotonic() of the check, usable or not), per process.
health = {}

_scope = ContextVar("replica_read_scope", default=None)


def lag_of(alias):
    """Seconds the replica is behind, or None when it cannot be asked. Hits that database."""
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            (lag,) = cursor.fetchone()
    except Error:
        connection.close()
        return None
    return None if lag is None else float(lag)


def failed(alias):
    """Whether the replica's connection failed under the current request."""
    return connections[alias].errors_occurred


def usable(alias):
    """Whether the replica is up and close enough behind, asked at most every CHECK_EVERY seconds."""
    now = time.monotonic()
    checked = health.get(alias)
    if checked is None or now - checked[0] >= CHECK_EVERY:
        lag = lag_of(alias)
        checked = health[alias] = (now, lag is not None and lag <= settings.DATABASE_REPLICA_MAX_LAG)
    return checked[1]


def stick_seconds():
    """How long a client reads the primary after a write: the furthest behind a replica in use can be,
    its allowed lag when last checked plus the time until the next check."""
    return settings.DATABASE_REPLICA_MAX_LAG + CHECK_EVERY


def reads_primary(model):
    meta = model._meta
    return meta.app_label in PRIMARY_APPS or meta.label_lower in PRIMARY_MODELS


class ReadScope:
    """A GET or HEAD request's reads: the replica it reads, picked at its first read."""

    def __init__(self):
        self.alias = None
        self.wrote = False

    def database(self):
        if self.wrote:
            return DEFAULT_DB_ALIAS
        if self.alias is None:
            healthy = [alias for alias in settings.DATABASE_REPLICAS if usable(alias)]
            # Any healthy replica will do: spreading the requests spreads the load.
            self.alias = random.choice(healthy) if healthy else DEFAULT_DB_ALIAS  # noqa: S311
        return self.alias


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        scope = _scope.get()
        if scope is None or reads_primary(model) or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return scope.database()

    def db_for_write(self, model, **hints):
        scope = _scope.get()
        if scope is not None and not reads_primary(model):
            scope.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # A replica holds the primary's rows: a row read from one may point at a row read from the other.
        databases = {DEFAULT_DB_ALIAS, *settings.DATABASE_REPLICAS}
        if obj1._state.db in databases and obj2._state.db in databases:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


class ReplicaReadsMiddleware:
    def __init__(self, get_response):
        # Without replicas it is left out of the chain: not even a frame more on the stack, which the
        # ingest's JSON parser shares with the nesting it accepts.
        if not settings.DATABASE_REPLICAS:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        scope = ReadScope() if request.method in READS and COOKIE not in request.COOKIES else None
        token = _scope.set(scope)
        try:
            response = self.get_response(request)
        finally:
            _scope.reset(token)
            if scope is not None and scope.alias in health and failed(scope.alias):
                # It failed under this request: the next ones skip it until it answers a check again.
                health[scope.alias] = (time.monotonic(), False)
        if request.method not in SAFE or (scope is not None and scope.wrote):
            response.set_cookie(
                COOKIE,
                "1",
                max_age=stick_seconds(),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
