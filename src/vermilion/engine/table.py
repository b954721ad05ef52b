"""The command table: every command is declared once, next to its handler.

    @command("get", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="string",
             group="string", since="1.0.0", summary="Returns the string value of a key.")
    def get(client, args): ...

Dispatch reads the declaration for arity errors, flags (write, noscript, ...),
MULTI/Lua/pub-sub restrictions and key positions; COMMAND INFO/DOCS/GETKEYS
render the same declaration. Subcommands are declared as ``"config|get"``
under a container declared with ``container("config", ...)``.
"""
from __future__ import annotations

import itertools
from typing import Callable

from .argsyntax import parse as parse_arguments
from .core import CommandCore

# Every flag a declaration may use, in Redis's order. COMMAND INFO shows all but
# HIDDEN_FLAGS (Redis 7.0 hides these on purpose in addReplyCommandFlags).
FLAG_ORDER = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
    "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
    "fast", "no_auth", "may_replicate", "sentinel", "only_sentinel", "no_mandatory_keys",
    "protected", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
)

# Redis's ACL categories in the order COMMAND INFO lists them (acl.c's table).
CATEGORY_ORDER = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
    "dangerous", "connection", "transaction", "scripting",
)
HIDDEN_FLAGS = frozenset(("may_replicate", "sentinel", "only_sentinel", "protected"))

_CATEGORY_RANK = {c: i for i, c in enumerate(CATEGORY_ORDER)}


def _categories(flags: frozenset[str], own: list[str]) -> list[str]:
    """ACL categories: the ones Redis derives from flags plus the declared ones.

    A declared "dangerous" is kept (KEYS, FLUSHALL, SWAPDB are @dangerous without
    being admin); a readonly @scripting command (EVAL_RO) is not @read, as in
    setImplicitACLCategories; the result is in Redis's category order.
    """
    cats = [c for c, f in (("write", "write"), ("read", "readonly"), ("admin", "admin"),
                           ("pubsub", "pubsub")) if f in flags]
    if "scripting" in own and "read" in cats:
        cats.remove("read")
    cats += [c for c in own if c not in cats and c not in ("fast", "slow")]
    cats.append("fast" if "fast" in flags else "slow")
    if "blocking" in flags:
        cats.append("blocking")
    if "admin" in flags and "dangerous" not in cats:
        cats.append("dangerous")
    return sorted(cats, key=lambda c: _CATEGORY_RANK.get(c, len(CATEGORY_ORDER)))


_SPACE = b" \t\n\v\f\r"


def _atoi(arg: bytes) -> int:
    """C's atoi as glibc has it, (int) strtol(arg, NULL, 10): leading space, a sign and
    digits, 0 without digits, saturated to 64 bits then cut to a 32-bit int."""
    i, n = 0, len(arg)
    while i < n and arg[i] in _SPACE:
        i += 1
    j = i + 1 if i < n and arg[i] in b"+-" else i
    k = j
    while k < n and 48 <= arg[k] <= 57:
        k += 1
    if k == j:
        return 0
    value = max(min(int(arg[i:k]), 2**63 - 1), -(2**63))
    return (value + 2**31) % 2**32 - 2**31


def numkeys_keys(count_at: int, store_at: int = 0) -> Callable:
    """``getkeys`` of a ``numkeys key [key ...]`` command (EVAL, ZUNION, LMPOP, SINTERCARD ...).

    What Redis 7.0's keynum key spec and its genericGetKeys fallback find: the
    numkeys arguments after argv[count_at], preceded by argv[store_at] when given
    (ZUNIONSTORE's destination). numkeys is read with atoi; below 1 or more than
    the arguments left it gives no key at all (not even the destination), which
    COMMAND GETKEYS reports as "Invalid arguments specified for command".
    """
    first = count_at + 1

    def getkeys(args: list) -> list[int]:
        n = _atoi(args[count_at])
        if n < 1 or n > len(args) - first:
            return []
        keys = list(range(first, first + n))
        return [store_at, *keys] if store_at else keys
    return getkeys


# Command.acl_index: where a user's AclPlan for the command sits in its list (commands/acl.py).
_ACL_INDEX = itertools.count()


class Command(CommandCore):
    """One row of the command table (a command or a subcommand).

    The fields the dispatch loop reads (handler, fullname, subcommands, arity,
    is_readonly, skip_slowlog, calls, usec) are declared by CommandCore.
    """

    __slots__ = (
        "name", "flags", "first_key", "last_key", "key_step",
        "categories", "group", "since", "summary", "complexity", "tips", "getkeys",
        "parent", "arguments", "doc_flags", "deprecated_since", "replaced_by",
        "is_write", "denyoom", "noscript", "is_blocking", "is_pubsub",
        "loading_ok", "stale_ok", "no_multi", "allow_busy", "no_auth", "is_admin",
        "skip_monitor", "may_replicate", "rejected_calls", "failed_calls", "may_write",
    )

    def __init__(self, name, handler, arity, flags, keys, acl, group, since, summary,
                 complexity, tips, getkeys, args="", parent=None, doc_flags="",
                 deprecated_since="", replaced_by=""):
        self.acl_index = next(_ACL_INDEX)
        self.measure_key = 0        # set for collection writes (commands/memory.py)
        self.name = name
        self.parent = parent
        self.fullname = f"{parent.name}|{name}" if parent else name
        self.handler = handler
        self.arity = arity
        self.flags = frozenset(flags.split()) if isinstance(flags, str) else frozenset(flags)
        unknown = self.flags - set(FLAG_ORDER)
        if unknown:
            raise ValueError(f"{self.fullname}: unknown flags {sorted(unknown)}")
        self.first_key, self.last_key, self.key_step = keys
        if getkeys is not None and "movablekeys" not in self.flags:
            self.flags = self.flags | {"movablekeys"}
        own = acl.split() if isinstance(acl, str) else list(acl)
        self.categories = _categories(self.flags, [c.lstrip("@") for c in own])
        self.group = group
        self.since = since
        self.summary = summary
        self.complexity = complexity
        self.tips = tips
        self.getkeys = getkeys
        self.arguments = parse_arguments(args)
        self.doc_flags = doc_flags.split()
        self.deprecated_since = deprecated_since
        self.replaced_by = replaced_by
        self.subcommands: dict[bytes, Command] | None = None
        f = self.flags
        self.is_write = "write" in f
        self.is_readonly = "readonly" in f
        self.denyoom = "denyoom" in f
        self.noscript = "noscript" in f
        self.is_blocking = "blocking" in f
        self.is_pubsub = "pubsub" in f
        self.loading_ok = "loading" in f
        self.stale_ok = "stale" in f
        self.no_multi = "no_multi" in f
        self.allow_busy = "allow_busy" in f
        self.no_auth = "no_auth" in f
        self.is_admin = "admin" in f
        self.skip_monitor = "skip_monitor" in f
        self.skip_slowlog = "skip_slowlog" in f
        self.queued_in_multi = False    # decided by the transactions family
        self.may_replicate = "may_replicate" in f
        # Redis's getCommandFlags: EVAL/FCALL write or not depending on the script's
        # flags. None: the static flags say it (write or may_replicate).
        self.may_write: Callable | None = None
        self.reset_stats()

    def reset_stats(self) -> None:
        self.calls = 0
        self.usec = 0
        self.rejected_calls = 0
        self.failed_calls = 0
        self.histogram = None   # latency-tracking counters (types/latencyhistogram.py)

    def key_indexes(self, args: list[bytes]) -> list[int]:
        """Positions of the key arguments in `args` (args[0] is the command name)."""
        if self.getkeys is not None:
            return self.getkeys(args)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(args) + self.last_key
        return list(range(self.first_key, min(last, len(args) - 1) + 1, self.key_step))

    def __repr__(self):
        return f"<Command {self.fullname}>"


COMMANDS: dict[str, Command] = {}

# How many commands and subcommands have been declared (`command`, `container`): INFO's
# list of every command (commands/server.py) is made again when this moves.
declared = 0

# Every command and subcommand with a call, a rejected or failed call or a latency
# histogram since the start or the last CONFIG RESETSTAT (which empties it), as keys:
# INFO commandstats and latencystats, and each metrics scrape, read these instead of
# all 368 commands. Each path that counts a command's first such event adds it
# (Engine.call when `calls` is 0, `count_rejected`, the answer to a blocked client).
ACTIVE: dict[Command, None] = {}


def count_rejected(cmd: Command) -> None:
    """A call of `cmd` refused before it ran (INFO commandstats' rejected_calls)."""
    cmd.rejected_calls += 1
    ACTIVE[cmd] = None


def command(name: str, *, arity: int, flags: str = "", keys: tuple = (0, 0, 0), acl: str = "",
            group: str | None = None, since: str = "1.0.0", summary: str = "", complexity: str = "",
            tips: tuple = (), getkeys: Callable | None = None, args: str = "",
            doc_flags: str = "", deprecated_since: str = "", replaced_by: str = ""):
    """Declare a command (or ``container|sub`` subcommand) and register its handler.

    `args` is the command's arguments in the notation of engine/argsyntax.py (what
    COMMAND DOCS reports); `doc_flags` ("deprecated", "syscmd"), `deprecated_since`
    and `replaced_by` are COMMAND DOCS's notes. A subcommand's group is its
    container's unless given.
    """
    docs = dict(args=args, doc_flags=doc_flags, deprecated_since=deprecated_since,
                replaced_by=replaced_by)

    def register(handler):
        global declared
        declared += 1
        if "|" in name:
            parent_name, sub = name.split("|", 1)
            parent = COMMANDS[parent_name]
            cmd = Command(sub, handler, arity, flags, keys, acl, group or parent.group, since,
                          summary, complexity, tips, getkeys, parent=parent, **docs)
            parent.subcommands[sub.encode()] = cmd
        else:
            if name in COMMANDS:
                raise ValueError(f"command {name!r} declared twice")
            COMMANDS[name] = Command(name, handler, arity, flags, keys, acl, group or "generic",
                                     since, summary, complexity, tips, getkeys, **docs)
        return handler

    return register


def container(name: str, *, arity: int = -2, flags: str = "", group: str = "generic",
              since: str = "1.0.0", summary: str = "", acl: str = "", complexity: str = "",
              tips: tuple = ()) -> Command:
    """Declare a command that only dispatches to subcommands (CONFIG, CLIENT, XGROUP, ...)."""
    global declared
    cmd = Command(name, None, arity, flags, (0, 0, 0), acl, group, since, summary, complexity, tips,
                  None)
    cmd.subcommands = {}
    COMMANDS[name] = cmd
    declared += 1
    return cmd
