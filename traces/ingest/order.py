"""Stamps: which event set a value, so that a batch folded later can tell whether its own event comes
before or after it, and the rows end up the same whatever order the batches arrive in.

An event's stamp is its time and its id, `[time in ISO form, event id]`. Stamps compare by time, then
by id: two events never share an id within a workspace, so the order is total. Rows keep the stamps
of what they took from events in a `stamps` JSON column:

- a task's metadata keys: `{"metadata": {key: stamp}}`, the latest event setting a key wins;
- a session's agent and user: `{"agent": [*stamp, agent pk], "user": [*stamp, user id]}`, the earliest
  event naming them with the session (used when none of the session's runs names one);
- an agent's name, description, mode and limits: `{field: stamp}`, the latest agent.upsert that sent
  the field wins.

A value stored before stamps were kept has none, and counts as older than any event.
"""

from datetime import UTC, datetime


def stamp(event):
    """The stamp of an accepted event."""
    return [event.timestamp.astimezone(UTC).isoformat(), event.id]


def key(value):
    """A stamp's sort key; the missing stamp sorts before every other."""
    if not value:
        return (datetime.min.replace(tzinfo=UTC), "")
    return (datetime.fromisoformat(value[0]), value[1])


def later(new, seen):
    """Does the stamp `new` come after `seen` (which may be missing)?"""
    return not seen or key(new) > key(seen)


def merge_latest(values, stamps, new, at):
    """`values` with each key of `new` whose stamp in `stamps` is older than `at` set to the new value;
    returns the values and the stamps, new dicts when anything changed."""
    changed = [name for name in new if later(at, stamps.get(name))]
    if not changed:
        return values, stamps
    values, stamps = dict(values), dict(stamps)
    for name in changed:
        values[name] = new[name]
        stamps[name] = at
    return values, stamps


def earlier(new, seen):
    """Does the stamp `new` come before `seen` (which may be missing)?"""
    return not seen or key(new) < key(seen[:2])
