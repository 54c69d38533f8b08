# The environment of the suite (SECRET_KEY, DEBUG off, plain HTTP) is set in tests/environment.py.
import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit and log-in counters live in the cache: every test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
