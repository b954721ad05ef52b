"""The network server: listeners, the client registry, limits, cron and shutdown."""
from __future__ import annotations

import asyncio
import logging
import os

from ..engine.core import speedups
from ..engine.engine import Engine
from .connection import Connection

# The compiled twin of flush_pending's loop (engine/core.py), or None.
c_flush_pending = speedups.flush_pending if speedups is not None else None

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
        self.obuf_limits: dict = {}
        self.flush_queue: list[Connection] = []     # connections with pending output
        self.apply_obuf_config()
        self.config.listeners.append(self._config_changed)
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
            self._soft_limit_timeouts()
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
        self.engine.remove_monitor(client)
        if client.postponed is not None:
            # A paused client that went away is no longer blocked (INFO blocked_clients).
            try:
                self.engine.paused_clients.remove(client)
            except ValueError:
                pass
        for hook in self.engine.disconnect_hooks:
            hook(client)

    # -- pushes and output-buffer limits ------------------------------------------------

    def schedule_flush(self, client: Connection) -> None:
        """`client` has pending output: write it at the end of this loop turn."""
        self.flush_queue.append(client)
        if len(self.flush_queue) == 1:
            self.engine.loop.call_soon(self.flush_pending)

    def flush_pending(self) -> None:
        """Write every connection's pending replies and pushes (one write each)."""
        queue, self.flush_queue = self.flush_queue, []
        if self.obuf_normal_hard:
            # As in Redis, a reply counts against the limit before it is written:
            # a client whose replies of this turn go over its hard limit gets none.
            for client in queue:
                if client.pending and not client.closing and \
                        self.output_class(client) == "normal":
                    self.check_output_limits(client)
        if c_flush_pending is not None:
            return c_flush_pending(self, queue)
        for client in queue:
            if client.pending:
                client.flush([])

    def _config_changed(self, changed) -> None:
        if changed is None or "client-output-buffer-limit" in changed:
            self.apply_obuf_config()

    def apply_obuf_config(self) -> None:
        limits = self.config["client-output-buffer-limit"]
        self.obuf_limits = dict(limits)
        self.obuf_limits_active = any(hard or soft for hard, soft, _ in limits.values())
        # Subscribers' pushes are checked as they are written; only a hard limit on
        # ordinary clients (0 by default) needs the check before writing.
        self.obuf_normal_hard = limits["normal"][0]

    def output_class(self, client: Connection) -> str:
        """Redis's client classes for limits: replicas, subscribers, everyone else."""
        if client.kind == "replica":
            return "replica"
        if client.channels or client.patterns or client.shard_channels:
            return "pubsub"
        return "normal"

    def check_output_limits(self, client: Connection) -> bool:
        """Close `client` if its unsent output is over its class's limits.

        As in Redis: at or over the hard limit closes at once; at or over the soft
        limit starts a timer, and a client still over it more than soft-seconds
        later (whole seconds, like Redis's unixtime) is closed. Falling under the
        soft limit resets the timer. The output counted is what the socket has not
        taken yet (the transport's buffer plus pushes not yet flushed), so a
        subscriber that stops reading costs at most about its limit. Returns True
        when the client was closed.
        """
        hard, soft, seconds = self.obuf_limits[self.output_class(client)]
        used = client.output_bytes()
        over = bool(hard) and used >= hard
        if soft and used >= soft:
            now = self.engine.clock.ms() // 1000
            if not client.obuf_soft_since:
                client.obuf_soft_since = now
            elif now - client.obuf_soft_since > seconds:
                over = True
        else:
            client.obuf_soft_since = 0
        if over and not client.closing:
            self.close_over_limit(client)
        return over

    def close_over_limit(self, client: Connection) -> None:
        from ..commands.connection import client_info_line
        info = client_info_line(client, self.engine.clock.ms()).decode("utf-8", "replace")
        log.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer "
                    "limits.", info)
        # Unlike QUIT, what is queued is dropped: that is the memory to free.
        client.abort()

    def _soft_limit_timeouts(self) -> None:
        # A client over its soft limit that gets no more output is closed here
        # when its soft seconds run out (Redis only checks when output is added).
        if not self.obuf_limits_active:
            return
        for client in list(self.clients.values()):
            if client.obuf_soft_since and not client.closing:
                self.check_output_limits(client)
