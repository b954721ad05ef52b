"""pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:
    vermilion_server   an embedded server shared by the session, emptied before each test
    vermilion_client   a redis-py client connected to it (decode_responses=False)
"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _vermilion_session_server():
    from .embedded import EmbeddedServer
    server = EmbeddedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def vermilion_server(_vermilion_session_server):
    server = _vermilion_session_server
    client = server.client()
    try:
        client.flushall()
        client.config_resetstat()
    finally:
        client.close()
    return server


@pytest.fixture
def vermilion_client(vermilion_server):
    client = vermilion_server.client()
    yield client
    client.close()
