"""The fields the per-request path reads, declared once as slots.

`Command`, `Client` and `Engine` derive from these: the attributes that
`Connection.data_received`, `Engine.execute` and `Engine.call` touch for every
request live in ``__slots__`` (a fixed-offset read instead of a dictionary
lookup); everything else about those objects stays in ordinary attributes.

`AclPlan` is the one piece of logic here: the dispatch check of a restricted ACL
user, which `Engine.execute` calls directly (a C call when compiled).
"""
from __future__ import annotations

import time
from collections import deque


class CommandCore:
    __slots__ = ("handler", "fullname", "subcommands", "arity", "is_readonly",
                 "skip_slowlog", "queued_in_multi", "calls", "usec", "histogram",
                 "acl_index", "measure_key")


class ClientCore:
    __slots__ = ("gate", "reply_mode", "closing", "blocked", "last_command",
                 "engine", "db", "resp3", "batch", "pending", "server", "transport",
                 "parser", "authenticated", "last_interaction_ms",
                 "multi", "multi_error", "watching", "dirty_cas", "deny_blocking",
                 "acl_plans", "woff")


# INFO's counters. Declared here so that EngineCore.stats has a C layout: the
# keyspace counts a hit or a miss on every read.
class Stats:
    __slots__ = (
        "total_commands", "total_connections", "rejected_connections", "expired_keys",
        "evicted_keys", "keyspace_hits", "keyspace_misses", "net_input_bytes",
        "net_output_bytes", "error_replies", "unexpected_error_replies", "error_codes",
        "start_time", "ops_samples", "pubsub_messages", "evicted_clients",
    )

    def __init__(self):
        self.reset()
        self.start_time = time.time()
        self.ops_samples = deque(maxlen=16)

    def reset(self) -> None:
        self.total_commands = 0
        self.total_connections = 0
        self.rejected_connections = 0
        self.expired_keys = 0
        self.evicted_keys = 0
        self.evicted_clients = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.net_input_bytes = 0
        self.net_output_bytes = 0
        self.error_replies = 0
        self.unexpected_error_replies = 0
        self.error_codes: dict[bytes, int] = {}
        self.pubsub_messages = 0


class EngineCore:
    __slots__ = ("lookup", "busy", "dirty", "reading", "effects", "sinks",
                 "slowlog_threshold", "blocking", "reply_barrier", "clock", "stats",
                 "config", "notify_flags", "latency_tracking", "acl_gate", "replication")

    # Here rather than on Engine so that Database.get (typed EngineCore) calls it as a
    # C function: every GET of a missing key runs it.
    def keyspace_miss(self, db, key: bytes) -> None:
        """A read-only command looked up a missing key (INFO keyspace_misses, `keymiss`)."""
        self.stats.keyspace_misses += 1
        if self.notify_flags:
            self.notify(db, "m", b"keymiss", key)


class AclPlan:
    """What one user's dispatch check does for one command, decided once per rule
    change by commands/acl.py (`Acl._plan`).

    `passes` answers True only when the user may run the command with these
    arguments; False means "run the full check", which also finds the reason of a
    refusal. So a plan can speed up a check but never decide a refusal.

    An `allowed` plan passes whatever the arguments. A plan with `keys` lists, for
    each fixed key position, the patterns that grant the access the command needs
    there: (position, prefixes, matchers), `prefixes` a tuple of bytes when all of
    them are ``literal*`` globs, else None and `matchers` (compiled globs) are
    tried; `pos`/`prefix` hold the common case of one key and one prefix
    (``~app:*``). `nargs`, when not 0, is the only argument count the plan covers
    (SET key value). A plan with neither never passes.
    """
    __slots__ = ("allowed", "keyed", "nargs", "pos", "prefix", "keys")

    def __init__(self, allowed: bool = False, keys: tuple | None = None, nargs: int = 0):
        self.allowed = allowed
        self.keyed = keys is not None
        self.keys = keys or ()
        self.nargs = nargs
        self.pos = 0
        self.prefix = None
        if len(self.keys) == 1 and self.keys[0][1] is not None and len(self.keys[0][1]) == 1:
            self.pos = self.keys[0][0]
            self.prefix = self.keys[0][1][0]

    def passes(self, args: list) -> bool:
        if self.allowed:
            return True
        if not self.keyed or (self.nargs != 0 and len(args) != self.nargs):
            return False
        # Key positions are within the command's minimum arity (tests/unit/
        # test_acl_rules.py), which dispatch has checked: args[pos] exists, and
        # the client's arguments are bytes (the parser makes nothing else).
        prefix = self.prefix
        if prefix is not None:
            key = args[self.pos]
            n = len(prefix)
            if len(key) < n:
                return False
            # Compiled, k and p are the buffers of the two bytes (core.pxd): a C
            # loop over a few characters, cheaper than a call to bytes.startswith.
            k = key
            p = prefix
            for i in range(n):
                if k[i] != p[i]:
                    return False
            return True
        for pos, prefixes, matchers in self.keys:
            key = args[pos]
            if prefixes is not None:
                if not key.startswith(prefixes):
                    return False
            else:
                for match in matchers:
                    if match(key):
                        break
                else:
                    return False
        return True
