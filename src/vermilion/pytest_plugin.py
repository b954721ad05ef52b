"""pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:
    vermilion_server          an embedded server shared by the session, emptied before each test
    vermilion_client          a redis-py client connected to it (decode_responses=False)
    vermilion_server_options  the keyword arguments of that server's `vermilion.embedded(...)`;
                              override it (session scope) in a conftest.py, e.g. to serve TLS:

        @pytest.fixture(scope="session")
        def vermilion_server_options(tmp_path_factory):
            certs = make_certificates(tmp_path_factory.mktemp("tls"))   # yours
            return {"tls": {"cert_file": certs.cert, "key_file": certs.key,
                            "ca_cert_file": certs.ca}}
"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def vermilion_server_options():
    return {}


@pytest.fixture(scope="session")
def _vermilion_session_server(vermilion_server_options):
    from .embedded import EmbeddedServer
    server = EmbeddedServer(**vermilion_server_options)
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
