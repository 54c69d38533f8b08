import pytest

from tests.factories import make_api_key, make_workspace
from traces import client as backoffice


@pytest.fixture
def keyed_workspace():
    workspace = make_workspace()
    _, key = make_api_key(workspace)
    return workspace, key


@pytest.fixture
def make_client(live_server, keyed_workspace):
    """Python clients of the live test server, closed after the test."""
    clients = []

    def make(base_url=None, **options):
        options = {"agent_id": "support-bot", "flush_at_exit": False, "retry_backoff": 0.05, **options}
        made = backoffice.Client(base_url or live_server.url, keyed_workspace[1], **options)
        clients.append(made)
        return made

    yield make
    for made in clients:
        made.close(timeout=2)
