"""The workspace lock: every writer of a workspace's trace rows and roll-ups holds it.

Ingest folds one workspace's batches one at a time under it, and cost recompute, purge, the admin and the
roll-up rebuilds take it too, so two writers never merge the same row or roll-up at once.
"""

from django.db import connection


def lock_workspace(workspace):
    """Ingest folds one workspace's batches one at a time, so two batches never merge the same row at once.

    SQLite serialises writers already (transactions begin IMMEDIATE).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The fold's statements touch a few hundred rows each, but once the tables hold millions
            # the planner's estimates pass jit_above_cost and compiling them costs 100-200 ms a batch.
            # One round trip for both.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s); SET LOCAL jit = off", [7241, workspace.pk])
