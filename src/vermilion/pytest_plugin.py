"""pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:
    vermilion_server          a server shared by the session (per xdist worker), emptied
                              before each test
    vermilion_client          a redis-py client connected to it (decode_responses=False)
    vermilion_async_client    the same as a ``redis.asyncio.Redis`` (needs pytest-asyncio)
    vermilion_server_options  the keyword arguments of that server's `vermilion.embedded(...)`;
                              override it (session scope) in a conftest.py, e.g. to serve TLS:

        @pytest.fixture(scope="session")
        def vermilion_server_options(tmp_path_factory):
            certs = make_certificates(tmp_path_factory.mktemp("tls"))   # yours
            return {"tls": {"cert_file": certs.cert, "key_file": certs.key,
                            "ca_cert_file": certs.ca}}

Factory, for more servers (three for Redlock, one with persistence...)::

    from vermilion.pytest_plugin import vermilion_server_factory
    node_a = vermilion_server_factory(scope="module")
    durable = vermilion_server_factory(persistence=True, config={"appendfsync": "always"})

Options (each also an ini key: ``vermilion_port``, ``vermilion_config``, ``vermilion_url``):
    --vermilion-port N       the session server's port (worker i of xdist takes N+i)
    --vermilion-config FILE  a redis.conf-style file for the session server
    --vermilion-url URL      use this running server (e.g. real Redis) instead of an
                             embedded one; each xdist worker takes its own database
                             (the URL's database + the worker's number), and the
                             fixtures FLUSHDB that database before each test
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator
from urllib.parse import urlparse

import pytest

from .embedded import EmbeddedServer

if TYPE_CHECKING:
    import redis
    import redis.asyncio

_OPTIONS = {
    "port": "port of the embedded Vermilion server (xdist worker i adds i)",
    "config": "redis.conf-style file for the embedded Vermilion server",
    "url": "run the vermilion_* fixtures against this running server instead "
           "(e.g. redis://localhost:6379/0); every test FLUSHDBs its database",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vermilion", "Vermilion server fixtures")
    for name, text in _OPTIONS.items():
        group.addoption(f"--vermilion-{name}", dest=f"vermilion_{name}", default=None, help=text)
        parser.addini(f"vermilion_{name}", text, default=None)


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"vermilion_{name}") or config.getini(f"vermilion_{name}")
    return str(value) if value else None


def worker_index() -> int:
    """0 outside xdist, else the worker's number (gw3 -> 3)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


class ExternalServer:
    """A server we did not start (``--vermilion-url``), with EmbeddedServer's client API."""

    def __init__(self, url: str, db: int):
        parsed = urlparse(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        self.db = db
        self._base = url

    @property
    def url(self) -> str:
        parsed = urlparse(self._base)
        return parsed._replace(path=f"/{self.db}").geturl()

    def client(self, **kwargs: Any) -> "redis.Redis":
        import redis
        return redis.Redis.from_url(self.url, **kwargs)

    def async_client(self, **kwargs: Any) -> "redis.asyncio.Redis":
        import redis.asyncio
        return redis.asyncio.Redis.from_url(self.url, **kwargs)

    def start(self) -> "ExternalServer":
        return self

    def stop(self) -> None:
        pass


Server = EmbeddedServer | ExternalServer


@pytest.fixture(scope="session")
def vermilion_server_options() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="session")
def _vermilion_session_server(pytestconfig: pytest.Config,
                              vermilion_server_options: dict[str, Any]) -> Iterator[Server]:
    url = _option(pytestconfig, "url")
    if url:
        base_db = int((urlparse(url).path or "/0").strip("/") or 0)
        yield ExternalServer(url, base_db + worker_index())
        return
    options = dict(vermilion_server_options)
    port = _option(pytestconfig, "port")
    if port:
        options.setdefault("port", int(port) + worker_index())
    config_file = _option(pytestconfig, "config")
    if config_file:
        options.setdefault("config_file", config_file)
    server = EmbeddedServer(**options)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def vermilion_server(_vermilion_session_server: Server) -> Server:
    server = _vermilion_session_server
    client = server.client()
    try:
        if isinstance(server, ExternalServer):
            client.flushdb()
        else:
            client.flushall()
            client.config_resetstat()
    finally:
        client.close()
    return server


@pytest.fixture
def vermilion_client(vermilion_server: Server) -> Iterator["redis.Redis"]:
    client = vermilion_server.client()
    yield client
    client.close()


async def _async_client(vermilion_server: Server) -> AsyncIterator["redis.asyncio.Redis"]:
    client = vermilion_server.async_client()
    yield client
    await client.aclose()


def _needs_pytest_asyncio(vermilion_server: Server) -> None:
    pytest.fail("vermilion_async_client needs pytest-asyncio (pip install pytest-asyncio)")


vermilion_async_client: Any
try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixture then says what is missing
    vermilion_async_client = pytest.fixture(name="vermilion_async_client")(_needs_pytest_asyncio)
else:
    vermilion_async_client = pytest_asyncio.fixture(name="vermilion_async_client")(_async_client)


def vermilion_server_factory(config: dict[str, Any] | None = None, scope: str = "session", *,
                             persistence: bool = False, port: int | None = None,
                             config_file: str | None = None) -> Callable[..., Any]:
    """A fixture starting one more embedded server (its own port and data
    directory) for the given ``scope``; assign it to a module-level name, which
    becomes the fixture's name. It always starts an embedded server, whatever
    ``--vermilion-url`` says, and is emptied only when it starts."""

    def server() -> Iterator[EmbeddedServer]:
        srv = EmbeddedServer(port=port, persistence=persistence, config=config,
                             config_file=config_file)
        srv.start()
        yield srv
        srv.stop()

    return pytest.fixture(scope=scope)(server)  # type: ignore[call-overload,no-any-return]


def vermilion_replicated_factory(replicas: int = 1, config: dict[str, Any] | None = None,
                                 scope: str = "session") -> Callable[..., Any]:
    """A fixture starting an embedded primary with `replicas` embedded replicas,
    synced before the test runs (a `vermilion.embedded.ReplicatedServers`: ``.primary``,
    ``.replicas``, ``.wait_in_sync()``); assign it to a module-level name."""

    def servers() -> Iterator[Any]:
        from .embedded import ReplicatedServers
        group = ReplicatedServers(replicas, config=config).start()
        yield group
        group.stop()

    return pytest.fixture(scope=scope)(servers)  # type: ignore[call-overload,no-any-return]
