"""Business events arrive through the traces ingest as `track` events; they are stored here."""

from traces import bulk

from .models import TrackedEvent
from .rollups import tracked_events as rollups


def store_tracked_events(fold, events):
    # Every event handed over here is new (ingest drops resent ids first) and gets stored: the daily
    # roll-up counts exactly these, in the same transaction.
    bulk.append(
        TrackedEvent,
        [
            dict(
                workspace=fold.workspace,
                event_id=event.id,
                agent=fold.agents.get(event.body.agent_id) if event.body.agent_id else None,
                session=fold.sessions.get(event.body.session_id) if event.body.session_id else None,
                run=fold.runs.get(event.body.run_id) if event.body.run_id else None,
                name=event.body.name,
                properties=event.body.properties or {},
                timestamp=event.timestamp,
            )
            for event in events
        ],
    )
    rollups.add(fold.workspace, events)
