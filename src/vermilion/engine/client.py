"""Per-connection state the engine and commands read and change.

The server's Connection subclasses Client and supplies the I/O (send, close);
scripts run their redis.call()s through a Client with no socket at all.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .core import ClientCore

if TYPE_CHECKING:
    from .engine import Engine
    from .keyspace import Database

# Reasons a client leaves the fast path; `gate` is their OR, so the per-command
# check is a single truth test.
GATE_NOAUTH = 1      # requirepass set and not authenticated yet
GATE_MULTI = 2       # inside MULTI: commands are queued
GATE_PUBSUB = 4      # RESP2 subscribed mode: only (un)subscribe/ping/quit/reset
GATE_LOCAL = 8       # a script/internal client: noscript and friends are refused
GATE_ACL = 16        # the client's user is restricted: every command is checked
# The master client of a replica (server/replica.py): trusted, so dispatch skips the
# gate while only refusals that never apply to it are in force (Engine.execute).
GATE_MASTER = 32


class Client(ClientCore):
    kind = "normal"

    def __init__(self, engine: "Engine"):
        self.engine = engine
        self.id = engine.next_client_id()
        self.db: "Database" = engine.dbs[0]
        self.resp3 = False
        self.name: bytes | None = None
        self.lib_name: bytes | None = None
        self.lib_ver: bytes | None = None
        # The ACL user (types.acl.User); restricted users set GATE_ACL.
        self.user = engine.acl.default if engine.acl is not None else None
        self.acl_restricted = self.user is not None and not self.user.unrestricted
        self.acl_blocking_call = None          # (command, argv) of a checked blocking command
        self.acl_plans: list = []              # the user's AclPlans by Command.acl_index (commands.acl)
        self.gate = 0
        self.authenticated = True
        self.multi: list | None = None         # queued commands inside MULTI
        self.multi_error = False               # a queued command was refused: EXEC aborts
        self.watching: set = set()             # (db index, key) pairs under WATCH
        self.dirty_cas = False                 # a watched key changed: EXEC returns null
        # Blocking commands answer at once instead of blocking (inside EXEC; script clients).
        self.deny_blocking = False
        # Pub/sub subscriptions, as insertion-ordered dicts (name -> None): Redis
        # lists a client's patterns in subscription order (UNSUBSCRIBE-all replies).
        self.channels: dict = {}
        self.patterns: dict = {}
        self.shard_channels: dict = {}
        self.reply_mode = 0                    # 0 on, 1 off, 2 skip next
        self.tracking = None                   # CLIENT TRACKING state (engine/tracking.py)
        self.lua_debug = None                  # SCRIPT DEBUG YES/SYNC: b"yes" or b"sync"
        now = engine.clock.ms()
        self.created_ms = now
        self.last_interaction_ms = now
        self.last_command = b"NULL"
        self.addr = ""
        self.laddr = ""
        self.fd = -1
        self.flags = ""
        self.blocked = None                    # engine.blocking's record while blocked
        self.no_evict = False
        self.no_touch = False
        self.closing = False
        self.woff = 0                          # stream offset after its last write (WAIT)

    @property
    def db_index(self) -> int:
        return self.db.index

    @property
    def subscription_count(self) -> int:
        return len(self.channels) + len(self.patterns) + len(self.shard_channels)

    def update_gate(self) -> None:
        gate = 0
        if not self.authenticated and self.engine.requirepass is not None:
            gate |= GATE_NOAUTH
        if self.acl_restricted:
            gate |= GATE_ACL
        if self.multi is not None:
            gate |= GATE_MULTI
        if not self.resp3 and (self.channels or self.patterns or self.shard_channels):
            gate |= GATE_PUBSUB
        if self.kind == "script":
            gate |= GATE_LOCAL
        elif self.kind == "master":
            gate |= GATE_MASTER
        self.gate = gate

    # -- I/O, supplied by subclasses ------------------------------------------

    def send(self, value) -> None:
        """Write a reply outside the request/response flow (pushes, unblocked replies)."""

    def push(self, data: bytes) -> None:
        """Deliver an already encoded push frame (pub/sub); the encoding is chosen
        by the publisher from `resp3`, once for every subscriber of a protocol."""

    def close(self) -> None:
        """Close the connection (after what is already queued is written)."""
        self.closing = True

    def output_bytes(self) -> int:
        """Reply bytes not on the socket yet: this turn's pending output and what the
        socket did not take (CLIENT LIST omem, output buffer limits)."""
        return 0

    def unsent_bytes(self) -> int:
        """Reply bytes the socket did not take at the end of a turn (see Memory)."""
        return 0

    def reply_over_limit(self, nbytes: int) -> bool:
        """Would a reply of at least `nbytes` put this client over its hard output
        limit? If so the client is closed (as Redis closes it part way through
        such a reply) and the caller should not build the reply."""
        return False

    def query_buffer_bytes(self) -> int:
        return 0
