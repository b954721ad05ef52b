"""The network server: listeners, the client registry, limits, cron and shutdown."""
from __future__ import annotations

import asyncio
import logging
import errno
import os
import socket

from ..config import ApplyError
from ..engine.engine import Engine
from .connection import Connection
from .replica import ReplicaRole
from .tls import TLS

log = logging.getLogger("vermilion")

PROTECTED_MODE_DENIED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from the "
    b"loopback interface. If you want to connect from external computers to Redis you may adopt "
    b"one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    b"SET protected-mode no' from the loopback interface by connecting to Redis from the same host "
    b"the server is running, however MAKE SURE Redis is not publicly accessible from internet if "
    b"you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    b"disable the protected mode by editing the Redis configuration file, and setting the protected "
    b"mode option to 'no', and then restarting the server. 3) If you started the server manually "
    b"just for testing, restart it with the '--protected-mode no' option. 4) Setup a an "
    b"authentication password for the default user. NOTE: You only need to do one of the above "
    b"things in order for the server to start accepting connections from the outside.\r\n")


# An address family this machine lacks: its bind addresses are skipped, as by Redis.
_NO_SUCH_FAMILY = frozenset({errno.ENOPROTOOPT, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT,
                             errno.EPFNOSUPPORT, errno.EAFNOSUPPORT})


def _is_loopback_peer(addr: str) -> bool:
    """Redis's islocalClient for a new connection: unix socket, 127.0.0.1 or ::1 exactly."""
    if addr == "" or addr.endswith(":0"):
        return True
    return addr.rsplit(":", 1)[0] in ("127.0.0.1", "::1")


class Server:
    def __init__(self, engine: Engine):
        self.engine = engine
        engine.server = self
        self.config = engine.config
        self.listeners: list[asyncio.AbstractServer] = []
        self.tcp_listeners: list[asyncio.AbstractServer] = []     # the port/bind ones
        self.bound: tuple = (None, None)                          # their (port, bind)
        self.clients: dict[int, Connection] = engine.clients
        self.port = 0
        self.unix_path: str | None = None
        self.obuf_limits_active = False
        self.obuf_limits: dict = {}
        self.flush_queue: list[Connection] = []     # connections with pending output
        self.flush_scheduled = False                # flush_pending will run in this turn
        # Made once: what the loop is given once per turn that wrote (a bound method,
        # and compiled a C method object, each time `self.flush_pending` is read).
        self.flush_soon = self.flush_pending
        # Read by flush_pending on every turn: never rebound by the engine.
        self.replication = engine.replication
        engine.replication.end_of_turn = self.end_of_turn
        self.apply_obuf_config()
        self.config.listeners.append(self._config_changed)
        self._cron_handle = None
        self._shutdown_future: asyncio.Future | None = None
        self.shutdown_asap: str | None = None   # a signal asked for a shutdown (run by cron)
        self.cron_paused = False                # DEBUG PAUSE-CRON
        self.paused_until = 0.0
        # TLS listeners live in `tls`, not in `listeners`: a busy script serves the
        # plain listeners' sockets by hand (scripting/busy.py), never a TLS one.
        self.tls = TLS(self)
        self.replica_role = ReplicaRole(self)     # REPLICAOF: the link to a master
        # Embedded servers listen on a port the kernel picks (``port 0`` in a
        # config means "no TCP", as in Redis, so this is a separate switch).
        self.ephemeral_port = False
        # The metrics and dashboard listeners (observe/endpoints.py), when configured.
        self.observe = None

    # -- start / stop ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.engine.loop = loop
        self._shutdown_future = loop.create_future()
        cfg = self.config
        backlog = cfg["tcp-backlog"]
        self.bound = (cfg["port"], cfg["bind"])
        try:
            socks = self.bind_tcp(*self.bound, ephemeral=self.ephemeral_port)
        except OSError as err:
            # Redis's words, which test harnesses match to retry on another port.
            raise OSError(f"Failed listening on port {cfg['port']} (TCP), aborting. ({err})") from None
        for sock in socks:
            srv = await loop.create_server(lambda: Connection(self), sock=sock, backlog=backlog)
            self.tcp_listeners.append(srv)
            self.listeners.append(srv)
            if not self.port:
                self.port = sock.getsockname()[1]
        if self.ephemeral_port and not cfg["port"] and self.port:
            # CONFIG GET port and INFO report the port the kernel chose
            cfg.values["port"] = self.port
            self.bound = (self.port, cfg["bind"])
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
        await self.tls.start()
        if not self.listeners and not self.tls.listeners:
            # Redis exits too: `bind ""` with no unix socket or TLS port serves no one.
            await self.stop()
            raise OSError("Configured to not listen anywhere, exiting.")
        self._schedule_cron()

    def bind_tcp(self, port: int, bind: str, ephemeral: bool = False, what: str = "TCP") -> list:
        """Listening sockets for `port` on every `bind` address, as Redis's listenToPort:
        no address means no listener; an address with a colon is IPv6 (`::*` every IPv6
        address, `*` every IPv4 one); a leading - marks an address that may be missing
        (skipped when it is not on this machine), and an address family the machine lacks
        is skipped. All or nothing: OSError names the first failure. `ephemeral` with
        port 0: the first address gets a port from the kernel, and every further address
        shares it."""
        if not port and not ephemeral:
            return []
        backlog = self.config["tcp-backlog"]
        socks = []
        try:
            for host in bind.split():
                optional = host.startswith("-")
                host = host[1:] if optional else host
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                name = None if host in ("*", "::*") else host
                try:
                    infos = socket.getaddrinfo(name, port, family, socket.SOCK_STREAM,
                                               flags=socket.AI_PASSIVE)
                    family, kind, proto, _, addr = infos[0]
                    sock = socket.socket(family, kind, proto)
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        if family == socket.AF_INET6:
                            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                        sock.bind(addr)
                        sock.listen(backlog)
                        sock.setblocking(False)
                    except OSError:
                        sock.close()
                        raise
                except (OSError, UnicodeError) as err:
                    code = getattr(err, "errno", None)
                    if code in _NO_SUCH_FAMILY or optional and (
                            code == errno.EADDRNOTAVAIL or isinstance(err, socket.gaierror)):
                        log.warning("Warning: Could not create server %s listening socket %s:%s: %s",
                                    what, host, port, getattr(err, "strerror", None) or err)
                        continue
                    raise OSError(code, f"Could not create server {what} listening socket "
                                        f"{host}:{port}: "
                                        f"{getattr(err, 'strerror', None) or err}") from None
                socks.append(sock)
                if not port:
                    port = sock.getsockname()[1]
        except OSError:
            for sock in socks:
                sock.close()
            raise
        return socks

    def _rebind(self, changed: set) -> None:
        """CONFIG SET port / bind, as Redis: a new port is bound before the old one is
        closed; new addresses on the same port replace the old ones, which come back
        if the new ones cannot be bound. On failure CONFIG SET rolls back."""
        loop = self.engine.loop
        wanted = (self.config["port"], self.config["bind"])
        if loop is None or wanted == self.bound:
            return
        same_port = wanted[0] == self.bound[0]
        if same_port:
            self._close_tcp()
        try:
            socks = self.bind_tcp(*wanted)
        except OSError as err:
            log.warning("%s", err)
            if same_port:
                self._serve(self.bind_tcp(*self.bound))
            if "port" in changed:
                raise ApplyError("port", "Unable to listen on this port. Check server logs.") from None
            raise ApplyError("bind", "Failed to bind to specified addresses.") from None
        if not same_port:
            self._close_tcp()
        self.bound = wanted
        self.port = socks[0].getsockname()[1] if socks else 0
        self._serve(socks)

    def _close_tcp(self) -> None:
        for srv in self.tcp_listeners:
            srv.close()         # closes the listening sockets now
            self.listeners.remove(srv)
        self.tcp_listeners = []

    def _serve(self, socks: list) -> None:
        loop = self.engine.loop

        async def serve(sock):
            srv = await loop.create_server(lambda: Connection(self), sock=sock,
                                           backlog=self.config["tcp-backlog"])
            self.tcp_listeners.append(srv)
            self.listeners.append(srv)

        for sock in socks:
            loop.create_task(serve(sock))

    def _schedule_cron(self) -> None:
        hz = max(self.config["hz"], 1)
        self._cron_handle = self.engine.loop.call_later(1 / hz, self._cron)

    def _cron(self) -> None:
        if self.cron_paused:
            self._schedule_cron()
            return
        if self.shutdown_asap is not None:
            self._signal_shutdown()
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
            # Replicas and the link to our primary are timed out by repl-timeout instead.
            if client.blocked is None and not client.subscription_count and \
                    client.kind != "replica" and client.kind != "master" and \
                    now - client.last_interaction_ms > timeout * 1000:
                log.info("Closing idle client")
                client.close()

    def signal_received(self, name: str) -> None:
        """SIGINT/SIGTERM: the shutdown runs in the next cron tick, as Redis's
        shutdown_asap; a second signal before it finished exits at once."""
        if self.shutdown_asap is not None and self.shutdown_asap != "":
            log.warning("You insist on shutting down. Exiting now.")
            persistence = getattr(self.engine, "persistence", None)
            if persistence is not None:
                try:
                    os.unlink(os.path.join(persistence.dir, "temp-%d.rdb" % os.getpid()))
                except OSError:
                    pass
            os._exit(1)
        log.warning("Received %s scheduling shutdown...", name)
        self.shutdown_asap = name

    def _signal_shutdown(self) -> None:
        name, self.shutdown_asap = self.shutdown_asap, ""
        option = self.config["shutdown-on-sigint" if name == "SIGINT" else "shutdown-on-sigterm"]
        flags = option.split()
        save = False if "nosave" in flags else (True if "save" in flags else None)
        self.engine.shutdown_now = "now" in flags
        if self.prepare_shutdown(save, "force" in flags):
            self.request_shutdown("")
        else:
            log.warning("%s received but errors trying to shut down the server, check the logs "
                        "for more information", name)
        self.shutdown_asap = None

    def prepare_shutdown(self, save: bool | None, force: bool) -> bool:
        """Everything that may refuse a shutdown (the final save); False: keep running."""
        self.engine.shutdown_save = save
        persistence = getattr(self.engine, "persistence", None)
        return persistence is None or persistence.prepare_shutdown(save, force)

    def abort_shutdown(self) -> bool:
        """SHUTDOWN ABORT: cancel a shutdown a signal requested and that has not begun."""
        if not self.shutdown_asap:
            return False
        self.shutdown_asap = None
        log.warning("Shutdown manually aborted.")
        return True

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
        self.tls.close()
        for client in list(self.clients.values()):
            client.abort()
        for srv in self.listeners + self.tls.listeners:
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
        if self.config["protected-mode"] and self.engine.acl.default.nopass and \
                not _is_loopback_peer(client.addr):
            # Protected mode: with no password on the default user, only loopback
            # and unix-socket clients are served (Redis's clientAcceptHandler).
            stats.rejected_connections += 1
            client.transport.write(PROTECTED_MODE_DENIED)
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
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.engine.loop.call_soon(self.flush_soon)

    def end_of_turn(self) -> None:
        """Run `flush_pending` at the end of this loop turn (the replication stream)."""
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.engine.loop.call_soon(self.flush_soon)

    def flush_pending(self) -> None:
        """Write every connection's pending replies and pushes (one write each)."""
        self.flush_scheduled = False
        queue, self.flush_queue = self.flush_queue, []
        if self.obuf_normal_hard:
            # As in Redis, a reply counts against the limit before it is written:
            # a client whose replies of this turn go over its hard limit gets none.
            for client in queue:
                if client.pending and not client.closing and \
                        self.output_class(client) == "normal":
                    self.check_output_limits(client)
        for client in queue:
            if client.pending:
                client.flush([])
        # The turn's replication stream leaves after the turn's replies, in the same
        # pass (docs/replication.md, "The stream"): the clients' wake-ups come before
        # the replica's, so a client, not the replica, gets a free core first.
        repl = self.replication
        if repl.unsent:
            repl.flush()

    def _config_changed(self, changed) -> None:
        if changed is None or "client-output-buffer-limit" in changed:
            self.apply_obuf_config()
        if changed is not None and ("port" in changed or "bind" in changed):
            self._rebind(changed)

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

    def check_output_limits(self, client: Connection, held: int = 0) -> bool:
        """Close `client` if its unsent output is over its class's limits.

        As in Redis: at or over the hard limit closes at once; at or over the soft
        limit starts a timer, and a client still over it more than soft-seconds
        later (whole seconds, like Redis's unixtime) is closed. Falling under the
        soft limit resets the timer. The output counted is what the socket has not
        taken yet (the transport's buffer plus pushes not yet flushed), so a
        subscriber that stops reading costs at most about its limit; `held` adds
        output kept back elsewhere (a replica's stream during its sync). Returns True
        when the client was closed.
        """
        hard, soft, seconds = self.obuf_limits[self.output_class(client)]
        used = client.output_bytes() + held
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

    # -- exposure ---------------------------------------------------------------------

    def log_exposed_listeners(self) -> None:
        """Each TCP or TLS listener other computers may reach is logged with how clients
        get in."""
        for srv in self.listeners + self.tls.listeners:
            for sock in srv.sockets or ():
                if sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                host, port = sock.getsockname()[:2]
                if host not in ("127.0.0.1", "::1"):
                    self._log_exposed(host, port)

    def _log_exposed(self, host: str, port: int) -> None:
        """A listener other computers may reach: say how clients are let in."""
        acl = self.engine.acl
        default = acl.default
        if default.nopass and default.enabled:
            if self.config["protected-mode"]:
                state = ("the default user has no password: protected mode serves loopback "
                         "clients only")
            else:
                state = ("WARNING: the default user has no password and protected-mode is no: "
                         "anyone who can reach this address can run every command")
        else:
            state = "clients must authenticate (AUTH / HELLO AUTH)"
        log.warning("Listening on %s:%d, reachable beyond loopback; %s; %d ACL user(s).",
                    f"[{host}]" if ":" in host else host, port, state, len(acl.users))
