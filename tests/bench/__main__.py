"""`python -m tests.bench --scale 0.01`: build (or reuse) the data set, measure, print one table.

Run it through `make bench` (BENCH_SCALE=… BENCH_ARGS=…) against the database in DATABASE_URL.
"""

import argparse
import os
import sys


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=0.001, help="fraction of the full data set (1.0 = 1M runs)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rebuild", action="store_true", help="build the data set even if the marker says it is there"
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing; the median is reported")
    parser.add_argument(
        "--events", type=int, help="events to ingest (default: 1,000,000 × scale, 5,000 at least)"
    )
    parser.add_argument("--spans", type=int, help="OTLP spans to post (default: half the events)")
    parser.add_argument("--clients", type=int, default=3, help="concurrent ingest clients")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8108")))
    parser.add_argument(
        "--no-server", action="store_true", help="ingest through the in-process client, no gunicorn"
    )
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    options = parser.parse_args(argv)
    if options.events is None:
        options.events = min(max(round(1_000_000 * options.scale), 5_000), 1_000_000)
    if options.spans is None:
        options.spans = options.events // 2
    return options


def run(options, out):
    """Everything after Django is set up; the smoke test calls this on the test database."""
    from . import dataset
    from .figures import all_figures
    from .measure import print_table

    facts, reused = dataset.ensure(
        options.scale, options.seed, progress=not options.quiet, rebuild=options.rebuild
    )
    rows = sum(facts.counts.values())
    how = (
        "reused"
        if reused
        else f"built in {facts.seconds:,.0f} s ({rows / max(facts.seconds, 0.1):,.0f} rows/s)"
    )
    out.write(f"Data set: scale {facts.scale:g}, seed {facts.seed}, {rows:,} rows, {how}\n")
    out.write("  " + ", ".join(f"{n:,} {name}" for name, n in facts.counts.items()) + "\n")
    figures = all_figures(facts, options, out)
    print_table(figures, out)
    return figures


def main(argv=None):
    options = parse(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    # The pages are measured through the test client over plain HTTP: no redirect to https.
    os.environ.setdefault("SECURE_SSL", "0")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"Database: {connection.vendor} {connection.settings_dict['NAME']}", file=sys.stdout)
    run(options, sys.stdout)


if __name__ == "__main__":
    main()
