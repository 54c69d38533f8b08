"""Finding documents and ids: what the search box and the lists' `q=` run.

A query's words (cut as documents' words are, see text) must each be found in one document: a word of
MIN_FRAGMENT characters or more anywhere inside a word ("ova" finds "Nova", "8812" finds "ORD-98812",
"imit" finds "rate_limit"), a shorter one at the start of a word (inside, it would be in almost every
document). PostgreSQL answers the first from the pg_trgm GIN index on the words (search_fragments), the
second from the tsvector's GIN index (search_words); SQLite reads the words and its FTS5 table: the
same documents on both.
"""

import re
from datetime import timedelta

from django.db import connection
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import Expression, RawSQL
from django.utils import timezone

from traces.models import Review, Run, SearchDocument, Session

from .text import MIN_FRAGMENT, terms

# The time ranges of the results page, in days (None: all time); the first is the default.
RANGES = {"30d": 30, "90d": 90, "all": None}
HEX_TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")
# An invocation id is 8 characters; fewer than 4 would name too many runs to jump to one.
INVOCATION_PREFIX = re.compile(r"[0-9A-Za-z]{4,8}")


def since_for(range_key, now=None):
    days = RANGES[range_key]
    return None if days is None else (now or timezone.now()) - timedelta(days=days)


def matching(workspace, q, since=None):
    """The workspace's documents that hold every word of `q` (see the module), from `since` on. No
    word in `q`: none."""
    found = terms(q)
    documents = SearchDocument.objects.filter(workspace=workspace)
    if since is not None:
        documents = documents.filter(at__gte=since)
    if not found:
        return documents.none()
    starts = [term for term in found if len(term) < MIN_FRAGMENT]
    inside = [Q(words__contains=term) for term in found if len(term) >= MIN_FRAGMENT]
    if starts:
        documents = documents.filter(word_starts(starts))
    return documents.filter(*inside)


def word_starts(found):
    """Documents with a word beginning with each term, from the words' index."""
    if connection.vendor == "postgresql":
        # Words hold letters and digits only: nothing to escape in a tsquery's quoted lexeme.
        return Q(WordsMatch(" & ".join(f"'{term}':*" for term in found)))
    query = " ".join(f'"{term}"*' for term in found)
    return Q(pk__in=RawSQL("SELECT rowid FROM search_fts WHERE search_fts MATCH %s", [query]))


class WordsMatch(Expression):
    """PostgreSQL: do a document's words match a tsquery? Spelled as the search_words index's
    expression, so that the GIN index answers it."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, query):
        super().__init__()
        self.query = query
        self.words = F("words")

    def get_source_expressions(self):
        return [self.words]

    def set_source_expressions(self, exprs):
        (self.words,) = exprs

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.words)
        return f"array_to_tsvector(string_to_array({sql}, ' ')) @@ %s::tsquery", [*params, self.query]


def run_ids_matching(workspace, q, since=None):
    """The primary keys of the runs with a document matching `q`, as a subquery:
    `Run.objects.filter(pk__in=run_ids_matching(...))`."""
    return matching(workspace, q, since).filter(run__isnull=False).values("run")


def jump(workspace, q):
    """What an id typed in the search box names, as ("run" | "session" | "review", id), or None.

    An exact run id (an OTLP trace id in any case), session id or review number, or the start of
    exactly one run's invocation id. A query of a few indexed lookups, each one index probe.
    """
    q = q.strip()
    if not q or len(q) > 200 or any(c.isspace() for c in q):
        return None
    run_ids = {q, q.lower()} if HEX_TRACE_ID.fullmatch(q) else {q}
    runs = Run.objects.filter(workspace=workspace)
    run_id = runs.filter(run_id__in=run_ids).values_list("run_id", flat=True).first()
    if run_id is not None:
        return "run", run_id
    if Session.objects.filter(workspace=workspace, session_id=q).exists():
        return "session", q
    if q.isdigit() and len(q) < 19:
        review = Review.objects.filter(workspace=workspace, pk=int(q)).values_list("pk", flat=True).first()
        if review is not None:
            return "review", review
    if INVOCATION_PREFIX.fullmatch(q):
        found = list(runs.filter(invocation_id__startswith=q).values_list("run_id", flat=True)[:2])
        if len(found) == 1:
            return "run", found[0]
    return None
