"""Building events for the ingest API in tests."""

import itertools
from datetime import UTC, datetime, timedelta

_ids = itertools.count(1)
BASE = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


def event(type_, body, *, at=0.0, event_id=None):
    """One event; `at` is seconds after a fixed base time (microseconds kept)."""
    return {
        "id": event_id or f"ev-{next(_ids):08d}",
        "type": type_,
        "timestamp": (BASE + timedelta(seconds=at)).isoformat(),
        "body": body,
    }


def post_batch(client, raw_key, events, **extra):
    return client.post(
        "/api/v1/ingest",
        {"batch": events},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw_key}"},
        **extra,
    )
