"""Embedded mode: the same server inside the calling Python process.

    import vermilion

    with vermilion.embedded() as server:
        r = server.client()          # a redis.Redis connected to it
        r.set("k", "v")

The server runs its own event loop in a background thread, listening on a
localhost port the kernel picks when it binds (``server.port`` reads it back,
so no other process can take the port between choosing and binding it), or on
a unix socket. Persistence is off unless you ask for it. ``async with`` works
too: starting and stopping then run in a worker thread, off the event loop.

Replication: `embedded(replicaof=other_server)` (or ``(host, port)``) starts a replica of
another server, embedded or not; `wait_replicated()` returns once it is in sync.
`vermilion.embedded_replicated(n)` starts a primary with `n` replicas (ReplicatedServers).

Observability: `embedded(metrics_port=0, dashboard_port=0)` serves Prometheus
metrics and the web dashboard on free ports (`metrics_url`, `dashboard_url`);
`dashboard_write=True` enables its write actions (docs/dashboard.md).

TLS: `embedded(tls={"cert_file": ..., "key_file": ..., "ca_cert_file": ...})`
listens with TLS on a free port (the keys are the tls-* directives without the
prefix; "port" picks the TLS port) and, unless `port` is given too, not in
plaintext. `client()` then connects with TLS, checking the server against the CA
and presenting tls-client-cert-file (else tls-cert-file) as its own certificate,
the one Redis itself presents when it connects out.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import tempfile
import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .config import Config

if TYPE_CHECKING:
    import redis
    import redis.asyncio

T = TypeVar("T")


class EmbeddedServer:
    """A Vermilion server in a background thread; use as a context manager or start()/stop().

    ``config_file``: a redis.conf-style file read first; ``config`` entries override it.
    """

    port: int           # the TCP port once listening (0 before, or with no TCP)

    def __init__(self, port: int | None = None, unixsocket: str | None = None,
                 dir: str | None = None, persistence: bool = False,
                 config: dict[str, Any] | None = None, log: bool = False,
                 config_file: str | None = None, tls: dict[str, Any] | None = None,
                 metrics_port: int | None = None, dashboard_port: int | None = None,
                 dashboard_write: bool = False,
                 replicaof: "str | tuple[str, int] | EmbeddedServer | None" = None):
        self.config = Config()
        if config_file:
            self.config.load_file(config_file)
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="vermilion-")
            dir = self._tempdir.name
        # Loopback, not `vermilion server`'s `* -::*` (Redis's default): an embedded server
        # serves the process that started it and must not open a port to the network.
        settings = {"dir": dir, "bind": "127.0.0.1", "save": "", "appendonly": "no",
                    "loglevel": "warning" if not log else "notice"}
        if persistence:
            settings.pop("save")
            settings["appendonly"] = "yes"
        if unixsocket:
            settings["unixsocket"] = unixsocket
        # No port asked for: bind port 0 and read the kernel's choice back once listening
        # (with TLS and no port: TLS only, as port 0 means "no TCP").
        self._ephemeral = port is None and not unixsocket and tls is None
        settings["port"] = str(port or 0)
        if replicaof is not None:
            # "host port", (host, port), or another embedded server to replicate.
            if isinstance(replicaof, EmbeddedServer):
                replicaof = ("127.0.0.1", replicaof.port)
            if not isinstance(replicaof, str):
                host, primary_port = replicaof
                replicaof = f"{host} {int(primary_port)}"
            settings["replicaof"] = replicaof
        for name, value in (config or {}).items():
            settings[name.replace("_", "-")] = value if isinstance(value, str) else str(value)
        if tls is not None:
            tls = {name.replace("_", "-").removeprefix("tls-"): value for name, value in tls.items()}
            settings["tls-port"] = str(tls.pop("port", None) or _free_port())
            for name, value in tls.items():
                settings["tls-" + name] = value if isinstance(value, str) else str(value)
        self.tls = tls is not None
        # Prometheus endpoint and dashboard (docs/dashboard.md); 0 picks a free port.
        for name, value in (("metrics-port", metrics_port), ("dashboard-port", dashboard_port)):
            if value is not None:
                settings[name] = str(value or _free_port())
        if dashboard_write:
            settings["dashboard-write"] = "yes"
        self.config.load_text([f"{k} {_quote(v)}" for k, v in settings.items()])
        self.port = 0
        self.tls_port = 0
        self.unixsocket = unixsocket
        self.engine: Any = None
        self._server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._log = log

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> "EmbeddedServer":
        import logging
        from .server.runtime import new_event_loop, serve

        logger = logging.getLogger("vermilion")
        if self._log:
            from .server.runtime import setup_logging
            setup_logging(self.config)
        elif not logger.handlers:
            # The library convention: silent unless the host application configures
            # logging, whose handlers still receive our records (they propagate).
            logger.addHandler(logging.NullHandler())

        def ready(server: Any) -> None:
            self._server = server
            self.engine = server.engine
            self.port = server.port
            self.tls_port = server.tls.port
            self._ready.set()

        def run() -> None:
            loop = new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve(self.config, ready=ready, install_signals=False,
                                              ephemeral_port=self._ephemeral))
            except BaseException as err:  # reported to the thread that called start()
                self._error = err
            finally:
                self._ready.set()
                loop.close()

        self._thread = threading.Thread(target=run, name="vermilion-server", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"embedded server failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._server is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._server.request_shutdown, "Embedded server stopping")
        self._thread.join(10)
        self._thread = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> "EmbeddedServer":
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- clients ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.tls:
            return f"rediss://127.0.0.1:{self.tls_port}/0"
        if self.unixsocket and not self.port:
            return f"unix://{self.unixsocket}"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def metrics_url(self) -> str | None:
        """The Prometheus endpoint (``metrics_port=``), or None."""
        port = self.config["metrics-port"]
        return f"http://127.0.0.1:{port}/metrics" if port else None

    @property
    def dashboard_url(self) -> str | None:
        """The dashboard (``dashboard_port=``), or None."""
        port = self.config["dashboard-port"]
        return f"http://127.0.0.1:{port}/" if port else None

    def tls_client_kwargs(self) -> dict[str, Any]:
        """redis-py's TLS arguments for this server: its CA, and a client certificate
        when the server asks for one (tls-auth-clients yes or optional)."""
        cfg = self.config
        out = {"ssl": True, "ssl_check_hostname": False,
               "ssl_ca_certs": cfg["tls-ca-cert-file"] or None,
               "ssl_ca_path": cfg["tls-ca-cert-dir"] or None}
        if cfg["tls-auth-clients"] != "no":
            client = bool(cfg["tls-client-cert-file"])
            out["ssl_certfile"] = cfg["tls-client-cert-file" if client else "tls-cert-file"]
            out["ssl_keyfile"] = cfg["tls-client-key-file" if client else "tls-key-file"]
            password = cfg["tls-client-key-file-pass" if client else "tls-key-file-pass"]
            if password:
                out["ssl_password"] = password
        return out

    def _client_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.tls:
            return {"host": "127.0.0.1", "port": self.tls_port, **self.tls_client_kwargs(), **kwargs}
        if self.unixsocket and not self.port:
            return {"unix_socket_path": self.unixsocket, **kwargs}
        return {"host": "127.0.0.1", "port": self.port, **kwargs}

    def client(self, **kwargs: Any) -> "redis.Redis":
        """A redis-py `Redis` client connected to this server."""
        import redis
        return redis.Redis(**self._client_kwargs(kwargs))

    def async_client(self, **kwargs: Any) -> "redis.asyncio.Redis":
        """A `redis.asyncio.Redis` client connected to this server."""
        import redis.asyncio
        return redis.asyncio.Redis(**self._client_kwargs(kwargs))

    def wait_replicated(self, timeout: float = 30.0) -> None:
        """As a replica: return once the link to the master is up and the dataset
        loaded (INFO master_link_status:up); TimeoutError otherwise."""
        import time
        deadline = time.monotonic() + timeout
        with self.client() as r:
            while True:
                info = r.info("replication")
                if info.get("master_link_status") == "up":
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"replica on port {self.port} did not sync: {info}")
                time.sleep(0.01)

    def call_in_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the server's thread and return its result (for tests/tools)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as err:
                future.set_exception(err)

        if self._loop is None:
            raise RuntimeError("the embedded server is not running")
        self._loop.call_soon_threadsafe(run)
        return future.result(10)


def _free_port() -> int:
    """A port free right now, for the TLS listener (Redis reads tls-port 0 as "no TLS",
    so the bind-port-0-and-read-back of the plain port does not apply to it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _quote(value: str) -> str:
    if value == "":
        return '""'
    if any(c in value for c in " \t\"'\\"):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


class ReplicatedServers:
    """A primary and `replicas` replicas of it, all embedded, each synced before
    `start` returns: ``with vermilion.embedded_replicated(2) as rs: rs.primary.client()``.
    Extra keyword arguments go to every server (``config=`` ...)."""

    def __init__(self, replicas: int = 1, **kwargs: Any):
        self.count = replicas
        self.kwargs = kwargs
        self.primary: EmbeddedServer | None = None
        self.replicas: list[EmbeddedServer] = []

    def start(self) -> "ReplicatedServers":
        try:
            # Replicas (and theirs) attach right away: no diskless-sync delay unless asked for.
            kwargs = dict(self.kwargs)
            kwargs["config"] = {"repl-diskless-sync-delay": 0, **(self.kwargs.get("config") or {})}
            self.primary = EmbeddedServer(**kwargs).start()
            for _ in range(self.count):
                self.replicas.append(EmbeddedServer(replicaof=self.primary, **kwargs).start())
            for replica in self.replicas:
                replica.wait_replicated()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.replicas:
            server.stop()
        self.replicas = []
        if self.primary is not None:
            self.primary.stop()
            self.primary = None

    def wait_in_sync(self, timeout: float = 30.0) -> None:
        """Return once every replica has applied the primary's stream up to now."""
        import time
        assert self.primary is not None
        with self.primary.client() as r:
            target = r.info("replication")["master_repl_offset"]
        deadline = time.monotonic() + timeout
        for replica in self.replicas:
            with replica.client() as c:
                while c.info("replication").get("slave_repl_offset", -1) < target:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"replica on port {replica.port} is behind")
                    time.sleep(0.01)

    def __enter__(self) -> "ReplicatedServers":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def embedded(**kwargs: Any) -> EmbeddedServer:
    """Create an embedded server; use it with `with` or call `.start()` / `.stop()`."""
    return EmbeddedServer(**kwargs)
