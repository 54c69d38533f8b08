#!/usr/bin/env python
import logging
import os
import sys

from backoffice import startup


def main():
    startup.read_dotenv()
    startup.settings_or_exit("manage.py")
    # runserver starts twice with the autoreloader (a watcher, then the server it restarts): warn once.
    serving = sys.argv[1:2] == ["runserver"] and os.environ.get("RUN_MAIN") != "true"
    if serving and (warning := startup.metrics_public_warning()):
        logging.getLogger("backoffice").warning(warning)
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        if not (line := startup.unreachable_database(exc)):
            raise
        print(f"manage.py: {line}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
