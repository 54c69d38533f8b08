"""What a document's text is, what its words are, and how a match shows.

Words are cut and folded here, in Python, for both databases: PostgreSQL's parser and SQLite's
tokenizers disagree on what a word is (an email address, `rate_limit`, accented letters), and the
search must find the same documents on both.
"""

import re

from django.utils.html import escape
from django.utils.safestring import mark_safe

# A document keeps this much of its text: enough for any prompt or error people remember, bounded so
# that a huge payload costs the index no more than a large one.
MAX_TEXT = 20_000
# Longer "words" are base64, hashes or minified data, never what someone types: they are not indexed.
MAX_WORD = 64
# The most words a query may have; more are ignored.
MAX_TERMS = 8
WORD = re.compile(r"[^\W_]+")
SNIPPET = 160
# A query word this long or longer is found inside words, a shorter one at their start (see query):
# pg_trgm indexes three-character pieces, and a shorter piece is inside almost every document.
MIN_FRAGMENT = 3


def flatten(value):
    """The text of a stored payload: its strings and numbers, one per line (not its keys, nor
    true/false/null, which every payload shares)."""
    parts = []
    size = 0

    def walk(item):
        nonlocal size
        if size > MAX_TEXT:
            return
        if isinstance(item, str):
            parts.append(item)
            size += len(item) + 1
        elif isinstance(item, bool) or item is None:
            return
        elif isinstance(item, int | float):
            parts.append(str(item))
            size += 8
        elif isinstance(item, dict):
            # In key order: PostgreSQL's jsonb gives keys back in its own order, and a document
            # rebuilt from the row (recut, backfill) must read as the one made at ingest.
            for key in sorted(item):
                walk(item[key])
        elif isinstance(item, list):
            for child in item:
                walk(child)

    walk(value)
    return "\n".join(parts)[:MAX_TEXT]


def words(text):
    """The distinct words of a text, case-folded, in the order they first appear, space-separated."""
    seen = dict.fromkeys(w for w in WORD.findall(text.casefold()) if len(w) <= MAX_WORD)
    return " ".join(seen)


def terms(query):
    """The words of a query, as documents' words are cut."""
    return list(dict.fromkeys(w for w in WORD.findall(query.casefold()) if len(w) <= MAX_WORD))[:MAX_TERMS]


def snippet(text, query_terms):
    """HTML of the part of `text` around the first match, the matches marked, everything escaped.
    Line breaks and runs of spaces show as one space: a snippet is a line of a list."""
    text = " ".join(text.split())
    if not query_terms:
        return escape(text[:SNIPPET])
    # A term matches where the search finds it: inside a word, or at its start when short (see query).
    pattern = re.compile(
        "|".join(
            re.escape(t) if len(t) >= MIN_FRAGMENT else r"(?<![^\W_])" + re.escape(t) for t in query_terms
        ),
        re.IGNORECASE,
    )
    first = pattern.search(text)
    start = 0 if first is None else max(first.start() - SNIPPET // 3, 0)
    if start:
        # Start on a word boundary so the snippet does not open mid-word.
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first.start() else start
    window = text[start : start + SNIPPET]
    out, last = [], 0
    for match in pattern.finditer(window):
        out.append(escape(window[last : match.start()]))
        out.append(f"<mark>{escape(match.group())}</mark>")
        last = match.end()
    out.append(escape(window[last:]))
    prefix = "…" if start else ""
    suffix = "…" if start + SNIPPET < len(text) else ""
    return mark_safe(prefix + "".join(out) + suffix)  # noqa: S308 - every piece of text is escaped above
