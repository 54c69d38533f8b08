"""Roll-ups of the metrics app: tracked_events keeps the daily roll-up of business events
(table tracked_event_rollups); spend keeps model calls' cost and tokens per scope key and day for the
budgets (table spend_rollups)."""
