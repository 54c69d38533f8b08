import os

# Tests run with DEBUG off, as production does; a key is all the settings need.
os.environ.setdefault("SECRET_KEY", "tests-only-secret")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit and log-in counters live in the cache: every test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
