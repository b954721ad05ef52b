"""Replication state shared by the primary and the replica side (no I/O).

`engine.replication` is one `Replication`. It holds what Redis keeps in its
server struct for replication, with the same meaning and numbering:

``replid``, ``replid2``, ``second_replid_offset``
    The history this server's stream belongs to. ``replid`` is 40 random hex
    digits made at start (and again by `new_replid`). After a promotion
    (`shift_replid`) the old id moves to ``replid2`` and ``second_replid_offset``
    is the first offset it is *not* valid for any more (``master_repl_offset + 1``
    at the switch), so replicas of the old primary can still PSYNC with it;
    -1 when there is no second id.
``master_repl_offset``
    Bytes of replication stream this server has produced (as a primary) or
    received and applied (as a replica). It only moves while a backlog exists,
    as in Redis: a primary that never had a replica stays at 0.
``backlog``
    A `Backlog`: the last ``repl-backlog-size`` bytes of the stream, made when
    the first replica attaches (`create_backlog`), dropped by `cron` after
    ``repl-backlog-ttl`` seconds without replicas (never on a replica, whose
    backlog is what its own sub-replicas and a later promotion resume from).
``role``
    "master" or "slave" (the replica side sets it; INFO/ROLE read it).
``replicas``
    client -> `ReplicaLink`: every connection that sent SYNC/PSYNC, with
    its state ("wait_bgsave", "send_bulk", "online"), acknowledged offset, the
    time of its last ACK, and what it announced with REPLCONF (listening-port,
    ip-address, capa).

Feeding the stream
    `sink(db_index, argv)` is the engine's propagation sink (in
    ``engine.sinks`` exactly while a backlog exists and ``role == "master"``, which
    `set_role` changes): it emits SELECT when the database differs from the one the
    stream last selected (``selected_db``, -1 after a full resync starts so the next
    write selects again) and feeds the encoded command. A replica forwards its
    primary's bytes instead of its own effects, so it has no sink, and the writes it
    applies skip propagation altogether.

    `feed(data)` appends raw stream bytes: the offset advances by exactly
    ``len(data)`` at once; at the end of the event-loop turn (`flush`, also called
    by whatever reads the backlog or changes which replicas get what) the bytes of
    the turn go to the backlog in one piece, to online replicas, and to replicas
    still waiting for their RDB, which keep them until `ReplicaLink.go_online`.
    Call `flush()` before reading ``backlog`` or setting a link's ``start_offset``. The replica side
    calls it with the bytes its primary sent (after applying them), which is how
    chained sub-replicas and the replica's own backlog follow the primary byte for
    byte.

Partial resynchronisation
    `can_continue(replid, offset)` says whether ``PSYNC replid offset`` can be
    served from the backlog (the id is ``replid``, or ``replid2`` with ``offset``
    not past ``second_replid_offset``, and ``offset`` within
    ``[backlog.first_offset, master_repl_offset + 1]``); `backlog.since(offset)`
    returns the bytes to send after ``+CONTINUE``.

Hooks the replica side fills in
    ``link_up`` (bool: the link to our primary is up; SYNC/PSYNC from sub-replicas
    are refused with -NOMASTERLINK otherwise), ``send_ack()`` (REPLCONF GETACK
    from our primary), ``failover_request(client)`` (PSYNC <our replid> <offset>
    FAILOVER: stop being a replica; the PSYNC then proceeds as on a primary),
    ``replica_info()`` (the INFO replication pairs Redis prints between ``role``
    and ``connected_slaves`` on a replica: master_host ... slave_announced),
    ``role_reply()`` (ROLE's reply on a replica), ``master_stream_db()`` (the database
    our primary's stream has selected: a sub-replica's snapshot names it, since the
    forwarded stream will not select it again), ``become_replica(host, port)`` and
    ``become_primary()`` (what REPLICAOF host port / NO ONE do; FAILOVER calls them:
    while ``failover_state == "failover-in-progress"`` the PSYNC sent to the new
    primary carries ``FAILOVER`` and its outcome is reported with
    ``failover_finished(ok)``, set by the primary side).

Acknowledgements
    `acked(offset)` counts replicas whose last REPLCONF ACK is at least
    ``offset`` (WAIT); `good_replicas(now_ms)` counts online replicas whose last
    ACK is at most ``min-replicas-max-lag`` seconds old (min-replicas-to-write).
"""
from __future__ import annotations

import os

from ..persistence.aof import fast_encode_command, select_command


def random_replid() -> str:
    return os.urandom(20).hex()


class Backlog:
    """The last `size` bytes of the replication stream.

    ``first_offset`` is the stream offset of the oldest byte held (Redis's
    repl_backlog_first_byte_offset) and ``histlen`` how many bytes are held;
    the newest byte is at ``first_offset + histlen - 1``. The bound is exact:
    ``histlen <= size`` after every append. The bytes are one bytearray: an
    append extends it and drops as many bytes from its front, which CPython does
    by moving the start of the array, so an append costs about a copy of the
    appended bytes (plus, now and then, one copy of the whole backlog when the
    array's allocation is renewed).
    """

    def __init__(self, size: int, next_offset: int):
        self.size = max(size, 1)
        self.buf = bytearray()
        self.histlen = 0
        self.first_offset = next_offset     # offset the first byte appended will have

    def append(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        excess = len(buf) - self.size
        if excess > 0:
            del buf[:excess]
            self.first_offset += excess
        self.histlen = len(buf)

    def since(self, offset: int) -> bytes:
        """The bytes from stream offset `offset` (first_offset <= offset <= end + 1)."""
        start = offset - self.first_offset
        if start >= self.histlen:
            return b""
        return bytes(self.buf[max(start, 0):])

    def resize(self, size: int) -> None:
        """Keep the newest bytes that fit the new size."""
        self.size = max(size, 1)
        self.append(b"")


class ReplicaLink:
    """One replica connection as the primary sees it."""

    def __init__(self, client):
        self.client = client
        self.state = "wait_bgsave"      # then "send_bulk" (disk sync), then "online"
        self.ack_offset = 0
        self.ack_time_ms = 0
        self.listening_port = 0
        self.ip: str | None = None       # REPLCONF ip-address, else the peer address
        self.capa: set = set()           # {"eof", "psync2"} as announced
        self.pending: list = []          # stream bytes held until the RDB is sent
        self.pending_bytes = 0
        # The offset its snapshot is taken at (FULLRESYNC's); -1 while no snapshot
        # is under way for it: the stream before its snapshot is not its business.
        self.start_offset = -1
        self.streaming = False           # live bytes go straight to the connection
        self.pre_psync = False           # came with SYNC: no FULLRESYNC line, no ACKs
        self.since_ms = 0                # when it asked to sync (diskless delay)
        self.rdb_only = False            # REPLCONF rdb-only 1: the snapshot, then close
        # REPLCONF rdb-filter-only: (keys, functions) the snapshot includes.
        self.req = (True, True)

    def go_online(self) -> None:
        """The RDB is delivered: the held stream follows, then live bytes."""
        self.state = "online"
        self.streaming = True
        pending, self.pending, self.pending_bytes = self.pending, [], 0
        client = self.client
        for data in pending:
            client.push(data)

    def address(self) -> str:
        if self.ip:
            return self.ip
        addr = self.client.addr
        return addr.rsplit(":", 1)[0] if addr else "?"


class Replication:
    def __init__(self, engine):
        self.engine = engine
        self.config = engine.config
        self.role = "master"
        self.replid = random_replid()
        self.replid2 = "0" * 40
        self.second_replid_offset = -1
        self.master_repl_offset = 0
        self.backlog: Backlog | None = None
        self.no_replicas_since_ms = 0    # for repl-backlog-ttl
        self.replicas: dict = {}         # client -> ReplicaLink
        self.unsent: list = []           # fed in this event-loop turn, not yet in backlog/replicas
        # Set by the server: make sure its end-of-turn pass runs in this turn (it calls
        # `flush` first); without it the stream has a callback of its own.
        self.end_of_turn = None
        self.selected_db = -1
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        # Set by commands/replication.py: called with a ReplicaLink whose held
        # stream went over client-output-buffer-limit replica.
        self.over_limit = None
        self.failover_state = "no-failover"   # INFO master_failover_state
        # Set by commands/replication.py: called before a shutdown writes its final RDB.
        self.before_final_save = None
        # Set by the replica side:
        self.link_up = False             # the link to our primary is up (SYNC refused otherwise)
        self.send_ack = None             # send REPLCONF ACK to our primary now (GETACK)
        self.failover_request = None     # accept PSYNC ... FAILOVER from this client: become primary
        self.replica_info = None         # INFO replication lines between role and connected_slaves
        self.role_reply = None           # ROLE's reply on a replica
        self.master_stream_db = None     # the db our primary's stream has selected
        # The db our primary's stream has selected when we have a primary's history to
        # continue (a live link or a cached master), else None: what an RDB saved on a
        # replica records.
        self.saved_stream_db = None
        # On a replica: the stream db of the history its RDB restored at startup (the
        # replica side turns it into a cached master), else None.
        self.restored_stream_db: int | None = None
        self.become_replica = None       # replicate (host, port), as REPLICAOF (FAILOVER)
        self.become_primary = None       # stop replicating, as REPLICAOF NO ONE (FAILOVER ABORT)
        # Set by commands/replication.py: the replica side reports whether the target
        # of a FAILOVER accepted our PSYNC ... FAILOVER.
        self.failover_finished = None

    def backlog_bytes(self) -> int:
        self.flush()
        return self.backlog.histlen if self.backlog is not None else 0

    def stream_db(self) -> int:
        """The database the stream that follows a snapshot has selected (the
        snapshot's repl-stream-db)."""
        if self.role != "master" and self.master_stream_db is not None:
            return self.master_stream_db()
        return max(self.selected_db, 0)

    def reset_stats(self) -> None:
        self.sync_full = self.sync_partial_ok = self.sync_partial_err = 0

    # -- the stream -----------------------------------------------------------------

    def sink(self, db_index: int, argv) -> None:
        # Runs for every propagated command: `feed` is inlined.
        if self.role != "master" or self.backlog is None:
            return
        if db_index != self.selected_db:
            self.selected_db = db_index
            data = select_command(db_index) + fast_encode_command(argv)
        else:
            data = fast_encode_command(argv)
        self.master_repl_offset += len(data)
        unsent = self.unsent
        unsent.append(data)
        if len(unsent) == 1:
            self._flush_soon()

    def feed(self, data: bytes) -> None:
        if self.backlog is None:
            return
        self.master_repl_offset += len(data)
        unsent = self.unsent
        unsent.append(data)
        if len(unsent) == 1:
            self._flush_soon()

    def _flush_soon(self) -> None:
        end_of_turn = self.end_of_turn
        if end_of_turn is not None:
            # The server's end-of-turn pass hands the stream to the replicas after it
            # wrote the turn's replies: one callback per turn for both, not two.
            end_of_turn()
            return
        loop = self.engine.loop
        if loop is None:
            self.flush()
        else:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand what `feed` collected in this event-loop turn to the backlog and the
        replicas, as one piece (a write per turn and replica, like every reply, and
        as Redis writes to its replicas once per event-loop iteration)."""
        unsent = self.unsent
        if not unsent:
            return
        data = b"".join(unsent) if len(unsent) > 1 else unsent[0]
        self.unsent = []
        backlog = self.backlog
        if backlog is None:
            return
        backlog.append(data)
        for link in self.replicas.values():
            if link.streaming:
                client = link.client
                if client.batch is None:
                    # Written now, after what is queued for it: no second pass through
                    # the server's end-of-turn flush (a replica that is running its own
                    # command, REPLCONF, gets the bytes after that command's reply).
                    client.flush([data])
                else:
                    client.push(data)
            elif link.start_offset >= 0 and not link.rdb_only:
                link.pending.append(data)
                link.pending_bytes += len(data)
                if self.over_limit is not None:
                    self.over_limit(link)

    # -- ids and the backlog -----------------------------------------------------------

    def create_backlog(self) -> None:
        """Start keeping the stream (a primary's sink joins the engine's)."""
        if self.backlog is None:
            self.backlog = Backlog(self.config["repl-backlog-size"], self.master_repl_offset + 1)
        self._update_sink()

    def free_backlog(self) -> None:
        self.backlog = None
        self.unsent = []
        self._update_sink()

    def set_role(self, role: str) -> None:
        """"master" or "slave" (REPLICAOF NO ONE / host port)."""
        self.role = role
        self._update_sink()

    def _update_sink(self) -> None:
        sinks = self.engine.sinks
        if self.backlog is not None and self.role == "master":
            if self.sink not in sinks:
                sinks.append(self.sink)
        elif self.sink in sinks:
            sinks.remove(self.sink)

    def new_replid(self) -> None:
        """A new history: what a server starting over (or a replica after a full
        sync from a new primary) uses."""
        self.replid = random_replid()

    def clear_replid2(self) -> None:
        self.replid2 = "0" * 40
        self.second_replid_offset = -1

    def shift_replid(self) -> None:
        """Promotion: keep serving PSYNCs of the old history up to this offset."""
        self.replid2 = self.replid
        self.second_replid_offset = self.master_repl_offset + 1
        self.new_replid()

    def can_continue(self, replid: str, offset: int) -> bool:
        self.flush()
        backlog = self.backlog
        if backlog is None:
            return False
        if replid != self.replid and \
                (replid != self.replid2 or offset > self.second_replid_offset):
            return False
        return backlog.first_offset <= offset <= self.master_repl_offset + 1

    # -- the history kept in RDB files ------------------------------------------------

    def save_info(self):
        """(stream db, replid, offset) for an RDB saved now, or None when this server
        has no history worth keeping (Redis's rdbPopulateSaveInfo): a primary with a
        backlog, or a replica with a live or cached primary. The file then carries
        repl-stream-db/repl-id/repl-offset, so that after a restart the replicas of
        this primary, or this replica itself, can continue with PSYNC."""
        if self.role == "master":
            if self.backlog is None:
                return None
            return (max(self.selected_db, 0), self.replid, self.master_repl_offset)
        db = self.saved_stream_db() if self.saved_stream_db is not None else None
        if db is None:
            return None
        return (db, self.replid, self.master_repl_offset)

    def restore(self, aux: dict, expired_keys, as_replica: bool, now_ms: int) -> bool:
        """Take up the history an RDB loaded at startup recorded (Redis 7.0's
        loadDataFromDisk). A primary keeps its new id but serves PSYNCs of the saved
        one up to the saved offset (as ``replid2``), from an empty backlog that starts
        there, holding the DELs of the keys the load dropped as expired; a replica
        continues the saved history as its cached primary. False when the file has
        no (valid) history."""
        try:
            replid = aux[b"repl-id"].decode("ascii")
            offset = int(aux[b"repl-offset"])
            stream_db = int(aux[b"repl-stream-db"])
        except (KeyError, ValueError, UnicodeDecodeError):
            return False
        if len(replid) != 40 or offset < 0 or stream_db < 0:
            return False
        if as_replica:
            self.replid = replid.lower()
            self.master_repl_offset = offset
            self.restored_stream_db = stream_db
            return True
        self.replid2 = replid.lower()
        self.second_replid_offset = offset + 1
        self.master_repl_offset = offset
        self.create_backlog()
        self.no_replicas_since_ms = now_ms
        for index, key in expired_keys:
            self.sink(index, [b"DEL", key])
        return True

    # -- replicas -------------------------------------------------------------------

    def attach(self, client) -> ReplicaLink:
        """A connection became a replica (SYNC/PSYNC). A primary's first backlog
        starts a new history, as Redis's does: no earlier replica can resume into it."""
        link = self.replicas.get(client)
        if link is None:
            link = self.replicas[client] = ReplicaLink(client)
        if self.backlog is None and self.role == "master":
            self.new_replid()
            self.clear_replid2()
        self.create_backlog()
        return link

    def detach(self, client, now_ms: int) -> ReplicaLink | None:
        link = self.replicas.pop(client, None)
        if link is not None and not self.replicas:
            self.no_replicas_since_ms = now_ms
        return link

    def acked(self, offset: int) -> int:
        return sum(1 for link in self.replicas.values()
                   if link.state == "online" and link.ack_offset >= offset)

    def good_replicas(self, now_ms: int) -> int:
        max_lag_ms = self.config["min-replicas-max-lag"] * 1000
        return sum(1 for link in self.replicas.values()
                   if link.state == "online" and now_ms - link.ack_time_ms <= max_lag_ms)

    def cron(self, now_ms: int) -> None:
        """Free a primary's backlog after repl-backlog-ttl without replicas."""
        ttl = self.config["repl-backlog-ttl"]
        # Whole seconds, strictly more than the ttl, as Redis counts them.
        if self.backlog is not None and self.role == "master" and not self.replicas \
                and ttl and now_ms // 1000 - self.no_replicas_since_ms // 1000 > ttl:
            # A new id too: a replica that comes back must not PSYNC into a gap.
            self.new_replid()
            self.clear_replid2()
            self.free_backlog()
