"""The fuzz suite: what it sends, how long it runs, and how it can be skipped.

It runs in the normal suite (CI runs it on SQLite and PostgreSQL) with a fixed seed and no example
database, so every run sends the same requests. `FUZZ_EXAMPLES=5000` runs it longer; `FUZZ_SEED=<n>`
explores other inputs; `SKIP_FUZZ=1` leaves it out.
"""

import pytest

from tests.fuzz.budget import SKIP_REASON, skip_fuzz


def pytest_collection_modifyitems(config, items):
    """Every test under tests/fuzz carries the `fuzz` mark, and is skipped when SKIP_FUZZ is set."""
    for item in items:
        if "tests/fuzz/" in item.nodeid:
            item.add_marker(pytest.mark.fuzz)
            if skip_fuzz():
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
