"""`python tests/postgres_ready.py URL`: exit 0 when the PostgreSQL database at URL answers; otherwise
say why on one line (server unreachable, or only the database missing and how to create it), exit 1.

`make test` runs it before the PostgreSQL part of the suite.
"""

import sys

import psycopg
from psycopg import conninfo


def diagnose(url):
    """None when the database answers, else the line saying what is wrong."""
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return None
    except psycopg.OperationalError as exc:
        error = str(exc).strip().splitlines()[0]
    params = conninfo.conninfo_to_dict(url)
    host, port = params.get("host", "localhost"), params.get("port", "5432")
    try:
        psycopg.connect(conninfo.make_conninfo(url, dbname="postgres"), connect_timeout=3).close()
    except psycopg.OperationalError:
        return f"PostgreSQL is not reachable at {host}:{port} ({error})."
    if "does not exist" not in error:
        return f"PostgreSQL at {host}:{port} refused {url}: {error}"
    name, user = params.get("dbname", ""), params.get("user", "postgres")
    return (
        f"PostgreSQL at {host}:{port} answers but the database {name!r} is missing; create it with: "
        f"psql -h {host} -p {port} -U {user} -c 'CREATE DATABASE {name}'"
    )


if __name__ == "__main__":
    problem = diagnose(sys.argv[1])
    if problem:
        print(problem)
    sys.exit(1 if problem else 0)
