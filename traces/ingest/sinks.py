"""Event types handled outside `traces`.

`traces` never imports `metrics`; instead `metrics` registers a sink for the `track` events when it
loads, and the fold hands them over inside the same transaction.
"""

_sinks = {}


def register(event_type, handler):
    """handler(fold, events) is called once per batch with that type's accepted events."""
    _sinks[event_type] = handler


def sink_for(event_type):
    return _sinks.get(event_type)
