# The environment of the suite (SECRET_KEY, DEBUG off, plain HTTP) is set in tests/environment.py.
import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit and log-in counters start from zero in every test. In the database (the default
    cache) each test's transaction already undoes them; another cache is cleared."""
    from django.core.cache import cache

    from backoffice.ratelimit import in_database

    if in_database():
        yield
        return
    cache.clear()
    yield
    cache.clear()
