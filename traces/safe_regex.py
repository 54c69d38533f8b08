"""Redaction patterns, compiled by RE2: matching takes time linear in the text, whatever the pattern.

Python's `re` backtracks, so a pattern such as `(a+)+$` takes seconds on a few dozen characters and
would stall an ingest worker. RE2 has no backreferences and no lookaround; a pattern that needs them
is refused when saved.
"""

import re2

OPTIONS = re2.Options()
OPTIONS.log_errors = False  # an invalid pattern is reported to whoever saves it, not written to stderr
OPTIONS.max_mem = 8 << 20  # bounds the automaton a huge repetition could build


def compile_pattern(pattern):
    """The compiled pattern; raises ValueError with RE2's reason when RE2 cannot compile it."""
    try:
        return re2.compile(pattern, options=OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(reason) from None


def pattern_error(pattern):
    """Why RE2 cannot compile this pattern, or None when it can."""
    try:
        compile_pattern(pattern)
    except ValueError as exc:
        return str(exc)
    return None


GROUP_REFERENCE = re2.compile(r"\\(?:(\d+)|g<([^>]*)>)")


def check_replacement(compiled, replacement):
    """Raises ValueError when the replacement names a group the pattern lacks or ends in a lone `\\`.

    RE2 expands the replacement only when a match happens, so it is checked here, when saved.
    """
    if (len(replacement) - len(replacement.rstrip("\\"))) % 2 == 1:
        raise ValueError("a lone \\ at the end")
    for number, name in (match.groups() for match in GROUP_REFERENCE.finditer(replacement)):
        if name is not None and not name.isdigit():
            if name not in compiled.groupindex:
                raise ValueError(f"no group named {name!r}")
            continue
        index = int(number if number is not None else name)
        if index > compiled.groups:
            raise ValueError(f"no group {index}")
