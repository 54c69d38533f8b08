"""The environment the suite runs in, set before pytest-django imports the settings.

pyproject.toml loads this module with `-p`, ahead of pytest-django's own setup: a conftest.py comes too
late, as the settings are read from the environment once, when first imported. The suite does not go
through manage.py, so a checkout's `.env` never reaches it either.
"""

import os

# Tests run with DEBUG off, as production does; a key is all the settings need.
os.environ.setdefault("SECRET_KEY", "tests-only-secret")
os.environ["DEBUG"] = "0"
# The test client and the browser tests speak plain HTTP: no redirect to https, no Secure-only cookies.
# Tests of the HTTPS settings reload them with their own environment.
os.environ["SECURE_SSL"] = "0"
# What the tests of /metrics and of the client address expect, whatever the shell exports.
for name in ("BEHIND_PROXY", "METRICS_TOKEN", "METRICS_PUBLIC"):
    os.environ.pop(name, None)
# Replicas only for the read-replica tests, on the standby that `.ci/standby start` runs: TEST_REPLICA_URL
# (tests/backoffice/test_replica_reads.py; every other test reads the primary, see conftest.py).
os.environ["DATABASE_REPLICA_URLS"] = os.environ.get("TEST_REPLICA_URL", "")
