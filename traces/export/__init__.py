"""Trace exporters: every finished run of a workspace forwarded to OTLP/HTTP endpoints.

`spans` turns a stored run into spans in the conventions OTLP ingest reads, `delivery` sends one request,
`outbox` queues the runs and sends them at least once with backoff (`export_pending`, one pass, run by
the `export_traces` command), `views` is Settings › Exporters.
"""
