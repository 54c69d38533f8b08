import os

# Tests run with DEBUG off, as production does; a key is all the settings need.
os.environ.setdefault("SECRET_KEY", "tests-only-secret")


import pytest  # noqa: E402


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
