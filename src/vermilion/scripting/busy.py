"""Serving other clients while a script runs past busy-reply-threshold.

A script runs on the event-loop thread inside the caller's `data_received`, so
the loop cannot run until it returns. Redis solves this with
processEventsWhileBlocked() called from the Lua hook; we do the same by hand:
the Lua count hook (every 100000 instructions) calls `Scripts.lua_check`, which,
once the script is timed out, calls `BusyServer.poll()`:

* every other connection's socket is polled (zero timeout); readable bytes are
  read straight from the file descriptor and fed to that connection's
  `data_received`, so commands run through the ordinary dispatch, where the gate
  answers BUSY to everything except SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE
  and the allow_busy commands; the replies queued for the end of the loop turn
  are written after each round (uvloop writes at once when its buffer is empty);
* the caller's own socket is left alone (Redis "protects" the caller too): its
  next commands wait until the script ends;
* listening sockets are polled as well, so `redis-cli SCRIPT KILL` from a fresh
  connection works: a connection accepted meanwhile gets a stand-in transport
  writing to the socket directly, and is handed to the event loop
  (`connect_accepted_socket`) when the script ends.

The event loop never runs re-entrantly, and no data is touched by anyone but the
script: everything other clients may do while busy is answer BUSY or set flags.
TLS connections are skipped (their bytes must go through the TLS transport).
"""
from __future__ import annotations

import asyncio
import logging
import os
import select
import socket

log = logging.getLogger("vermilion")


class _BusyTransport:
    """Stands in for the transport of a connection accepted while a script is busy."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.closing = False
        self.pending = b""

    def write(self, data: bytes) -> None:
        data = self.pending + data
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.closing = True
            return
        self.pending = data[sent:]

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def get_extra_info(self, name, default=None):
        sock = self.sock
        try:
            if name == "socket":
                return sock
            if name == "peername":
                return sock.getpeername()
            if name == "sockname":
                return sock.getsockname()
        except OSError:
            return default
        return default

    def get_write_buffer_size(self) -> int:
        return len(self.pending)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Adopted(asyncio.Protocol):
    """Forwards the event loop's protocol callbacks to a connection accepted while busy."""

    def __init__(self, conn, pending: bytes):
        self.conn = conn
        self.pending = pending

    def connection_made(self, transport):
        self.conn.transport = transport
        if self.pending:
            transport.write(self.pending)
        if self.conn.closing:
            transport.close()

    def data_received(self, data):
        self.conn.data_received(data)

    def eof_received(self):
        handler = getattr(self.conn, "eof_received", None)
        return handler() if handler is not None else None

    def connection_lost(self, exc):
        self.conn.connection_lost(exc)

    def pause_writing(self):
        handler = getattr(self.conn, "pause_writing", None)
        if handler is not None:
            handler()

    def resume_writing(self):
        handler = getattr(self.conn, "resume_writing", None)
        if handler is not None:
            handler()


class BusyServer:
    def __init__(self, engine, caller):
        self.engine = engine
        self.caller = caller
        self.finished_fds: set[int] = set()       # sockets at EOF or failing
        self.accepted: list = []                   # (connection, socket) accepted meanwhile
        self.listeners: list[socket.socket] = []
        server = engine.server
        if server is not None:
            for srv in getattr(server, "listeners", ()):
                for tsock in srv.sockets or ():
                    try:
                        sock = socket.socket(fileno=os.dup(tsock.fileno()))
                        sock.setblocking(False)
                        self.listeners.append(sock)
                    except OSError:
                        pass

    def _client_fds(self) -> dict:
        fds = {}
        for conn in list(self.engine.clients.values()):
            if conn is self.caller or conn.closing:
                continue
            transport = getattr(conn, "transport", None)
            if transport is None or transport.get_extra_info("sslcontext") is not None:
                continue
            sock = transport.get_extra_info("socket")
            if sock is None:
                continue
            try:
                fd = sock.fileno()
            except (OSError, ValueError):
                continue
            if fd >= 0 and fd not in self.finished_fds:
                fds[fd] = conn
        return fds

    def poll(self, killed=lambda: False) -> None:
        """Serve what is readable now; like Redis's processEventsWhileBlocked, up to four
        rounds while there is work. Once the script is killed, later rounds wait a
        moment (2 ms): the script is still unwinding, as it is in Redis, and a client
        that follows up right away (a second SCRIPT KILL) is answered meanwhile."""
        self._flush()
        for _ in range(4):
            served = self._poll_once(2 if killed() else 0)
            self._flush()
            if not served:
                break

    def _flush(self) -> None:
        # Replies normally leave at the end of the loop turn (Connection._write),
        # which cannot come while the script holds the loop: write them now.
        server = self.engine.server
        if server is not None and server.flush_queue:
            server.flush_pending()

    def _poll_once(self, timeout_ms: int) -> bool:
        fds = self._client_fds()
        listening = {sock.fileno(): sock for sock in self.listeners}
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        for fd in listening:
            poller.register(fd, select.POLLIN)
        try:
            events = poller.poll(timeout_ms)
        except OSError:
            return False
        for fd, _ in events:
            if fd in listening:
                self._accept(listening[fd])
                continue
            conn = fds.get(fd)
            if conn is None:
                continue
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                self.finished_fds.add(fd)
                continue
            if not data:
                # Gone: forgotten now, as Redis frees it while blocked (a replica that
                # left no longer counts in INFO); the event loop sees the EOF later.
                self.finished_fds.add(fd)
                conn.closing = True
                server = self.engine.server
                if server is not None:
                    server.client_disconnected(conn)
                continue
            try:
                conn.data_received(data)
            except Exception:
                log.exception("error serving a client while a script is busy")
        return bool(events)

    def _accept(self, listener: socket.socket) -> None:
        from ..server.connection import Connection
        server = self.engine.server
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            conn = Connection(server)
            conn.connection_made(_BusyTransport(sock))
            self.accepted.append((conn, sock))

    def finish(self) -> None:
        """The script ended: give connections accepted meanwhile to the event loop."""
        for sock in self.listeners:
            sock.close()
        loop = self.engine.loop
        for conn, sock in self.accepted:
            fake = conn.transport
            if fake.closing and not fake.pending:
                conn.connection_lost(None)
                sock.close()
                continue
            loop.create_task(self._adopt(loop, conn, sock, fake.pending))
        self.accepted = []

    @staticmethod
    async def _adopt(loop, conn, sock, pending: bytes) -> None:
        try:
            await loop.connect_accepted_socket(lambda: _Adopted(conn, pending), sock)
        except Exception:
            conn.connection_lost(None)
            sock.close()
