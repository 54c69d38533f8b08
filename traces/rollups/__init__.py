"""Roll-ups of the run record, each kept equal to a rebuild from the rows it summarises.

- sessions: a conversation's counts and preview and a run's tokens and cost, on their own rows
  (sessions, runs, tasks), recomputed by the fold, purge and cost recompute;
- daily: the daily trace roll-ups (table trace_rollups) that dashboard cards and /metrics read, kept at
  every write; daily_spec: what they can answer, for readers;
- model_calls: the Model calls page's per-model roll-up of a range, computed when the page asks.
"""
