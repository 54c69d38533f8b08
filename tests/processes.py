"""Helpers for tests that start a real process (gunicorn, the worker) over the test database."""

import socket
import sqlite3

from django.db import connection


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(tmp_path):
    """A URL another process can open for the test database: PostgreSQL's by name, SQLite's (in memory)
    copied to a file with what the test has written."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings["USER"] or "postgres"
        auth = f"{user}:{settings['PASSWORD']}" if settings["PASSWORD"] else user
        host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
        return f"postgres://{auth}@{host}:{port}/{settings['NAME']}"
    connection.ensure_connection()
    path = tmp_path / "served.sqlite3"
    with sqlite3.connect(path) as copy:
        connection.connection.backup(copy)
    return f"sqlite:///{path}"
