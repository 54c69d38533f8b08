# The environment of the suite (SECRET_KEY, DEBUG off, plain HTTP) is set in tests/environment.py.
import os

import pytest

# The settings have read it by now (tests/environment.py). The servers some tests start over the test
# database get no replica: for them the standby's alias would name the real database, not the test one.
os.environ.pop("DATABASE_REPLICA_URLS", None)


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


@pytest.fixture(autouse=True)
def _reads_on_the_primary(request):
    """With TEST_REPLICA_URL set, the replica tests read the standby; the others read the primary, as
    their rows are in a transaction the standby never sees."""
    from django.conf import settings
    from django.test import override_settings

    if not settings.DATABASE_REPLICAS or request.node.get_closest_marker("replica"):
        yield
        return
    with override_settings(DATABASE_REPLICAS=[]):
        yield
