"""What an event must satisfy before its schema reads it: ids the pages can link to, times and numbers
the databases hold, values nested no deeper than the stack and the serializers can follow.

Every check answers (field, reason) or None, so a bad event is rejected by itself, naming its field,
and the rest of its batch is stored.
"""

import re
from datetime import UTC, datetime

# Times are accepted from the Unix epoch (OTLP times are unsigned nanoseconds since it, and the export
# path writes them back so) up to 2200: every stored time then fits a signed 64-bit count of
# nanoseconds (to 2262, what OTLP exporters, pandas and ClickHouse hold), and the pages' windows and
# durations stay centuries away from Python's year 9999, where adding a day overflows.
TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)  # exclusive
TIME_RANGE = "between 1970-01-01 and 2200-01-01 UTC"

# JSON values (a payload, metadata, a span attribute) nest at most this deep. Validation, redaction and
# serialization all recurse: pydantic stops at 256 levels, Python's stack near 1,000.
MAX_DEPTH = 64

ID_CHARS = 200
# Ids and names the fold writes as links between rows, read from any event's body (declared by its type
# or not), with the longest text their columns hold.
LINKS = {
    "run_id": ID_CHARS,
    "step_id": ID_CHARS,
    "parent_id": ID_CHARS,
    "session_id": ID_CHARS,
    "agent_id": ID_CHARS,
    "call_id": ID_CHARS,
    "user_id": ID_CHARS,
    "workflow": ID_CHARS,
}
# Those that are path segments of page URLs (/runs/<run_id>/tasks/<step_id>/, /conversations/<session_id>/):
# a "/" there makes the page unreachable. Workflow names are a path of their own (workflows/<path>/dag/).
PATH_SEGMENTS = {"run_id", "step_id", "parent_id", "session_id", "agent_id"}
# Those in any page URL; the others (user_id, call_id, the event id) are shown, never linked by.
IN_URLS = PATH_SEGMENTS | {"workflow"}
# C0 and C1 control characters: NUL is refused by PostgreSQL, the others make ids that cannot be typed,
# copied or shown.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

TOKENS_MAX = 10**12  # per model call; sums over millions of calls still fit a bigint
COST_MAX = 10**6  # dollars per model call; a run's sum of many still fits its decimal(20, 10) column


def id_problem(name, value, limit=ID_CHARS):
    """Why `value` cannot be the id or name `name`, or None. None and "" mean absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if len(value) > limit:
        return f"at most {limit} characters, got {len(value)}"
    if name in IN_URLS:
        if CONTROL.search(value):
            return "must not contain control characters (NUL, newline, tab…)"
    elif "\x00" in value:
        return "must not contain NUL"
    if name in PATH_SEGMENTS and "/" in value:
        return "must not contain '/': it is part of the URL of a page"
    return None


def link_problem(body, prefix="body."):
    """(field, reason) for the first id or name of an event body the fold could not write or link."""
    for name, limit in LINKS.items():
        if name in body:
            reason = id_problem(name, body[name], limit)
            if reason:
                return prefix + name, reason
    return None


def time_problem(value):
    """Why an aware datetime is outside the accepted range, or None."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return f"must be {TIME_RANGE}"
    if not TIME_MIN <= utc < TIME_MAX:
        return f"must be {TIME_RANGE}"
    return None


def too_deep(value, limit=MAX_DEPTH):
    """Whether a JSON value nests containers more than `limit` levels deep. Iterative, level by level:
    a value deep enough to break recursion is measured without recursing."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        below = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, dict | list) and child:
                    below.append(child)
        level, depth = below, depth + 1
    return False


def nesting_problem(raw, limit=MAX_DEPTH):
    """(field, reason) for the first top-level field of a raw event (or of its body) nested too deep."""
    body = raw.get("body")
    if isinstance(body, dict) and too_deep(body, limit + 1):
        for name, item in body.items():
            if isinstance(item, dict | list) and too_deep(item, limit):
                return f"body.{name}", f"nested deeper than {limit} levels"
    for key, value in raw.items():
        # A body that is not an object is the wrong type, but is still walked before it is rejected.
        followed = key != "body" or not isinstance(value, dict)
        if followed and isinstance(value, dict | list) and too_deep(value, limit):
            return str(key), f"nested deeper than {limit} levels"
    return None


def too_deep_path(value, limit=MAX_DEPTH):
    """The path ("a.0.b") to the first container nested more than `limit` levels deep, or None."""
    stack = [(value, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if depth > limit:
            return where
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(child, dict | list) and child:
                stack.append((child, depth + 1, f"{where}.{key}" if where else str(key)))
    return None
