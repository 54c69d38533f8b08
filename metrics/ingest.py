"""Business events arrive through the traces ingest as `track` events; they are stored here."""

from traces import bulk
from traces.models import Run, SearchKind
from traces.search import index as search

from .models import TrackedEvent
from .rollups import tracked_events as rollups


def store_tracked_events(fold, events):
    # Every event handed over here is new (ingest drops resent ids first) and gets stored: the daily
    # roll-up counts exactly these, in the same transaction.
    rows = [
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
    ]
    bulk.append(TrackedEvent, rows)
    for row in rows:
        add_business_event(
            fold.search, row["run"], row["event_id"], row["name"], row["properties"], row["timestamp"]
        )
    rollups.add(fold.workspace, events)


def add_business_event(batch, run, event_id, name, properties, at):
    # Found by its name as well as by what its properties say.
    batch.add(run, SearchKind.EVENT, event_id, at, {"name": name, **properties})


def reindex_business_events(workspace):
    """The search documents of a workspace's business events, rebuilt (the search backfill)."""
    batch = search.Batch(workspace)
    for chunk in search.chunks(
        TrackedEvent.objects.filter(workspace=workspace), "run", "event_id", "name", "properties", "timestamp"
    ):
        search.forget(workspace, SearchKind.EVENT, [e.event_id for e in chunk])
        for row in chunk:
            run = Run(pk=row.run_id) if row.run_id else None  # its key is all a document needs
            add_business_event(batch, run, row.event_id, row.name, row.properties, row.timestamp)
        batch.write()
