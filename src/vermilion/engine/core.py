"""The fields the per-request path reads, declared once as slots.

`Command`, `Client` and `Engine` derive from these: the attributes that
`Connection.data_received`, `Engine.execute` and `Engine.call` touch for every
request live in ``__slots__`` (a fixed-offset read instead of a dictionary
lookup); everything else about those objects stays in ordinary attributes.
"""
from __future__ import annotations

import time
from collections import deque


class CommandCore:
    __slots__ = ("handler", "fullname", "subcommands", "arity", "is_readonly",
                 "skip_slowlog", "queued_in_multi", "calls", "usec", "histogram")


class ClientCore:
    __slots__ = ("gate", "reply_mode", "closing", "blocked", "last_command",
                 "engine", "db", "resp3", "batch", "pending", "server", "transport",
                 "parser", "authenticated", "last_interaction_ms",
                 "multi", "multi_error", "watching", "dirty_cas", "deny_blocking",
                 "acl_plans")


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
                 "config", "notify_flags", "latency_tracking", "acl_gate")

    # Here rather than on Engine so that Database.get (typed EngineCore) calls it as a
    # C function: every GET of a missing key runs it.
    def keyspace_miss(self, db, key: bytes) -> None:
        """A read-only command looked up a missing key (INFO keyspace_misses, `keymiss`)."""
        self.stats.keyspace_misses += 1
        if self.notify_flags:
            self.notify(db, "m", b"keymiss", key)
