"""The fields the per-request path reads, declared once as slots.

`Command`, `Client` and `Engine` derive from these: the attributes that
`Connection.data_received`, `Engine.execute` and `Engine.call` touch for every
request live in ``__slots__`` (a fixed-offset read instead of a dictionary
lookup); everything else about those objects stays in ordinary attributes.
"""
from __future__ import annotations


class CommandCore:
    __slots__ = ("handler", "fullname", "subcommands", "arity", "is_readonly",
                 "skip_slowlog", "queued_in_multi", "calls", "usec", "histogram")


class ClientCore:
    __slots__ = ("gate", "reply_mode", "closing", "blocked", "last_command",
                 "engine", "db", "resp3", "batch", "pending", "server", "transport",
                 "parser", "authenticated", "last_interaction_ms",
                 "multi", "multi_error", "watching", "dirty_cas", "deny_blocking",
                 "acl_plans")


class EngineCore:
    __slots__ = ("lookup", "busy", "dirty", "reading", "effects", "sinks",
                 "slowlog_threshold", "blocking", "reply_barrier", "clock", "stats",
                 "config", "notify_flags", "latency_tracking", "acl_gate")
