"""The replica side of replication: the link to the master and what comes over it.

`MasterLink` is one attempt-and-retry loop towards one master, as Redis 7.0's
replication.c runs it: connect, the handshake (PING, AUTH with masteruser /
masterauth, REPLCONF listening-port / ip-address, REPLCONF capa eof capa psync2),
then PSYNC with the cached master's replication ID and offset + 1 (or ``? -1``).

* ``+FULLRESYNC <replid> <offset>``: the dataset follows as ``$<len>`` and the
  bytes (disk sync) or ``$EOF:<40-byte mark>``, the bytes and the mark (diskless).
  Newlines before it are the master's keepalives. Once it has arrived the old
  data is flushed and the RDB loaded while other clients get ``-LOADING``
  (the loader yields to the event loop every few thousand keys), expired keys
  included: only the master expires keys.
* ``+CONTINUE [<new replid>]``: the stream resumes where the cached master left
  it; a new ID means the master was promoted (the old one becomes replid2).
* ``-NOMASTERLINK`` / ``-LOADING`` / anything else: retry a second later.

The command stream is applied by the *master client* (kind ``master``, flag
``M``): it bypasses read-only and stale-data refusals, its replies go nowhere,
and only ``REPLCONF GETACK`` is answered, with ``REPLCONF ACK <offset>`` on the
same socket, where the offset counts exactly the bytes of the commands applied
before it (so a GETACK does not count itself, as in Redis). An ACK also goes out
every second. Each applied command's exact bytes are fed on to this server's own
replicas (chained replication) and backlog, so they see the master's stream, not
a re-encoding of it.

A dropped link keeps the master's ID and offset (Redis's cached master) so the
next PSYNC can continue; REPLICAOF NO ONE keeps the data and shifts the IDs
(engine/replication.py) so replicas of this server can continue too.
"""
from __future__ import annotations

import asyncio
import logging
import time

from ..engine.client import Client
from ..engine.engine import BUSY_PAUSED, BUSY_REPLICA
from ..engine.replies import POSTPONED, ErrorReply
from ..persistence.aof import encode_command
from ..persistence.manager import FILE_READ
from . import oom_score
from .parser import ProtocolError, RequestParser

log = logging.getLogger("vermilion")
NOTICE = 25

RETRY_SECONDS = 1.0          # Redis's replicationCron tries again every second
ACK_SECONDS = 1.0
MAX_LINE = 64 * 1024          # a handshake reply or payload header longer than this is garbage
EOF_MARK_LEN = 40
# A command of the stream still arriving is re-split from its start on every read
# while it is at most this long; a longer one goes to the incremental parser.
FAST_TAIL_MAX = 1 << 16


UNBLOCKED_ROLE_CHANGE = ErrorReply(b"UNBLOCKED force unblock from blocking operation, instance "
                                   b"state changed (master -> replica?)")


class LinkError(Exception):
    """The link failed; the loop logs it and retries (the message is Redis's log line)."""


class MasterClient(Client):
    """The client the master's command stream runs as (CLIENT LIST flags=M)."""

    kind = "master"

    def __init__(self, engine, link: "MasterLink"):
        super().__init__(engine)
        self.link = link
        self.user = None                 # the master is trusted: no ACL checks
        self.acl_restricted = False
        self.deny_blocking = True        # a master never sends blocking commands; be safe
        # What the server's sweeps read on every client (it has no socket buffers of its own).
        self.transport = None
        self.parser = None
        self.pending = []
        self.batch = None
        self.postponed = None
        self.obuf_soft_since = 0.0
        self.update_gate()

    def resume(self) -> None:
        """CLIENT PAUSE ended (engine.unpause_clients): apply the held stream."""
        self.link.resume_stream()

    def send(self, value) -> None:
        """Replies to the master are discarded (Redis never writes them back)."""

    def push(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        """CLIENT KILL TYPE master: drop the link (it reconnects and tries PSYNC)."""
        self.closing = True
        self.link.drop("killed")

    def abort(self) -> None:
        self.close()


class PayloadReader:
    """The RDB of a full sync as it arrives: `$<size>` bytes, or bytes up to the
    40-byte EOF mark (disk-less masters). `next()` returns the next bytes of the
    file, b"" after the last; the mark itself and a possible start of the
    command stream after it (`rest`) are never part of it. At most one read
    (1 MB) plus the mark's length is held here."""

    CHUNK = 1 << 20

    def __init__(self, link: "MasterLink", reader, timeout: int, mark: bytes | None, size: int):
        self.link = link
        self.reader = reader
        self.timeout = timeout
        self.mark = mark
        self.left = size                # $<size>: bytes still to come
        self.tail = b""                 # EOF mark: the last bytes, maybe the mark's start
        self.done = False
        self.rest = b""

    async def _read(self, n: int) -> bytes:
        chunk = await asyncio.wait_for(self.reader.read(n), self.timeout)
        if not chunk:
            raise EOFError("connection lost while reading the RDB")
        link = self.link
        link.last_io = time.time()
        link.sync_read += len(chunk)
        return chunk

    async def next(self) -> bytes:
        while not self.done:
            if self.mark is None:
                if self.left <= 0:
                    self.done = True
                    break
                chunk = await self._read(min(self.CHUNK, self.left))
                self.left -= len(chunk)
                return chunk
            data = self.tail + await self._read(self.CHUNK)
            at = data.find(self.mark)
            if at >= 0:
                self.done = True
                self.rest = data[at + EOF_MARK_LEN:]
                self.tail = b""
                if at:
                    return data[:at]
                break
            keep = min(len(data), EOF_MARK_LEN - 1)
            self.tail = data[len(data) - keep:]
            if len(data) > keep:
                return data[:len(data) - keep]
        return b""

    async def finish(self) -> None:
        """After the loader read the whole file: anything but the mark before the
        command stream means the transfer was broken."""
        while not self.done:
            if await self.next():
                raise LinkError("Replication stream EOF marker is broken")


class MasterLink:
    """Replicate from host:port until stopped (REPLICAOF another / NO ONE, shutdown)."""

    def __init__(self, replication, host: str, port: int):
        self.replication = replication
        self.engine = replication.engine
        self.host = host
        self.port = port
        # Redis's repl_state, as ROLE names it: connect, connecting, handshake, sync, connected.
        self.state = "connect"
        self.client: MasterClient | None = None
        self.task: asyncio.Task | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.stopped = False
        self.last_io = time.time()
        self.down_since = 0             # when a working link went down (0: never up)
        self.sync_total = -1            # bytes of the RDB being received (-1: EOF-marked)
        self.sync_read = 0
        self.read_offset = 0            # slave_read_repl_offset: received, maybe not applied
        self.parser: RequestParser | None = None
        self.unfed = b""                # received bytes of a command not complete yet
        self.pending_stream = b""       # stream bytes that arrived with the RDB's end
        # CLIENT PAUSE holds the master's stream too (Redis postpones the master client):
        # the held command, and the length of its bytes at the start of `unfed`.
        self.held: list | None = None
        self.held_len = 0
        # The clients' request splitter (imported here: connection imports this module).
        from .connection import Requests
        self.splitter = Requests

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.task = self.engine.loop.create_task(self._run())

    def stop(self) -> None:
        self.stopped = True
        self._close_writer()
        if self.task is not None:
            self.task.cancel()
        self._free_client()

    def drop(self, reason: str) -> None:
        """Close the connection now; the loop notices, and reconnects a second later."""
        if self.writer is not None:
            log.log(NOTICE, "Connection with master lost (%s).", reason)
        self._close_writer()

    def _close_writer(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.transport.abort()

    def _free_client(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.closing = True
            self.replication.stream_db = client.db.index
            engine = self.engine
            if engine.clients.pop(client.id, None) is not None:
                for hook in engine.disconnect_hooks:
                    hook(client)

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self.stopped:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except asyncio.TimeoutError as err:
                if self.state in ("connecting", "handshake"):
                    log.warning("Timeout connecting to the MASTER...")
                self._link_down(err)
            except (OSError, EOFError, LinkError, ProtocolError, asyncio.IncompleteReadError) as err:
                self._link_down(err)
            except Exception as err:        # a bug: log it, and keep the replica trying
                log.exception("Replication link failed")
                self._link_down(err)
            if self.stopped:
                return
            await asyncio.sleep(RETRY_SECONDS)

    def _link_down(self, err) -> None:
        was_connected = self.state == "connected"
        self._close_writer()
        self._free_client()
        self.state = "connect"
        text = str(err) or err.__class__.__name__
        if was_connected:
            self.down_since = int(time.time())
            log.log(NOTICE, "Connection with master lost.")
            log.info("Master link error: %s", text)
            self.replication.link_lost()
        else:
            log.warning("Error condition on socket for SYNC: %s", text)

    async def _session(self) -> None:
        engine = self.engine
        config = engine.config
        timeout = config["repl-timeout"]
        self.state = "connecting"
        log.log(NOTICE, "Connecting to MASTER %s:%d", self.host, self.port)
        # bind-source-addr: the address the master sees us connect from.
        source = config["bind-source-addr"]
        # tls-replication: the link is TLS, the primary's certificate checked against
        # the configured CA; a context that cannot be built fails this attempt (logged).
        context = None
        if config["tls-replication"]:
            from .tls import TLSConfigError, build_client_context
            try:
                context = build_client_context(config.values)
            except TLSConfigError as err:
                raise LinkError(str(err)) from None
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            self.host, self.port, limit=MAX_LINE, ssl=context,
            local_addr=(source, 0) if source else None), timeout)
        self.writer = writer
        self.last_io = time.time()
        log.log(NOTICE, "MASTER <-> REPLICA sync started")
        self.state = "handshake"
        reply = await self._command(reader, [b"PING"], timeout)
        # Before AUTH a protected master may answer NOAUTH/NOPERM: the handshake goes on.
        if reply.startswith(b"-") and not reply.startswith((b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")):
            raise LinkError("Error reply to PING from master: '%s'" % _text(reply))
        log.log(NOTICE, "Master replied to PING, replication can continue...")
        password = config["masterauth"]
        if password:
            user = config["masteruser"]
            argv = [b"AUTH"] + ([_bytes(user)] if user else []) + [_bytes(password)]
            reply = await self._command(reader, argv, timeout)
            if reply.startswith(b"-"):
                raise LinkError("Unable to AUTH to MASTER: %s" % _text(reply))
        # The port our replicas and Sentinel would reach us on: the TLS one when the
        # replication links are TLS (Redis's choice).
        port = config["replica-announce-port"] or \
            (config["tls-port"] if config["tls-replication"] and config["tls-port"] else 0) or \
            engine.server.port
        reply = await self._command(reader, [b"REPLCONF", b"listening-port", b"%d" % port], timeout)
        if reply.startswith(b"-"):
            log.log(NOTICE, "(Non critical) Master does not understand REPLCONF listening-port: %s",
                    _text(reply))
        announce_ip = config["replica-announce-ip"]
        if announce_ip:
            reply = await self._command(reader, [b"REPLCONF", b"ip-address", _bytes(announce_ip)],
                                        timeout)
            if reply.startswith(b"-"):
                log.log(NOTICE, "(Non critical) Master does not understand REPLCONF ip-address: %s",
                        _text(reply))
        reply = await self._command(reader, [b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"],
                                    timeout)
        if reply.startswith(b"-"):
            log.log(NOTICE, "(Non critical) Master does not understand REPLCONF capa: %s", _text(reply))
        await self._sync(reader, timeout)

    async def _sync(self, reader, timeout: int) -> None:
        repl = self.replication
        cached = repl.cached_master()
        if cached is not None:
            replid, offset = cached
            log.log(NOTICE, "Trying a partial resynchronization (request %s:%d).", replid, offset + 1)
            argv = [b"PSYNC", replid.encode(), b"%d" % (offset + 1)]
            if repl.state.failover_state == "failover-in-progress":
                argv.append(b"FAILOVER")      # FAILOVER on our side: the target takes over
        else:
            log.log(NOTICE, "Partial resynchronization not possible (no cached master)")
            argv = [b"PSYNC", b"?", b"-1"]
        reply = await self._command(reader, argv, timeout)
        if repl.state.failover_state == "failover-in-progress" and \
                repl.state.failover_finished is not None:
            repl.state.failover_finished(reply.startswith((b"+FULLRESYNC", b"+CONTINUE")))
        if reply.startswith(b"+FULLRESYNC"):
            parts = reply.split()
            if len(parts) != 3 or len(parts[1]) != 40 or not parts[2].lstrip(b"-").isdigit():
                raise LinkError("Master replied with wrong +FULLRESYNC syntax.")
            replid, offset = parts[1].decode(), int(parts[2])
            log.log(NOTICE, "Full resync from master: %s:%d", replid, offset)
            await self._full_sync(reader, timeout, replid, offset)
        elif reply.startswith(b"+CONTINUE"):
            parts = reply.split()
            new_id = parts[1].decode() if len(parts) > 1 and len(parts[1]) == 40 else None
            log.log(NOTICE, "Successful partial resynchronization with master.")
            repl.continued(new_id)
            log.log(NOTICE, "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
        elif reply.startswith((b"-NOMASTERLINK", b"-LOADING")):
            raise LinkError("Master is currently unable to PSYNC but should be in the future: %s"
                            % _text(reply))
        elif reply.startswith(b"-"):
            # A master without PSYNC: the old SYNC (always a full resync, no IDs).
            log.warning("Unexpected reply to PSYNC from master: %s", _text(reply))
            log.log(NOTICE, "Retrying with SYNC...")
            self.writer.write(b"*1\r\n$4\r\nSYNC\r\n")
            await self._full_sync(reader, timeout, None, 0)
        else:
            raise LinkError("Unexpected reply to PSYNC from master: %s" % _text(reply))
        await self._stream(reader)

    async def _command(self, reader, argv: list, timeout: int) -> bytes:
        self.writer.write(encode_command(argv))
        return await self._line(reader, timeout)

    async def _line(self, reader, timeout: int) -> bytes:
        """The next non-empty line (empty ones are the master's keepalives)."""
        while True:
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
            except asyncio.LimitOverrunError:
                raise LinkError("Master sent a line too long") from None
            self.last_io = time.time()
            line = line.rstrip(b"\r\n")
            if line:
                return line

    async def _full_sync(self, reader, timeout: int, replid, offset: int) -> None:
        self.state = "sync"
        engine = self.engine
        header = await self._line(reader, timeout)
        if header.startswith(b"-"):
            raise LinkError("MASTER aborted replication with an error: %s" % _text(header))
        if not header.startswith(b"$"):
            raise LinkError("Bad protocol from MASTER, the first byte is not '$' (we received "
                            "'%s'), are you sure the host and port are right?" % _text(header))
        # repl-diskless-load, decided before the transfer as Redis does: the payload
        # becomes dbfilename before it is loaded (disabled; on-empty-db with keys), or is
        # parsed from the socket as it arrives, the old data kept until it has loaded
        # (swapdb) or dropped first.
        mode = engine.config["repl-diskless-load"]
        to_disk = mode == "disabled" or (mode == "on-empty-db" and any(len(db) for db in engine.dbs))
        target = "disk" if to_disk else "parser"
        if header.startswith(b"$EOF:"):
            mark = header[5:]
            if len(mark) != EOF_MARK_LEN:
                raise LinkError("Bad EOF mark from MASTER")
            size = -1
            log.log(NOTICE, "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF "
                    "to %s", target)
        else:
            mark = None
            try:
                size = int(header[1:])
            except ValueError:
                raise LinkError("Bad payload length from MASTER") from None
            if size < 0:
                raise LinkError("Bad payload length from MASTER")
            log.log(NOTICE, "MASTER <-> REPLICA sync: receiving %d bytes from master to %s",
                    size, target)
        self.sync_total, self.sync_read = size, 0
        payload = PayloadReader(self, reader, timeout, mark, size)
        persistence = engine.persistence
        # Our cached master and our replicas stay until the payload is about to load (a
        # transfer that fails leaves them: the next PSYNC can still continue), with swapdb
        # until it has loaded; clients go on reading the old data meanwhile when the
        # master continues the history it belongs to (Redis 7.0's async loading).
        swap = mode == "swapdb" and not to_disk
        serve_old = swap and replid is not None and replid == self.replication.state.replid
        if to_disk:
            size = await self._receive_to_file(payload)
        if not swap:
            self.replication.full_sync_started()
        if to_disk:
            # Loaded from the file a read at a time: the received bytes are never held.
            received = open(persistence.rdb_path(), "rb")

            async def source() -> bytes:
                return received.read(FILE_READ)
        else:
            source = payload.next
        if not swap:
            log.log(NOTICE, "MASTER <-> REPLICA sync: Flushing old data")
        log.log(NOTICE, "MASTER <-> REPLICA sync: Loading DB in memory")
        try:
            loaded = await persistence.load_replica_payload(
                b"", swap=swap, source=source, total=max(size, 0), serve_old=serve_old)
            await payload.finish()
        except (OSError, EOFError, LinkError, asyncio.TimeoutError):
            raise
        except Exception as err:
            raise LinkError("Failed trying to load the MASTER synchronization DB from %s: %s"
                            % ("disk" if to_disk else "socket", err)) from None
        finally:
            if to_disk:
                received.close()
                persistence.delete_sync_file()      # rdb-del-sync-files, loaded or not
        if swap:
            log.log(NOTICE, "MASTER <-> REPLICA sync: Swapping active DB with loaded DB")
            self.replication.full_sync_started()
        rest = payload.rest
        # The stream that follows continues in the database the master's had selected.
        try:
            db = int(loaded.aux.get(b"repl-stream-db", b"0"))
        except ValueError:
            db = 0
        self.replication.stream_db = db if 0 <= db < len(engine.dbs) else 0
        self.replication.synced(replid, offset)
        self.pending_stream = rest
        log.log(NOTICE, "MASTER <-> REPLICA sync: Finished with success")

    async def _receive_to_file(self, payload: PayloadReader) -> int:
        """Write the RDB to a temp file as it arrives, then make it `dbfilename`
        (Redis's readSyncBulkPayload to disk); returns its size. The temp file is
        removed if the transfer fails."""
        persistence = self.engine.persistence
        try:
            received = persistence.open_sync_file()
        except OSError as err:
            raise LinkError("Opening the temp file needed for MASTER <-> REPLICA "
                            "synchronization: %s" % err.strerror) from None
        try:
            while True:
                chunk = await payload.next()
                if not chunk:
                    break
                try:
                    received.write(chunk)
                except OSError as err:
                    raise LinkError("Write error or short write writing to the DB dump file "
                                    "needed for MASTER <-> REPLICA synchronization: %s"
                                    % err.strerror) from None
        except BaseException:
            received.discard()
            raise
        try:
            persistence.install_sync_file(received)
        except OSError as err:
            received.discard()
            raise LinkError("Failed trying to rename the temp DB into %s in "
                            "MASTER <-> REPLICA synchronization: %s"
                            % (self.engine.config["dbfilename"], err.strerror)) from None
        return received.size

    async def _stream(self, reader) -> None:
        engine = self.engine
        repl = self.replication
        client = MasterClient(engine, self)
        # A partial resync goes on in the database the stream had selected before.
        client.db = engine.dbs[repl.stream_db]
        peer = self.writer.get_extra_info("peername")
        local = self.writer.get_extra_info("sockname")
        client.addr = "%s:%d" % peer[:2] if peer else ""
        client.laddr = "%s:%d" % local[:2] if local else ""
        sock = self.writer.get_extra_info("socket")
        client.fd = sock.fileno() if sock is not None else -1
        engine.clients[client.id] = client
        self.client = client
        self.parser = RequestParser(engine.config["proto-max-bulk-len"])
        self.unfed = b""
        self.read_offset = repl.offset
        self.state = "connected"
        self.down_since = 0
        repl.link_up()
        self.send_ack()
        ack_timer = engine.loop.call_later(ACK_SECONDS, self._ack_tick)
        try:
            first, self.pending_stream = self.pending_stream, b""
            if first:
                self._apply(first)
            while not self.stopped:
                data = await reader.read(1 << 16)
                if not data:
                    raise EOFError("connection closed by master")
                self.last_io = time.time()
                engine.stats.net_input_bytes += len(data)
                self._apply(data)
        finally:
            ack_timer.cancel()

    def _apply(self, data: bytes) -> None:
        """Run every complete command in the stream; feed their bytes on, unchanged.

        The commands are split by the request splitter clients' reads use
        (connection.Requests, C when built); only a command longer than
        FAST_TAIL_MAX that is still arriving goes through the incremental parser,
        which then holds exactly the bytes not applied yet (``unfed``).

        The applied bytes are fed on (and the offset moves) once per read, not per
        command: nothing reads the offset between two commands of one read but a
        GETACK, before which what was applied is fed first."""
        engine = self.engine
        repl = self.replication
        client = self.client
        parser = self.parser
        self.read_offset += len(data)
        unfed = self.unfed + data if self.unfed else data
        slow = parser.pending() > 0 or not parser.at_boundary()
        if slow:
            parser.feed(data)
        if self.held is not None:
            self.unfed = unfed          # received (slave_read_repl_offset), not applied
            return
        pos = 0                     # unfed[:pos] is applied
        fed = 0                     # unfed[:fed] is fed on
        client.last_interaction_ms = engine.clock.ms()
        execute = engine.execute
        blocking = engine.blocking
        requests = None if slow else self.splitter(unfed)
        engine.applying_master = True
        try:
            while not client.closing:
                if requests is not None:
                    args = next(requests, None)
                    if args is None:
                        if len(unfed) - pos <= FAST_TAIL_MAX:
                            break       # the rest of a command: the next read completes it
                        requests = None
                        parser.feed(unfed[pos:])
                        continue
                    end = requests.pos
                else:
                    args = parser.next_command()
                    if args is None:
                        break
                    end = len(unfed) - parser.pending()
                if not args:
                    pass
                elif len(args) >= 2 and len(args[0]) == 8 and args[0].lower() == b"replconf" \
                        and args[1].lower() == b"getack":
                    if fed < pos:
                        repl.feed_from_master(unfed[fed:pos])
                        fed = pos
                    self.send_ack()     # the offset before this command, as Redis
                else:
                    reply = execute(client, args)
                    if reply is POSTPONED:      # CLIENT PAUSE: this command and the rest wait
                        self._hold(args, end - pos)
                        break
                    if reply.__class__ is ErrorReply:
                        self._diverged(args, reply)
                    if blocking.ready:
                        blocking.handle_ready()
                pos = end
        finally:
            engine.applying_master = False
            if fed < pos:
                repl.feed_from_master(unfed[fed:pos] if fed or pos < len(unfed) else unfed)
        self.unfed = unfed[pos:]

    def _hold(self, args: list, nbytes: int) -> None:
        """A command CLIENT PAUSE holds back: it and the stream after it wait."""
        self.held, self.held_len = args, nbytes
        self.engine.paused_clients.append(self.client)

    def resume_stream(self) -> None:
        args, self.held = self.held, None
        if args is None or self.stopped or self.client is None:
            return
        engine = self.engine
        engine.applying_master = True
        try:
            reply = engine.execute(self.client, args)
        finally:
            engine.applying_master = False
        if reply is POSTPONED:
            return self._hold(args, self.held_len)
        if reply.__class__ is ErrorReply:
            self._diverged(args, reply)
        if engine.blocking.ready:
            engine.blocking.handle_ready()
        n = self.held_len
        self.replication.feed_from_master(self.unfed[:n])
        self.unfed = self.unfed[n:]
        self._apply(b"")

    def _diverged(self, args: list, reply: ErrorReply) -> None:
        """The master's command failed here: our data may differ from the master's
        (propagation-error-behavior ignore: log it, as Redis does, and go on)."""
        cmd = self.engine.find_command(args[0])
        log.warning("== CRITICAL == This replica is sending an error to its master: '%s' after "
                    "processing the command '%s'", reply.message.decode("utf-8", "replace"),
                    cmd.fullname if cmd is not None else "<unknown>")

    def send_ack(self) -> None:
        writer = self.writer
        if writer is not None and not writer.transport.is_closing():
            writer.write(encode_command([b"REPLCONF", b"ACK", b"%d" % self.replication.offset]))

    def _ack_tick(self) -> None:
        if self.state != "connected" or self.stopped:
            return
        self.send_ack()
        timeout = self.engine.config["repl-timeout"]
        if time.time() - self.last_io > timeout:
            log.warning("MASTER timeout: no data nor PING received...")
            self.drop("timeout")
            return
        self.engine.loop.call_later(ACK_SECONDS, self._ack_tick)

def _bytes(value) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def _text(reply: bytes) -> str:
    return reply.decode("utf-8", "replace")


class ReplicaRole:
    """Whom this server replicates from: REPLICAOF, the `replicaof` directive, INFO/ROLE.

    One per server (`engine.replica_role`). `engine.master_link` is the live
    MasterLink while this server is a replica, None while it is a master.
    """

    def __init__(self, server):
        self.server = server
        engine = self.engine = server.engine
        self.state = engine.replication
        engine.replica_role = self
        # What INFO replication and ROLE show while we are a replica.
        self.state.replica_info = self.info_fields
        self.state.role_reply = self.role_reply
        self.state.send_ack = self._send_ack
        self.state.failover_request = self._failover_request
        self.state.become_replica = self.set_master
        self.state.master_stream_db = self._stream_db
        self.state.saved_stream_db = self._saved_stream_db
        self.state.become_primary = self.unset_master
        # Redis's cached master: the history a reconnection asks to continue.
        self.has_cached = False
        # The database our master's stream has selected (kept across reconnections).
        self.stream_db = 0
        engine.startup_hooks.append(self._startup)
        engine.shutdown_hooks.append(self._shutdown)

    @property
    def link(self) -> MasterLink | None:
        return self.engine.master_link

    async def _startup(self, engine) -> None:
        target = engine.config["replicaof"]
        if target:
            host, port = target.rsplit(" ", 1)
            # A replica from the start offers the history its RDB restored, if any
            # (Redis's replicationCacheMasterUsingMyself), else none.
            self.set_master(host, int(port), at_startup=True)
            restored = self.state.restored_stream_db
            if restored is not None:
                self.state.restored_stream_db = None
                self.has_cached = True
                self.stream_db = restored if restored < len(engine.dbs) else 0

    async def _shutdown(self, engine) -> None:
        link = self.link
        if link is not None:
            link.stop()

    # -- REPLICAOF ----------------------------------------------------------------------------

    def set_master(self, host: str, port: int, at_startup: bool = False) -> None:
        """Become (or stay) a replica of host:port (Redis's replicationSetMaster)."""
        engine = self.engine
        old = self.link
        was_master = old is None
        # Clients blocked on this server's data must not wait for the new master's
        # (Redis's disconnectAllBlockedClients).
        for client in list(engine.clients.values()):
            if client.blocked is not None and client.kind != "master":
                engine.blocking.answer(client, UNBLOCKED_ROLE_CHANGE)
        if old is not None:
            if old.client is not None:
                # The master we leave becomes the cached master: the new one may be
                # able to continue its history (Redis's replicationCacheMaster).
                self.has_cached = True
            old.stop()
        self.state.link_up = False
        if was_master and not at_startup:
            # Our own history is the best guess of the new master's: try to continue it.
            self.has_cached = True
            self.stream_db = max(self.state.selected_db, 0)
        self.state.set_role("slave")
        oom_score.set_replica(True)
        link = MasterLink(self, host, port)
        engine.master_link = link
        engine.config.values["replicaof"] = f"{host} {port}"
        engine.expiry_suspended = True
        self.update_busy()
        # Our replicas stay: they can continue with us (Redis 7.0 disconnects them only
        # when our history changes, at a full sync or a +CONTINUE with a new id).
        link.start()

    def unset_master(self) -> None:
        """REPLICAOF NO ONE: keep the data, start a new history (replicationUnsetMaster)."""
        engine = self.engine
        link = self.link
        if link is None:
            return
        link.stop()
        self.state.link_up = False
        engine.master_link = None
        engine.config.values["replicaof"] = ""
        engine.expiry_suspended = bool(engine.busy & BUSY_PAUSED)
        self.update_busy()
        state = self.state
        state.set_role("master")
        oom_score.set_replica(False)
        state.shift_replid()
        state.selected_db = -1
        self.has_cached = False
        self.disconnect_replicas()
        log.log(NOTICE, "MASTER MODE enabled")

    def update_busy(self) -> None:
        """A replica sends every command past the gate (read-only and stale-data checks)."""
        engine = self.engine
        if engine.master_link is not None:
            engine.busy |= BUSY_REPLICA
        else:
            engine.busy &= ~BUSY_REPLICA

    # -- the shared state (engine/replication.py), as the link moves ------------------------------

    def cached_master(self):
        """(replid, offset) to PSYNC with, or None for ``PSYNC ? -1``."""
        state = self.state
        return (state.replid, state.master_repl_offset) if self.has_cached else None

    def full_sync_started(self) -> None:
        """+FULLRESYNC: our history is void; so is our replicas' (they resync with us)."""
        self.has_cached = False
        self.state.free_backlog()
        self.disconnect_replicas()

    def synced(self, replid, offset: int) -> None:
        state = self.state
        state.replid = replid if replid is not None else state.replid
        state.master_repl_offset = offset
        state.clear_replid2()
        state.create_backlog()

    def continued(self, new_replid) -> None:
        state = self.state
        if new_replid is not None and new_replid != state.replid:
            # The master was promoted: our old history stays valid up to here.
            state.replid2 = state.replid
            state.second_replid_offset = state.master_repl_offset + 1
            state.replid = new_replid
            self.disconnect_replicas()
        if state.backlog is None:
            state.create_backlog()

    def link_up(self) -> None:
        self.has_cached = False
        self.state.link_up = True

    def link_lost(self) -> None:
        self.has_cached = True
        self.state.link_up = False

    def _send_ack(self) -> None:
        link = self.link
        if link is not None:
            link.send_ack()

    def _stream_db(self) -> int:
        link = self.link
        if link is not None and link.client is not None:
            return link.client.db.index
        return self.stream_db

    def _saved_stream_db(self):
        """The stream db an RDB saved now records, or None without a primary's history
        to continue (neither a live link nor a cached master)."""
        link = self.link
        if link is not None and link.client is not None:
            return link.client.db.index
        return self.stream_db if self.has_cached else None

    def _failover_request(self, client) -> None:
        """PSYNC <our replid> <offset> FAILOVER from our master: it hands over to us."""
        log.log(NOTICE, "Failover request received for replid %s.", self.state.replid)
        self.unset_master()

    def feed_from_master(self, data: bytes) -> None:
        self.state.feed(data)

    @property
    def offset(self) -> int:
        return self.state.master_repl_offset

    def disconnect_replicas(self) -> None:
        for client in list(self.state.replicas):
            client.close()

    # -- INFO replication, ROLE -------------------------------------------------------------------

    def info_fields(self) -> list:
        """The replica part of INFO replication, after role:slave (Redis 7.0's order)."""
        link = self.link
        cfg = self.engine.config
        now = time.time()
        connected = link.state == "connected"
        # Redis shows its master's (or cached master's) offsets, else 1.
        applied = self.offset if connected or self.has_cached else 1
        out = [("master_host", link.host), ("master_port", link.port),
               ("master_link_status", "up" if connected else "down"),
               ("master_last_io_seconds_ago", int(now - link.last_io) if connected else -1),
               ("master_sync_in_progress", int(link.state == "sync")),
               ("slave_read_repl_offset", link.read_offset if connected else applied),
               ("slave_repl_offset", applied)]
        if link.state == "sync":
            total = link.sync_total
            read = link.sync_read
            out += [("master_sync_total_bytes", total), ("master_sync_read_bytes", read),
                    ("master_sync_left_bytes", total - read if total >= 0 else -1),
                    ("master_sync_perc", "%.2f" % (100.0 * read / total if total > 0 else 0.0)),
                    ("master_sync_last_io_seconds_ago", int(now - link.last_io))]
        if not connected:
            out.append(("master_link_down_since_seconds",
                        int(now - link.down_since) if link.down_since else -1))
        out += [("slave_priority", cfg["replica-priority"]),
                ("slave_read_only", int(cfg["replica-read-only"])),
                ("replica_announced", int(cfg["replica-announced"]))]
        return out

    def role_reply(self) -> list:
        link = self.link
        offset = self.offset if link.client is not None else -1
        return [b"slave", link.host.encode(), link.port, link.state.encode(), offset]
