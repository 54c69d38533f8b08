"""Search: the index kept at ingest (index), what a document's words are (text), and the queries (query).

Other parts filter by text with `query.run_ids_matching(workspace, q, since)`.
"""
