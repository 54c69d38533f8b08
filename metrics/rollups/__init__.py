"""Roll-ups of the metrics app: tracked_events keeps the daily roll-up of business events
(table tracked_event_rollups)."""
