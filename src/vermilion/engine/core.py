"""The fields the per-request loop reads, and the compiled loop when it is built.

`vermilion._speedups` (a C extension, built at install time when a compiler is
available) runs Connection.data_received's fast path and Engine.execute's
common case without executing bytecode between commands. It reads a few fields
of the command-table row, the client and the engine at fixed offsets, so those
fields are declared here, once, as the base classes Command, Client and Engine
derive from: C types when the extension is present, equivalent ``__slots__``
classes otherwise. Everything else about those objects stays in Python.

Set ``VERMILION_PURE_PYTHON=1`` to ignore the extension (the test suite runs
the dispatch tests both ways).
"""
from __future__ import annotations

from .._native import native_module

speedups = native_module("_speedups")

if speedups is not None:
    CommandCore = speedups.CommandCore
    ClientCore = speedups.ClientCore
    EngineCore = speedups.EngineCore
else:
    class CommandCore:
        __slots__ = ("handler", "fullname", "subcommands", "arity", "is_readonly",
                     "skip_slowlog", "queued_in_multi", "runs_in_multi", "native", "calls", "usec")

    class ClientCore:
        __slots__ = ("gate", "reply_mode", "closing", "blocked", "last_command",
                     "engine", "db", "resp3", "batch", "pending", "server", "transport",
                     "parser", "authenticated", "last_interaction_ms",
                     "multi", "multi_error", "watching", "dirty_cas", "deny_blocking")

    class EngineCore:
        __slots__ = ("lookup", "busy", "dirty", "reading", "effects", "sinks",
                     "slowlog_threshold", "blocking", "reply_barrier", "clock", "stats",
                     "config", "notify_flags")

IMPLEMENTATION = "C" if speedups is not None else "Python"

# Command.native: a C twin of the handler runs the command's common case and
# hands everything else to the Python handler (see _speedups.c, native handlers).
NATIVE_NONE = 0
NATIVE_INCR = 1
NATIVE_XADD = 2
NATIVE_SET = 3
NATIVE_GET = 4
NATIVE_EXPIRE = 5
NATIVE_HSET = 6
NATIVE_EXEC = 7
NATIVE_ZRANK = 8
NATIVE_ZREVRANK = 9
NATIVE_ZPOPMIN = 10
NATIVE_ZPOPMAX = 11
NATIVE_MULTI = 12
NATIVE_ZADD = 13
