"""The network server: listeners, the client registry, limits, cron and shutdown."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

from ..engine.engine import Engine
from .connection import Connection

log = logging.getLogger("vermilion")


class Server:
    def __init__(self, engine: Engine):
        self.engine = engine
        engine.server = self
        self.config = engine.config
        self.listeners: list[asyncio.AbstractServer] = []
        self.clients: dict[int, Connection] = engine.clients
        self.port = 0
        self.unix_path: str | None = None
        self.obuf_limits_active = False
        self.stopped = asyncio.Event() if False else None
        self._cron_handle = None
        self._shutdown_future: asyncio.Future | None = None
        self.paused_until = 0.0

    # -- start / stop ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.engine.loop = loop
        self._shutdown_future = loop.create_future()
        cfg = self.config
        backlog = cfg["tcp-backlog"]
        port = cfg["port"]
        if port:
            hosts = [h for h in cfg["bind"].split() if h] or ["127.0.0.1"]
            for host in hosts:
                optional = host.startswith("-")
                host = host.lstrip("-")
                if host == "*":
                    host = "0.0.0.0"
                try:
                    srv = await loop.create_server(lambda: Connection(self), host, port,
                                                   backlog=backlog, reuse_address=True)
                except OSError as err:
                    if optional:
                        continue
                    raise OSError(err.errno, f"Could not create server TCP listening socket {host}:{port}: {err.strerror}") from None
                self.listeners.append(srv)
                if not self.port:
                    self.port = srv.sockets[0].getsockname()[1]
        path = cfg["unixsocket"]
        if path:
            if os.path.exists(path):
                os.unlink(path)
            srv = await loop.create_unix_server(lambda: Connection(self), path, backlog=backlog)
            perm = cfg["unixsocketperm"]
            if perm:
                os.chmod(path, perm)
            self.listeners.append(srv)
            self.unix_path = path
        self._schedule_cron()

    def _schedule_cron(self) -> None:
        hz = max(self.config["hz"], 1)
        self._cron_handle = self.engine.loop.call_later(1 / hz, self._cron)

    def _cron(self) -> None:
        try:
            self.engine.cron()
            self._client_timeouts()
        except Exception:
            log.exception("cron failed")
        self._schedule_cron()

    def _client_timeouts(self) -> None:
        timeout = self.config["timeout"]
        if not timeout:
            return
        now = self.engine.clock.ms()
        for client in list(self.clients.values()):
            if client.blocked is None and not client.subscription_count and \
                    now - client.last_interaction_ms > timeout * 1000:
                log.info("Closing idle client")
                client.close()

    def request_shutdown(self, reason: str = "") -> None:
        if self._shutdown_future is not None and not self._shutdown_future.done():
            self._shutdown_future.set_result(reason)

    async def wait_closed(self) -> str:
        return await self._shutdown_future

    async def stop(self) -> None:
        if self._cron_handle is not None:
            self._cron_handle.cancel()
        for srv in self.listeners:
            srv.close()
        for client in list(self.clients.values()):
            client.abort()
        for srv in self.listeners:
            try:
                await asyncio.wait_for(srv.wait_closed(), 1)
            except (asyncio.TimeoutError, Exception):
                pass
        if self.unix_path and os.path.exists(self.unix_path):
            os.unlink(self.unix_path)

    # -- clients -------------------------------------------------------------------------

    def client_connected(self, client: Connection) -> None:
        stats = self.engine.stats
        if len(self.clients) >= self.config["maxclients"]:
            stats.rejected_connections += 1
            client.transport.write(b"-ERR max number of clients reached\r\n")
            client.close()
            return
        stats.total_connections += 1
        self.clients[client.id] = client

    def client_disconnected(self, client: Connection) -> None:
        if self.clients.pop(client.id, None) is None:
            return
        self.engine.monitors.discard(client)
        for hook in self.engine.disconnect_hooks:
            hook(client)

    def check_output_limits(self, client: Connection) -> None:
        """Output-buffer limits (issue #4 fills this in)."""
