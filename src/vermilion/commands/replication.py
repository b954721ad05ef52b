"""Replication, primary side: SYNC/PSYNC, REPLCONF, WAIT, FAILOVER and the replication cron.

The state (ids, offsets, backlog, attached replicas) is `engine.replication`
(engine/replication.py); this module is what a Redis 7.0 primary does with it, on
the wire exactly as redis-server does, so a real redis-server replica syncs from us.

Full synchronisation. A replica that sends ``PSYNC ? -1`` (or an id/offset the
backlog cannot serve) or ``SYNC`` waits ("wait_bgsave") until a forked child takes
the snapshot. At the fork, every waiting replica is told ``+FULLRESYNC <replid>
<offset>`` (not SYNC's) with the offset the snapshot is at; from then on the
stream for it is held (`ReplicaLink.pending`, counted against
``client-output-buffer-limit replica``) until its RDB is delivered:

* diskless (``repl-diskless-sync yes``, Redis 7.0's default, for replicas that
  announced ``capa eof``): the child writes ``$EOF:<40 random hex>\\r\\n``, the RDB
  and the same 40 bytes into a pipe; the parent copies the pipe to the replicas,
  reading only while their output is small. The child starts
  ``repl-diskless-sync-delay`` seconds after the last replica arrived, or at once
  when ``repl-diskless-sync-max-replicas`` are waiting. As in Redis the held stream
  starts when the replica's first ``REPLCONF ACK`` says it has loaded the RDB.
* disk: the child is a BGSAVE of the configured RDB file (it counts as a save),
  then the file is sent as ``$<size>\\r\\n<bytes>`` and the stream follows at once.

Partial synchronisation: ``PSYNC <replid> <offset>`` with the current id, or the
previous one up to ``second_repl_offset``, and an offset still in the backlog is
answered ``+CONTINUE <replid>`` (``+CONTINUE`` for replicas without ``capa
psync2``) and the backlog from that offset.

The stream. Every propagated effect goes through `Replication.sink`; the primary
adds ``PING`` every ``repl-ping-replica-period`` seconds and ``REPLCONF GETACK *``
at the end of an event-loop turn in which WAIT blocked, both counted in the
offset as in Redis. Replicas answer ``REPLCONF ACK <offset>``; an online replica
silent for more than ``repl-timeout`` seconds is dropped. Replicas waiting for a
snapshot get a newline every second (not part of the stream).

WAIT counts online replicas whose acknowledged offset reaches what the calling
connection had written (its ``woff``). ``min-replicas-to-write`` with
``min-replicas-max-lag`` refuses writes with ``-NOREPLICAS`` while fewer online
replicas acknowledged within the lag.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time

from ..engine.blocking import parse_timeout_ms
from ..engine.engine import BUSY_NOREPLICAS, extension
from ..engine.errors import NOT_INTEGER, SYNTAX, CommandError, subcommand_syntax
from ..engine.replies import NO_REPLY, OK, ErrorReply
from ..engine.table import command
from ..persistence.aof import encode_command
from ._args import parse_int

log = logging.getLogger("vermilion")

PING = b"*1\r\n$4\r\nPING\r\n"
GETACK = encode_command([b"REPLCONF", b"GETACK", b"*"])
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
# Reading the RDB pipe (or file) pauses while a replica has this much unsent output.
HIGH_WATER = 4 << 20
CHUNK = 1 << 18


class RdbTransfer:
    """One snapshot on its way to the replicas it was taken for.

    `fd` is the diskless child's pipe or the saved RDB file; what is read from it
    goes to every link still connected, in order, and reading waits while any of
    them has more than HIGH_WATER bytes unsent.
    """

    def __init__(self, primary, links, diskless: bool):
        self.primary = primary
        self.links = links
        self.diskless = diskless
        self.fd = -1
        self.reading = False
        self.data_done = False        # the pipe/file reached its end
        self.child_ok = None          # the child's outcome (None: still running)
        self.failed = False
        self.timer = None

    def live_links(self) -> list:
        return [link for link in self.links if not link.client.closing]

    def start_reading(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self._resume()

    def _resume(self) -> None:
        self.timer = None
        if self.fd < 0:
            return
        loop = self.primary.engine.loop
        if self.diskless:
            if not self.reading:
                loop.add_reader(self.fd, self._pump)
                self.reading = True
        else:
            loop.call_soon(self._pump)

    def _pause(self) -> None:
        loop = self.primary.engine.loop
        if self.reading:
            loop.remove_reader(self.fd)
            self.reading = False
        if self.timer is None:
            self.timer = loop.call_later(0.005, self._resume)

    def _pump(self) -> None:
        if self.fd < 0:
            return
        links = self.live_links()
        if not links:
            self.primary.transfer_failed(self, "no replica left")
            return
        high = self.primary.high_water(links[0].client)
        if any(link.client.output_bytes() > high for link in links):
            return self._pause()
        try:
            data = os.read(self.fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            for link in links:
                link.client.push(data)
            if not self.diskless:
                self.primary.engine.loop.call_soon(self._pump)
            return
        self.close_fd()
        self.data_done = True
        self.primary.transfer_progress(self)

    def close_fd(self) -> None:
        if self.fd >= 0:
            if self.reading:
                self.primary.engine.loop.remove_reader(self.fd)
                self.reading = False
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            os.close(self.fd)
            self.fd = -1


class Primary:
    """What a primary does over time: start snapshots, ping, collect ACKs, time out."""

    def __init__(self, engine):
        self.engine = engine
        self.repl = engine.replication
        self.repl.over_limit = self.held_over_limit
        self.transfer: RdbTransfer | None = None
        self.start_timer = None
        self.waiters: dict = {}          # WAIT clients -> (their Waiter, offset, numreplicas)
        self.getack_scheduled = False
        self.cron_second = 0
        self.failover_target = None      # (host, port) FAILOVER hands over to
        self.failover_end_ms = 0
        self.failover_force = False
        self.repl.failover_finished = self.failover_finished
        self.repl.before_final_save = self.before_final_save
        self.shutdown_getack_offset = -1     # the offset after the final save's GETACK
        self.shutting_down = False           # a shutdown waits for the replicas: no PINGs
        # Seconds of replication cron; a PING every repl-ping-replica-period of them
        # (counted from 1: none in the first second of a new server).
        self.cron_loops = 1

    # -- full synchronisation ------------------------------------------------------------

    def waiting_links(self) -> list:
        """Replicas waiting for a snapshot that one child can serve: those asking
        for the same content (rdb-filter-only) as the first one."""
        links = [link for link in self.repl.replicas.values()
                 if link.state == "wait_bgsave" and link.start_offset < 0 and not link.client.closing]
        return [link for link in links if link.req == links[0].req] if links else links

    def join_running(self) -> None:
        """Replicas asking for a full sync while a disk-target snapshot is being made for
        others share it, as in Redis: when they have at least the capabilities and the
        same requirements as one of its replicas, they get its +FULLRESYNC offset and a
        copy of the stream held for it since (an rdb-only replica holds none, so only
        rdb-only ones join it). Others wait for the next snapshot."""
        transfer = self.transfer
        if transfer is None or transfer.diskless or transfer.child_ok is not None:
            return
        models = [link for link in transfer.live_links() if link.state == "wait_bgsave"]
        if not models:
            return
        repl = self.repl
        repl.flush()
        for link in list(repl.replicas.values()):
            if link.state != "wait_bgsave" or link.start_offset >= 0 or link.client.closing:
                continue
            model = next((m for m in models if not m.rdb_only or link.rdb_only), None)
            if model is None or not model.capa <= link.capa or model.req != link.req:
                log.info("Can't attach the replica to the current BGSAVE. Waiting for next "
                         "BGSAVE for SYNC")
                continue
            if not link.rdb_only:
                link.pending = list(model.pending)
                link.pending_bytes = model.pending_bytes
            link.start_offset = model.start_offset
            if not link.pre_psync:
                link.client.push(b"+FULLRESYNC %s %d\r\n" % (repl.replid.encode(), link.start_offset))
            transfer.links.append(link)
            # As at the fork: the next write selects its database again (Redis's
            # replicationSetupSlaveForFullResync), in every replica's stream.
            repl.selected_db = -1
            log.info("Waiting for end of BGSAVE for SYNC")

    def maybe_start(self) -> None:
        """Fork for the replicas waiting for a snapshot, when Redis would."""
        engine = self.engine
        if self.transfer is not None:
            self.join_running()
            return                  # the next one starts when this child is done (cron)
        if engine.persistence.child is not None:
            return
        waiting = self.waiting_links()
        if not waiting:
            return
        config = engine.config
        # A filtered snapshot always goes to the sockets: the RDB file stays whole.
        diskless = (config["repl-diskless-sync"] or waiting[0].req != (True, True)) and \
            all("eof" in link.capa for link in waiting)
        if diskless and config["repl-diskless-sync"]:
            # Other replicas may arrive meanwhile and share the snapshot.
            delay_ms = config["repl-diskless-sync-delay"] * 1000
            most = config["repl-diskless-sync-max-replicas"]
            idle = engine.clock.ms() - max(link.since_ms for link in waiting)
            if idle < delay_ms and not (most > 0 and len(waiting) >= most):
                if self.start_timer is None and engine.loop is not None:
                    self.start_timer = engine.loop.call_later((delay_ms - idle) / 1000 + 0.001,
                                                              self._delayed_start)
                return
        self.start(waiting, diskless)

    def _delayed_start(self) -> None:
        self.start_timer = None
        self.maybe_start()

    def start(self, links: list, diskless: bool) -> None:
        engine = self.engine
        repl = self.repl
        persistence = engine.persistence
        log.info("Starting BGSAVE for SYNC with target: %s", "replicas sockets" if diskless else "disk")
        transfer = RdbTransfer(self, links, diskless)
        # The snapshot holds everything fed so far: none of it may be held for them.
        repl.flush()
        offset = repl.master_repl_offset
        repl_info = (repl.stream_db(), repl.replid, offset)
        if diskless:
            rfd, wfd = os.pipe()
            mark = os.urandom(20).hex().encode()
            chunks = persistence.rdb_chunks
            keys, functions = links[0].req

            def work():
                for block in _chain((b"$EOF:" + mark + b"\r\n",), chunks(keys, functions, repl_info),
                                    (mark,)):
                    view = memoryview(block)
                    while view:
                        view = view[os.write(wfd, view):]
                return {}

            child = persistence.fork("repl", work, keep_fd=wfd)
            os.close(wfd)
            if child is None:
                os.close(rfd)
        else:
            rfd = -1
            child = persistence.child if persistence.bgsave(repl_info) else None
        if child is None:
            log.warning("BGSAVE for replication failed")
            for link in links:
                link.client.push(b"-ERR BGSAVE failed, replication can't continue\r\n")
                link.client.close()
            return
        self.transfer = transfer
        child.on_done = lambda ok, info: self.child_done(transfer, ok)
        # The next write selects its database again: a new replica has none selected.
        repl.selected_db = -1
        for link in links:
            link.start_offset = offset
            if not link.pre_psync:
                link.client.push(b"+FULLRESYNC %s %d\r\n" % (repl.replid.encode(), offset))
        if diskless:
            transfer.start_reading(rfd)

    def child_done(self, transfer: RdbTransfer, ok: bool) -> None:
        transfer.child_ok = ok
        if transfer.failed:
            return
        if not ok:
            return self.transfer_failed(transfer, "the child failed")
        if not transfer.diskless:
            path = self.engine.persistence.rdb_path()
            try:
                fd = os.open(path, os.O_RDONLY)
                size = os.fstat(fd).st_size
            except OSError as err:
                return self.transfer_failed(transfer, f"can't open the RDB: {err.strerror}")
            for link in transfer.live_links():
                link.state = "send_bulk"
                link.client.push(b"$%d\r\n" % size)
            transfer.start_reading(fd)
        else:
            self.transfer_progress(transfer)

    def transfer_progress(self, transfer: RdbTransfer) -> None:
        """The bytes are all read: once the child is known to have succeeded, the
        replicas are online (a diskless one gets its stream at its first ACK)."""
        if not transfer.data_done or not transfer.child_ok:
            return
        now = self.engine.clock.ms()
        for link in transfer.live_links():
            if link.rdb_only:
                log.info("RDB transfer completed, rdb only replica (%s) should be disconnected asap",
                         replica_name(link))
                link.client.close()
            elif transfer.diskless and not link.ack_time_ms:
                link.state = "online"       # the stream starts at its first ACK
            else:
                link.go_online()            # (or it acked before the child was reaped)
            link.ack_time_ms = now
        self.finished(transfer)

    def transfer_failed(self, transfer: RdbTransfer, why: str) -> None:
        if transfer.failed:
            return
        transfer.failed = True
        log.warning("Replication snapshot aborted: %s", why)
        transfer.close_fd()
        for link in transfer.links:
            if not link.client.closing:
                link.client.abort()
        if transfer.child_ok is None and transfer.diskless:
            self.engine.persistence.kill_child()
        self.finished(transfer)

    def finished(self, transfer: RdbTransfer) -> None:
        if self.transfer is transfer:
            self.transfer = None
        self.update_gate()
        if self.engine.loop is not None:
            self.engine.loop.call_soon(self.maybe_start)

    def high_water(self, client) -> int:
        """Unsent RDB bytes a replica may have before reading the snapshot pauses: well
        under its output limits, which the snapshot must not trip (Redis does not count
        it against them)."""
        server = client.server
        high = HIGH_WATER
        if server is not None and server.obuf_limits_active:
            for limit in server.obuf_limits["replica"][:2]:
                if limit:
                    high = min(high, max(limit // 4, 16384))
        return high

    def held_over_limit(self, link) -> None:
        """The stream held for a replica during its sync counts against
        client-output-buffer-limit replica, as Redis's output buffer does."""
        client = link.client
        server = client.server
        if server is None or not server.obuf_limits_active or client.closing:
            return
        if server.check_output_limits(client, link.pending_bytes):
            link.pending, link.pending_bytes = [], 0

    # -- acknowledgements and WAIT -------------------------------------------------------

    def acked(self, link, offset: int) -> None:
        if offset > link.ack_offset:
            link.ack_offset = offset
        link.ack_time_ms = self.engine.clock.ms()
        if link.state == "online" and not link.streaming and not link.rdb_only:
            link.go_online()
        self.wake_waiters()

    def wake_waiters(self) -> None:
        if not self.waiters:
            return
        blocking = self.engine.blocking
        for client, (waiter, offset, numreplicas) in list(self.waiters.items()):
            if client.blocked is not waiter:        # answered (timeout, CLIENT UNBLOCK)
                del self.waiters[client]
                continue
            count = self.repl.acked(offset)
            waiter.timeout_reply = count
            if count >= numreplicas:
                self.waiters.pop(client, None)
                blocking.answer(client, count)

    def request_acks(self) -> None:
        if not self.getack_scheduled and self.engine.loop is not None:
            self.getack_scheduled = True
            self.engine.loop.call_soon(self._send_getack)

    def _send_getack(self) -> None:
        self.getack_scheduled = False
        if self.waiters and self.repl.role == "master":
            self.repl.feed(GETACK)

    # -- min-replicas-to-write ---------------------------------------------------------

    def update_gate(self) -> None:
        config = self.engine.config
        if config["min-replicas-to-write"] and config["min-replicas-max-lag"] \
                and self.repl.role == "master":
            self.engine.busy |= BUSY_NOREPLICAS
        else:
            self.engine.busy &= ~BUSY_NOREPLICAS

    def write_refusal(self) -> ErrorReply | None:
        """-NOREPLICAS while fewer good replicas than min-replicas-to-write (scripts'
        writes are checked here too, as Redis's scriptVerifyWriteCommandAllow)."""
        if self.repl.role != "master" or self.repl.good_replicas(self.engine.clock.ms()) >= self.engine.config["min-replicas-to-write"]:
            return None
        return ErrorReply(NOREPLICAS)

    def gate(self, client, cmd, args):
        # A replica never refuses for lack of replicas (Redis's checkGoodReplicasStatus).
        if not self.engine.busy & BUSY_NOREPLICAS or client.kind == "master" or \
                client.kind == "script" or self.repl.role != "master":
            return None
        scripts = self.engine.scripts
        if not (scripts.call_writes(cmd, args) or (cmd.name == "exec" and scripts.exec_writes(client))):
            return None
        refusal = self.write_refusal()
        if refusal is None:
            return None
        return self.engine.reject(cmd, CommandError(NOREPLICAS))

    # -- FAILOVER ----------------------------------------------------------------------
    #
    # Writes are paused; once the target (or any replica, without TO) acknowledged the
    # whole stream, this server becomes a replica of it through the replica side's
    # `become_replica(host, port)`, which sends PSYNC ... FAILOVER while
    # failover_state is "failover-in-progress" and reports with `failover_finished`.

    def find_replica(self, host: str, port: int):
        for link in self.repl.replicas.values():
            if link.address() == host and link.listening_port == port:
                return link
        return None

    def start_failover(self, host, port: int, timeout_ms: int, force: bool) -> None:
        engine = self.engine
        self.failover_target = (host, port) if host is not None else None
        self.failover_end_ms = engine.clock.ms() + timeout_ms if timeout_ms else 0
        self.failover_force = force
        self.repl.failover_state = "waiting-for-sync"
        log.info("FAILOVER requested to %s.", "%s:%d" % (host, port) if host else "any replica")
        engine.pause_clients("write", engine.clock.ms() + 10**12)

    def clear_failover(self) -> None:
        self.repl.failover_state = "no-failover"
        self.failover_target = None
        self.failover_end_ms = 0
        self.failover_force = False
        self.engine.unpause_clients()

    def abort_failover(self, why: str) -> None:
        repl = self.repl
        if repl.failover_state == "no-failover":
            return
        log.info("FAILOVER to %s aborted: %s",
                 "%s:%d" % self.failover_target if self.failover_target else "any replica", why)
        if repl.failover_state == "failover-in-progress" and repl.become_primary is not None:
            repl.become_primary()
        self.clear_failover()

    def failover_finished(self, ok: bool) -> None:
        if ok:
            self.clear_failover()
        else:
            self.abort_failover("Failover target rejected psync request")

    def update_failover(self, now_ms: int) -> None:
        repl = self.repl
        if repl.failover_state != "waiting-for-sync":
            return
        if self.failover_end_ms and self.failover_end_ms <= now_ms:
            if self.failover_force:
                log.info("FAILOVER to %s:%d time out exceeded, failing over.", *self.failover_target)
                repl.failover_state = "failover-in-progress"
                repl.become_replica(*self.failover_target)
            else:
                self.abort_failover("Replica never caught up before timeout")
            return
        if self.failover_target is not None:
            link = self.find_replica(*self.failover_target)
        else:
            link = next((link for link in repl.replicas.values()
                         if link.ack_offset == repl.master_repl_offset), None)
            if link is not None:
                self.failover_target = (link.address(), link.listening_port)
        if link is not None and link.ack_offset == repl.master_repl_offset:
            repl.failover_state = "failover-in-progress"
            log.info("Failover target %s:%d is synced, failing over.", *self.failover_target)
            repl.become_replica(*self.failover_target)

    # -- shutdown -----------------------------------------------------------------------

    def shutdown_waits(self) -> list:
        """The replicas a graceful shutdown waits for (none after SHUTDOWN NOW)."""
        repl = self.repl
        engine = self.engine
        if not engine.config["shutdown-timeout"] or repl.role != "master" or engine.shutdown_now:
            return []
        return [link for link in repl.replicas.values() if link.state == "online"
                and not link.pre_psync and not link.client.closing]

    def before_final_save(self) -> None:
        """The GETACK the shutdown asks its replicas to acknowledge joins the stream
        before the final RDB is written, so the offset the RDB records is the one they
        reach (Redis saves after waiting for them): restarted, this primary can continue
        their history with PSYNC."""
        repl = self.repl
        # As Redis, no GETACK when every replica has already acknowledged everything.
        if any(link.ack_offset < repl.master_repl_offset for link in self.shutdown_waits()):
            repl.feed(GETACK)
            self.shutdown_getack_offset = repl.master_repl_offset

    async def before_shutdown(self, engine) -> None:
        """Redis 7.0's shutdown of a primary: writes are paused and the online replicas
        get up to shutdown-timeout seconds to acknowledge the whole stream (not after
        SHUTDOWN NOW); then what is queued for them is written before the sockets close."""
        repl = self.repl
        waiting = self.shutdown_waits
        if any(link.ack_offset < repl.master_repl_offset for link in waiting()):
            self.shutting_down = True
            engine.pause_clients("write", engine.clock.ms() + 10**12)
            log.warning("Waiting for replicas before shutting down.")
            if self.shutdown_getack_offset != repl.master_repl_offset:
                repl.feed(GETACK)
            deadline = time.monotonic() + engine.config["shutdown-timeout"]
            while time.monotonic() < deadline and \
                    any(link.ack_offset < repl.master_repl_offset for link in waiting()):
                await asyncio.sleep(0.01)
            for link in waiting():
                if link.ack_offset < repl.master_repl_offset:
                    log.warning("Lagging replica %s reported offset %d behind master, lag=%d, "
                                "state=online.", replica_name(link),
                                repl.master_repl_offset - link.ack_offset,
                                (engine.clock.ms() - link.ack_time_ms) // 1000)
        repl.flush()
        links = [link for link in repl.replicas.values() if link.streaming]
        for link in links:
            link.client.flush([])
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline and \
                any(link.client.output_bytes() and not link.client.closing for link in links):
            await asyncio.sleep(0.01)

    # -- the cron ---------------------------------------------------------------------

    def cron(self, now_ms: int) -> None:
        if self.waiters:
            self.wake_waiters()
        if self.repl.failover_state != "no-failover":
            self.update_failover(now_ms)
        second = now_ms // 1000
        if second == self.cron_second:
            return
        self.cron_second = second
        repl = self.repl
        config = self.engine.config
        replicas = repl.replicas
        # No PING while a failover waits for the replica to catch up: it would move
        # the offset the failover waits for.
        # Nor while a shutdown waits for them: its final RDB recorded the offset already.
        if replicas and self.cron_loops % config["repl-ping-replica-period"] == 0 \
                and repl.role == "master" and repl.failover_state == "no-failover" \
                and not self.shutting_down:
            repl.feed(PING)
        timeout_ms = config["repl-timeout"] * 1000
        for link in list(replicas.values()):
            client = link.client
            if client.closing:
                continue
            if link.state == "wait_bgsave":
                # A newline keeps a replica waiting for its snapshot from timing out;
                # not while a diskless RDB is streaming to it (it would be in the RDB).
                if link.start_offset < 0 or not (self.transfer and self.transfer.diskless):
                    client.push(b"\n")
            elif link.state == "online" and not link.pre_psync and \
                    now_ms - link.ack_time_ms > timeout_ms:
                log.warning("Disconnecting timedout replica (streaming sync): %s",
                            replica_name(link))
                client.abort()
        repl.cron(now_ms)
        self.cron_loops += 1
        self.maybe_start()


def _chain(*parts):
    for part in parts:
        yield from part


def replica_name(link) -> str:
    return "%s:%d" % (link.address(), link.listening_port)


def primary_of(engine) -> Primary:
    return engine.replication_primary


# -- commands ----------------------------------------------------------------------------------

def _become_replica(client, pre_psync: bool):
    engine = client.engine
    engine.replication.flush()
    link = engine.replication.attach(client)
    client.kind = "replica"
    link.pre_psync = pre_psync
    link.since_ms = engine.clock.ms()
    return link


def _sync_refusal(client):
    repl = client.engine.replication
    conf = getattr(client, "replconf", None)
    if repl.failover_state != "no-failover":
        raise CommandError("NOMASTERLINK Can't SYNC while failing over")
    if repl.role != "master" and not repl.link_up:
        raise CommandError("NOMASTERLINK Can't SYNC while not connected with my master")
    if client.output_bytes() or client.batch:
        raise CommandError("ERR SYNC and PSYNC are invalid with pending output")
    if conf and conf["req"] != (True, True) and "eof" not in conf["capa"]:
        raise CommandError("ERR Filtered replica requires EOF capability")


@command("sync", arity=1, flags="admin noscript no_async_loading no_multi", group="server",
         since="1.0.0", summary="An internal command used in replication.")
def sync(client, args):
    engine = client.engine
    if client.kind == "replica":
        return NO_REPLY         # already a replica: Redis ignores a second SYNC
    if client.kind == "script":
        raise CommandError("ERR Replica can't be a script client")
    _sync_refusal(client)
    log.info("Replica %s asks for synchronization", client.addr)
    engine.replication.sync_full += 1
    link = _become_replica(client, pre_psync=True)
    _apply_pending_replconf(client, link)
    primary_of(engine).maybe_start()
    return NO_REPLY


@command("psync", arity=-3, flags="admin noscript no_async_loading no_multi", group="server",
         since="2.8.0", summary="An internal command used in replication.",
         args="replicationid offset:i")
def psync(client, args):
    engine = client.engine
    repl = engine.replication
    if client.kind == "replica":
        return NO_REPLY
    if client.kind == "script":
        raise CommandError("ERR Replica can't be a script client")
    if len(args) > 3 and args[3].lower() == b"failover":
        handoff = repl.failover_request
        if repl.role == "master" or handoff is None:
            raise CommandError("ERR PSYNC FAILOVER can't be sent to a master.")
        if args[1].decode("latin-1").lower() != repl.replid:
            raise CommandError("ERR PSYNC FAILOVER replid must match my replid.")
        handoff(client)
    _sync_refusal(client)
    offset = parse_int(args[2], NOT_INTEGER)
    replid = args[1].decode("latin-1").lower()
    if repl.can_continue(replid, offset):
        link = _become_replica(client, pre_psync=False)
        _apply_pending_replconf(client, link)
        link.state = "online"
        link.streaming = True
        link.ack_time_ms = engine.clock.ms()
        repl.sync_partial_ok += 1
        if "psync2" in link.capa:
            client.push(b"+CONTINUE %s\r\n" % repl.replid.encode())
        else:
            client.push(b"+CONTINUE\r\n")
        data = repl.backlog.since(offset)
        if data:
            client.push(data)
        log.info("Partial resynchronization request from %s accepted. Sending %d bytes of "
                 "backlog starting from offset %d.", replica_name(link), len(data), offset)
        primary_of(engine).update_gate()
        return NO_REPLY
    if not replid.startswith("?"):
        repl.sync_partial_err += 1
    repl.sync_full += 1
    link = _become_replica(client, pre_psync=False)
    _apply_pending_replconf(client, link)
    primary_of(engine).maybe_start()
    return NO_REPLY


def _apply_pending_replconf(client, link) -> None:
    """What REPLCONF announced before SYNC/PSYNC made the connection a replica."""
    conf = getattr(client, "replconf", None)
    if conf:
        link.listening_port = conf["port"]
        link.ip = conf["ip"]
        link.capa = set(conf["capa"])
        link.rdb_only = conf["rdb_only"]
        link.req = conf["req"]


def _replconf_state(client) -> dict:
    conf = getattr(client, "replconf", None)
    if conf is None:
        conf = client.replconf = {"port": 0, "ip": None, "capa": set(), "rdb_only": False,
                                  "req": (True, True)}
    return conf


@command("replconf", arity=-1, flags="admin noscript loading stale allow_busy", group="server",
         since="3.0.0", summary="An internal command for configuring the replication stream.",
         doc_flags="syscmd")
def replconf(client, args):
    if len(args) % 2 == 0:
        raise CommandError(SYNTAX)
    engine = client.engine
    repl = engine.replication
    link = repl.replicas.get(client)
    conf = _replconf_state(client)
    for j in range(1, len(args), 2):
        opt = args[j].lower()
        value = args[j + 1]
        if opt == b"listening-port":
            conf["port"] = parse_int(value, NOT_INTEGER)
            if link is not None:
                link.listening_port = conf["port"]
        elif opt == b"ip-address":
            if len(value) >= 256:       # NET_HOST_STR_LEN
                raise CommandError("ERR REPLCONF ip-address provided by replica instance is too "
                                   "long: %d bytes" % len(value))
            conf["ip"] = value.decode("utf-8", "replace")
            if link is not None:
                link.ip = conf["ip"]
        elif opt == b"capa":
            word = value.lower()
            if word in (b"eof", b"psync2"):
                conf["capa"].add(word.decode())
                if link is not None:
                    link.capa.add(word.decode())
        elif opt == b"ack":
            if link is None:
                return NO_REPLY
            try:
                offset = parse_int(value)
            except CommandError:
                return NO_REPLY
            primary_of(engine).acked(link, offset)
            return NO_REPLY
        elif opt == b"getack":
            if repl.role != "master" and repl.send_ack is not None:
                repl.send_ack()
            return NO_REPLY
        elif opt == b"rdb-only":
            flag = parse_int(value, NOT_INTEGER)
            if not 0 <= flag <= 1:
                raise CommandError("ERR value is out of range, value must between 0 and 1")
            conf["rdb_only"] = bool(flag)
        elif opt == b"rdb-filter-only":
            from ..server.parser import split_inline
            words = split_inline(value)
            if words is None:
                raise CommandError("ERR Missing rdb-filter-only values")
            functions = False
            for word in words:
                if word.lower() != b"functions":
                    raise CommandError("ERR Unsupported rdb-filter-only option: %s"
                                       % word.decode("utf-8", "replace"))
                functions = True
            conf["req"] = (False, functions)
        else:
            raise CommandError("ERR Unrecognized REPLCONF option: %s" % args[j].decode("utf-8", "replace"))
    return OK


# -- WAIT --------------------------------------------------------------------------------------

@command("wait", arity=3, flags="noscript", acl="connection", group="generic", since="3.0.0",
         tips=("request_policy:all_shards", "response_policy:agg_min"),
         summary="Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
         args="numreplicas:i timeout:i")
def wait(client, args):
    engine = client.engine
    repl = engine.replication
    if repl.role != "master":
        raise CommandError("ERR WAIT cannot be used with replica instances. Please also note that "
                           "since Redis 4.0 if a replica is configured to be writable (which is not "
                           "the default) writes to replicas are just local and are not propagated.")
    numreplicas = parse_int(args[1], NOT_INTEGER)
    timeout_ms = parse_timeout_ms(args[2])
    offset = client_write_offset(client)
    acked = repl.acked(offset)
    if acked >= numreplicas or client.multi is not None:
        return acked
    reply = engine.blocking.block(client, [], timeout_ms, _serve_nothing, acked)
    if client.blocked is not None:
        primary = primary_of(engine)
        primary.waiters[client] = (client.blocked, offset, numreplicas)
        primary.request_acks()
    return reply


def client_write_offset(client) -> int:
    """The stream offset after the client's last propagated write (Redis's woff)."""
    return getattr(client, "woff", 0)


def _serve_nothing(waiter, key):
    return None


# -- FAILOVER ------------------------------------------------------------------------------------

@command("failover", arity=-1, flags="admin noscript stale", group="server", since="6.2.0",
         summary="Starts a coordinated failover from a server to one of its replicas.",
         args="[TO=target(host port:i [FORCE])] [ABORT] [TIMEOUT=milliseconds:i]")
def failover(client, args):
    engine = client.engine
    repl = engine.replication
    primary = primary_of(engine)
    if len(args) == 2 and args[1].lower() == b"abort":
        if repl.failover_state == "no-failover":
            raise CommandError("ERR No failover in progress.")
        primary.abort_failover("Failover manually aborted")
        return OK
    timeout_ms = 0
    force = False
    host = None
    port = 0
    j = 1
    while j < len(args):
        word = args[j].lower()
        if word == b"timeout" and j + 1 < len(args) and not timeout_ms:
            timeout_ms = parse_int(args[j + 1], NOT_INTEGER)
            if timeout_ms <= 0:
                raise CommandError("ERR FAILOVER timeout must be greater than 0")
            j += 2
        elif word == b"to" and j + 2 < len(args) and host is None:
            port = parse_int(args[j + 2], NOT_INTEGER)
            host = args[j + 1].decode("utf-8", "replace")
            j += 3
        elif word == b"force" and not force:
            force = True
            j += 1
        else:
            raise CommandError(SYNTAX)
    if repl.failover_state != "no-failover":
        raise CommandError("ERR FAILOVER already in progress.")
    if repl.role != "master":
        raise CommandError("ERR FAILOVER is not valid when server is a replica.")
    if not repl.replicas:
        raise CommandError("ERR FAILOVER requires connected replicas.")
    if force and (not timeout_ms or host is None):
        raise CommandError("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
    if host is not None:
        link = primary.find_replica(host, port)
        if link is None:
            raise CommandError("ERR FAILOVER target HOST and PORT is not a replica.")
        if link.state != "online":
            raise CommandError("ERR FAILOVER target replica is not online.")
    if repl.become_replica is None:
        raise CommandError("ERR FAILOVER needs the replica side (REPLICAOF), which this server lacks")
    primary.start_failover(host, port, timeout_ms, force)
    return OK


# -- DEBUG REPLICATE -----------------------------------------------------------------------------

def debug_replicate(client, args):
    """DEBUG REPLICATE cmd [arg ...]: the command goes to the replication stream only (not
    the AOF, not run here), in the database the stream last selected, as Redis's
    replicationFeedSlaves does: a way to make replicas diverge on purpose."""
    if len(args) < 3:
        raise subcommand_syntax(args)
    repl = client.engine.replication
    repl.sink(repl.selected_db, list(args[2:]))
    return OK


# -- wiring --------------------------------------------------------------------------------------

@extension
def _setup(engine) -> None:
    primary = Primary(engine)
    engine.replication_primary = primary
    repl = engine.replication

    def disconnected(client) -> None:
        link = repl.detach(client, engine.clock.ms())
        primary.waiters.pop(client, None)
        if link is not None:
            primary.wake_waiters()
            transfer = primary.transfer
            if transfer is not None and link in transfer.links and not transfer.live_links() \
                    and transfer.diskless:
                primary.transfer_failed(transfer, "no replica left")

    def config_changed(changed=None) -> None:
        if repl.backlog is not None and (changed is None or "repl-backlog-size" in changed):
            repl.backlog.resize(engine.config["repl-backlog-size"])
        primary.update_gate()

    engine.disconnect_hooks.append(disconnected)
    engine.config.listeners.append(config_changed)
    engine.add_gate_hook(primary.gate, first=True)      # refused before MULTI queues it
    engine.add_cron_task(primary.cron)
    engine.shutdown_hooks.append(primary.before_shutdown)
    primary.update_gate()
    engine.debug_subcommands[b"replicate"] = debug_replicate
    engine.debug_help.append([
        "REPLICATE <command> [<arg> ...]",
        "    Send a command to the replicas only (it is neither run here nor written to the AOF).",
    ])
