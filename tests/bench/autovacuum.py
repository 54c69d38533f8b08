"""What autovacuum does while a long ingest runs, for a server where it is off.

PostgreSQL runs autovacuum by default; a server set up without it (as some test machines are) plans
every query on the statistics the tables had before the ingest began. The event log starts empty in the
data set, so the duplicate check, an index lookup of 1,000 ids, was planned as a scan of the whole log,
and each batch cost more than the one before. This thread applies autovacuum's own rules, with
PostgreSQL's default thresholds, to the tables ingest writes, so the figures are those of a server as
deployed.
"""

import threading

from django.db import connection

# (threshold, scale factor) of autovacuum_vacuum_*, autovacuum_vacuum_insert_* and autovacuum_analyze_*.
VACUUM, INSERT_VACUUM, ANALYZE = (50, 0.2), (1000, 0.2), (50, 0.1)


def due(count, tuples, rule):
    threshold, scale = rule
    return count > threshold + scale * max(tuples, 0)


class Autovacuum:
    """A context that vacuums and analyzes `tables` as autovacuum would, checking every `naptime`
    seconds, when the server's own autovacuum is off (PostgreSQL only; nothing otherwise)."""

    def __init__(self, tables, naptime=10):
        self.tables, self.naptime = list(tables), naptime
        self.stop = threading.Event()
        self.thread = None
        self.vacuums = self.analyzes = 0

    def needed(self):
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return False  # VACUUM cannot run inside the smoke test's transaction
        with connection.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            return cursor.fetchone()[0] == "off"

    def __enter__(self):
        if self.needed():
            self.thread = threading.Thread(target=self.run, name="autovacuum", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.thread:
            self.stop.set()
            self.thread.join()

    def run(self):
        try:
            while not self.stop.wait(self.naptime):
                self.once()
        finally:
            connection.close()  # this thread's own connection

    def once(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.relname, c.reltuples, s.n_dead_tup, s.n_ins_since_vacuum, s.n_mod_since_analyze "
                "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = ANY(%s)",
                [self.tables],
            )
            for table, tuples, dead, inserted, modified in cursor.fetchall():
                if due(dead, tuples, VACUUM) or due(inserted, tuples, INSERT_VACUUM):
                    cursor.execute(f"VACUUM (ANALYZE) {table}")
                    self.vacuums += 1
                elif due(modified, tuples, ANALYZE):
                    cursor.execute(f"ANALYZE {table}")
                    self.analyzes += 1

    def summary(self):
        """What the stand-in did, or None when it did not run."""
        if self.thread is None:
            return None
        return (
            f"autovacuum off on this server: the bench ran {self.vacuums} VACUUM and {self.analyzes} ANALYZE"
        )
