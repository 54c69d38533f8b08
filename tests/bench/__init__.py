"""Benchmarks that hold Backoffice to its speed targets: `make bench` (or `python -m tests.bench`).

They build a data set of a given scale in the configured database, then measure and print one table of
figures. They are not timed tests: the smoke test runs them at a tiny scale and only checks the table.
"""
