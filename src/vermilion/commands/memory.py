"""MEMORY, and the per-engine wiring of memory accounting and maxmemory eviction.

The accounting and the eviction algorithm live in engine/memory.py; this module
connects them to dispatch:

* every write command on a collection type queues the keys it names, and
  they are measured again (``db.observe``) before the total is next read, so
  the ledger is current whenever eviction, INFO or MEMORY looks at it (those
  commands are marked in the command table when an engine is built, and
  whoever runs a handler, ``Engine.call`` or the AOF loader, queues the keys
  after it: ``Engine.measure_later``);
* while ``maxmemory`` is set, a BUSY_MAXMEMORY bit sends every command
  through the gatekeeper, whose first hook evicts as Redis's processCommand
  does, and refuses ``denyoom`` commands (and anything queued inside MULTI)
  with -OOM when nothing could be freed. With no maxmemory nothing of this
  runs.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import ClientCore, EngineCore
from ..engine.engine import BUSY_MAXMEMORY, extension
from ..engine.errors import SYNTAX, CommandError
from ..engine.memory import CLIENT_BASE, EXPIRE_ENTRY, KEY_SLOT, OOM_ERROR, Evictor, usage
from ..engine.replies import OK, Verbatim
from ..engine.table import COMMANDS, command, container
from ._args import parse_int
from ._help import help_reply

log = logging.getLogger("vermilion")

_COLLECTIONS = frozenset(("hash", "list", "set", "sortedset", "stream"))
_NOT_REFUSED_IN_MULTI = frozenset(("exec", "discard", "quit", "reset"))
_SCRIPT_COMMANDS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))


def _mark_collection_writes() -> None:
    """Give every write command on a collection its ``measure_key`` (the callers of
    handlers then queue the keys it names: ``Engine.measure_later``)."""
    rows = []
    for cmd in COMMANDS.values():
        rows.append(cmd)
        if cmd.subcommands:
            rows.extend(cmd.subcommands.values())
    for cmd in rows:
        if cmd.is_write and cmd.handler is not None and _COLLECTIONS.intersection(cmd.categories):
            fixed = cmd.getkeys is None and cmd.first_key > 0 and cmd.first_key == cmd.last_key
            cmd.measure_key = cmd.first_key if fixed else -1


# -- the OOM gate --------------------------------------------------------------------------------

def _script_denyoom(engine, cmd, args) -> bool:
    """EVAL/FCALL with declared flags are denyoom unless allow-oom or no-writes
    (Redis's scriptFlagsToCmdFlags); legacy scripts are checked per call."""
    scripts = getattr(engine, "scripts", None)
    if scripts is None or len(args) < 2:
        return False
    flags = scripts.declared_flags(cmd.name, args[1])
    if flags is None:
        return False
    return "allow-oom" not in flags and "no-writes" not in flags


@cython.locals(client=ClientCore, engine=EngineCore, evictor=Evictor)
def oom_gate(client, cmd, args):
    """The gate hook (the gatekeeper's path, when more than maxmemory gates commands);
    the engine calls the evictor's gate directly when only maxmemory does."""
    engine = client.engine
    if not engine.busy & BUSY_MAXMEMORY:
        return None
    evictor = engine.memory.evictor
    return evictor.gate(client, cmd, args)


def _clients_gate(client, cmd, args):
    """Client eviction before a command, as Redis's processCommand, with the command's
    arguments counted: the refusal when it evicted this very client. The clients' totals
    are taken again before every command (O(clients): the price of maxmemory-clients,
    which is off by default)."""
    engine = client.engine
    mem = engine.memory
    mem.argv_client = client
    mem.argv_bytes = sum(map(len, args))
    mem.refresh()
    mem.argv_client = None
    if getattr(client, "closing", False):
        return engine.reject(cmd, CommandError(b"ERR client evicted"))
    return None


def _oom_refusal(client, cmd, args):
    """Over maxmemory with nothing to free: -OOM for what Redis refuses, None otherwise."""
    engine = client.engine
    name = cmd.name
    reject = cmd.denyoom
    if name == "exec":
        queue = client.multi
        reject = bool(queue) and any(q[0].denyoom or (q[0].name in _SCRIPT_COMMANDS and
                                                      _script_denyoom(engine, q[0], q[1]))
                                     for q in queue)
    elif name in _SCRIPT_COMMANDS:
        reject = _script_denyoom(engine, cmd, args)
    if client.multi is not None and name not in _NOT_REFUSED_IN_MULTI and \
            (cmd.parent is None or cmd.parent.name not in _NOT_REFUSED_IN_MULTI):
        reject = True
    if reject:
        return engine.reject(cmd, CommandError(OOM_ERROR))
    return None


_EVICTION_SETTINGS = frozenset(("maxmemory", "maxmemory-policy", "maxmemory-clients",
                                "maxmemory-samples", "maxmemory-eviction-tenacity"))


def _apply(engine, changed=None) -> None:
    if changed is not None and not changed & _EVICTION_SETTINGS:
        return
    evictor = engine.memory.evictor
    evictor.configure()
    if evictor.clients_limit:
        engine.memory.refresh()         # a lowered limit evicts at once, as in Redis
    if engine.config["maxmemory"] or evictor.clients_limit:
        engine.busy |= BUSY_MAXMEMORY
    else:
        engine.busy &= ~BUSY_MAXMEMORY
        evictor.set_oom(False)
    if changed is not None and "maxmemory" in changed and evictor.maxmemory:
        # Redis's updateMaxmemory: a warning when the new limit is under the memory in
        # use, and eviction started right after the command (see Evictor.start_soon).
        used = engine.memory.counted()
        if used > evictor.maxmemory:
            log.warning("maxmemory set by CONFIG SET (%d) is under the memory in use (%d): "
                        "keys are evicted, or writes refused, as maxmemory-policy says",
                        evictor.maxmemory, used)
        evictor.start_soon()


@extension
def _setup(engine) -> None:
    _mark_collection_writes()
    evictor = engine.memory.evictor
    evictor.clients_gate = _clients_gate
    evictor.refusal = _oom_refusal
    engine.add_gate_hook(oom_gate, first=True)
    engine.memory_gate = evictor.gate
    engine.config.listeners.append(lambda changed=None, e=engine: _apply(e, changed))
    engine.add_cron_task(engine.memory.evictor.cron)
    _apply(engine)


def key_evicted_hook(engine, hook) -> None:
    """Register ``hook(db, key)``, called for every evicted key (client-side tracking)."""
    engine.memory.evictor.hooks.append(hook)


# -- MEMORY ---------------------------------------------------------------------------------------

_SPECIAL = ("nondeterministic_output", "request_policy:all_shards", "response_policy:special")

container("memory", arity=-2, summary="A container for memory diagnostics commands", since="4.0.0",
          group="server")


@command("memory|doctor", arity=2, flags="", acl="", since="4.0.0", group="server", tips=_SPECIAL,
         summary="Outputs a memory problems report.")
def memory_doctor(client, args):
    engine = client.engine
    mem = engine.memory
    used = mem.used()
    rss = mem_rss()
    keys = sum(len(db.data) for db in engine.dbs)
    lines = []
    if mem.ledger_total() < 5 * 1024 * 1024:
        lines.append("The dataset holds less than 5 MB: there is nothing to diagnose yet.")
    else:
        maxmemory = engine.config["maxmemory"]
        if maxmemory and mem.counted() > maxmemory:
            lines.append("* The dataset is over maxmemory (%d bytes): policy %s is evicting "
                         "or refusing writes." % (maxmemory, engine.config["maxmemory-policy"]))
        if mem.peak > used * 1.5:
            lines.append("* Peak memory: the peak (%d bytes) is more than 150%% of the current "
                         "use (%d bytes); freed memory may not have gone back to the system." %
                         (mem.peak, used))
        if rss > used * 1.4:
            lines.append("* High RSS overhead: the process holds %d bytes for %d counted; "
                         "MEMORY PURGE asks the allocator to give free pages back." % (rss, used))
        big_clients = [c for c in engine.clients.values() if _client_bytes(c) > 16 * 1024 * 1024]
        if big_clients:
            lines.append("* %d clients hold more than 16 MB of buffers each." % len(big_clients))
        if not lines:
            lines.append("No memory problems found (%d keys, %d bytes counted, %d resident)." %
                         (keys, used, rss))
    return Verbatim(("\n".join(lines) + "\n").encode())


def _client_bytes(client) -> int:
    try:
        return client.query_buffer_bytes() + client.output_bytes() + CLIENT_BASE
    except Exception:
        return 0


@command("memory|help", arity=2, flags="loading stale", acl="", since="4.0.0", group="server",
         summary="Returns helpful text about the different subcommands.")
def memory_help(client, args):
    return help_reply("MEMORY", [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ])
@command("memory|stats", arity=2, flags="", acl="", since="4.0.0", group="server", tips=_SPECIAL,
         summary="Returns details about memory usage.")
def memory_stats_command(client, args):
    stats = memory_stats(client.engine)
    if client.resp3:
        return stats
    flat: list = []
    for name, value in stats.items():
        flat.append(name)
        if isinstance(value, dict):
            inner: list = []
            for k, v in value.items():
                inner.extend((k, v))
            flat.append(inner)
        elif isinstance(value, float):
            flat.append(b"%.17g" % value)
        else:
            flat.append(value)
    return flat


@command("memory|usage", arity=-3, flags="readonly", keys=(2, 2, 1), acl="", since="4.0.0",
         group="server", summary="Estimates the memory usage of a key.",
         args="key:k0 [SAMPLES=count:i]")
def memory_usage(client, args):
    samples = 5
    j = 3
    while j < len(args):
        if args[j].lower() == b"samples" and j + 1 < len(args):
            samples = parse_int(args[j + 1])
            if samples < 0:
                raise CommandError(SYNTAX)
            j += 2
        else:
            raise CommandError(SYNTAX)
    db = client.db
    key = args[2]
    value = db.peek(key)
    if value is None:
        return None
    return usage(key, value, key in db.expires, samples)


def memory_stats(engine) -> dict:
    """MEMORY STATS's numbers, in Redis's order and names."""
    mem = engine.memory
    used = mem.used()
    scripts = mem.scripts
    clients = mem.clients
    replicas = mem.replicas_bytes()
    main, expires, access = mem.keys_overhead()
    out: dict = {
        b"peak.allocated": mem.peak, b"total.allocated": used, b"startup.allocated": mem.startup,
        b"replication.backlog": 0, b"clients.slaves": replicas, b"clients.normal": clients,
        b"cluster.links": 0, b"aof.buffer": mem.aof_bytes(), b"lua.caches": scripts,
        b"functions.caches": 0,
    }
    keys = 0
    for db in engine.dbs:
        if db.data:
            keys += len(db.data)
            out[b"db.%d" % db.index] = {
                b"overhead.hashtable.main": len(db.data) * KEY_SLOT,
                b"overhead.hashtable.expires": len(db.expires) * EXPIRE_ENTRY,
                b"overhead.hashtable.slot-to-keys": 0,
            }
    overhead = mem.startup + clients + replicas + scripts + out[b"aof.buffer"] + main + expires + access
    dataset = max(used - overhead, 0)
    net = used - mem.startup
    rss = mem_rss()
    out.update({
        b"overhead.total": overhead, b"keys.count": keys,
        b"keys.bytes-per-key": net // keys if keys else 0,
        b"dataset.bytes": dataset,
        b"dataset.percentage": float(dataset * 100 / net) if net > 0 else 0.0,
        b"peak.percentage": float(used * 100 / mem.peak) if mem.peak else 100.0,
        b"allocator.allocated": used, b"allocator.active": used, b"allocator.resident": rss,
        b"allocator-fragmentation.ratio": 1.0, b"allocator-fragmentation.bytes": 0,
        b"allocator-rss.ratio": float(rss / used) if used else 1.0,
        b"allocator-rss.bytes": rss - used,
        b"rss-overhead.ratio": 1.0, b"rss-overhead.bytes": 0,
        b"fragmentation": float(rss / used) if used else 1.0,
        b"fragmentation.bytes": rss - used,
    })
    return out


def mem_rss() -> int:
    from ..engine.memory import rss_bytes
    return rss_bytes()


@command("memory|malloc-stats", arity=2, flags="", acl="", since="4.0.0", group="server", tips=_SPECIAL,
         summary="Returns the allocator statistics.")
def memory_malloc_stats(client, args):
    engine = client.engine
    mem = engine.memory
    counts = gc.get_count()
    text = ("Vermilion runs on CPython's allocator (pymalloc for objects up to 512 bytes, the C "
            "library's malloc above); it keeps no statistics of its own like jemalloc's.\n"
            "resident bytes: %d\ncounted bytes (used_memory): %d\nresident bytes of the empty "
            "process: %d\ngc generation counts: %d %d %d\n" % (
                mem_rss(), mem.used(), mem.process_startup_rss, *counts))
    return Verbatim(text.encode())


_LIBC = None


@command("memory|purge", arity=2, flags="", acl="", since="4.0.0", group="server",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"),
         summary="Asks the allocator to release memory.")
def memory_purge(client, args):
    global _LIBC
    gc.collect()
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _LIBC.malloc_trim(0)
    except (OSError, AttributeError):
        pass        # no glibc: collecting garbage is all there is to do
    return OK


