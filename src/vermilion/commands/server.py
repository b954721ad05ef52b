"""Server commands: INFO, CONFIG, COMMAND, TIME, SHUTDOWN, MONITOR, SLOWLOG, LATENCY, DEBUG."""
from __future__ import annotations

import logging
import os
import platform
import resource
import sys
import time

from .. import REDIS_VERSION, __version__
from ..config import ConfigError, canonical, format_percentile
from ..engine.engine import extension
from ..engine.errors import SYNTAX, CommandError, subcommand_syntax
from ..engine.keyspecs import SPECS, key_flags
from ..engine.memory import rss_bytes
from ..engine.replies import NO_REPLY, OK, RespSet, Status, Verbatim
from ..engine import table
from ..engine.table import ACTIVE, COMMANDS, FLAG_ORDER, HIDDEN_FLAGS, command, container
from ..observe.reading import command_activity
from ..persistence.manager import LOADING_ERROR
from ..types import latencyhistogram
from ._args import parse_int
from ._help import help_reply

log = logging.getLogger("vermilion")

# -- INFO -----------------------------------------------------------------------------------

DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication",
                    "cpu", "modules", "errorstats", "cluster", "keyspace")
ALL_SECTIONS = DEFAULT_SECTIONS[:-3] + ("commandstats", "errorstats", "latencystats",
                                        "cluster", "keyspace")
RUN_ID = os.urandom(20).hex()
def human(n: float) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return f"{n:.2f}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return str(n)


# (os, python_version) of the server section: fixed for the life of the process,
# and platform's functions are slow to call (a metrics scrape reads the section).
_platform_fields: tuple = ()


def _server_read(engine) -> tuple:
    server = engine.server
    now = time.time()
    return (now, time.time_ns(), int(now - engine.stats.start_time),
            server.port if server else engine.config["port"], engine.config["hz"],
            engine.config.file or "")


def _server_fields(read: tuple) -> list:
    global _platform_fields
    if not _platform_fields:
        _platform_fields = (f"{platform.system()} {platform.release()} {platform.machine()}",
                            platform.python_version())
    os_name, python_version = _platform_fields
    now, now_ns, uptime, port, hz, config_file = read
    return [
        ("redis_version", REDIS_VERSION), ("redis_git_sha1", "00000000"), ("redis_git_dirty", 0),
        ("redis_build_id", "vermilion-" + __version__), ("redis_mode", "standalone"),
        ("os", os_name),
        ("arch_bits", 64), ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll"), ("atomicvar_api", "c11-builtin"), ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()), ("process_supervised", "no"), ("run_id", RUN_ID),
        ("tcp_port", port),
        ("server_time_usec", now_ns // 1000), ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400), ("hz", hz),
        ("configured_hz", hz), ("lru_clock", int(now) & 0xFFFFFF),
        ("executable", sys.executable), ("config_file", config_file),
        ("io_threads_active", 0), ("vermilion_version", __version__),
        ("python_version", python_version),
    ]


def _clients_section(engine):
    clients = list(engine.clients.values())
    blocked = sum(1 for c in clients if c.blocked is not None)
    # Redis blocks a client held by CLIENT PAUSE (BLOCKED_POSTPONE), without a timeout.
    paused = len(engine.paused_clients)
    return [
        ("connected_clients", len(clients)), ("cluster_connections", 0),
        ("maxclients", engine.config["maxclients"]),
        ("client_recent_max_input_buffer", max((c.query_buffer_bytes() for c in clients), default=0)),
        ("client_recent_max_output_buffer", max((c.output_bytes() for c in clients), default=0)),
        ("blocked_clients", blocked + paused), ("tracking_clients", engine.tracking.count),
        ("clients_in_timeout_table", blocked),
    ]


def _memory_read(engine, rss: int | None = None) -> tuple:
    """What INFO memory reads of the engine. used_memory is the accounted total
    (engine/memory.py): an empty server's baseline, the data, clients, buffers;
    used_memory_rss is measured (`rss`: measured by the caller, which a metrics
    scrape does off the loop)."""
    mem = engine.memory
    scripts = getattr(engine, "scripts", None)
    # The scripting engine's numbers are read once (each read asks both Lua VMs),
    # for the fields and for used_memory.
    sinfo = scripts.info() if scripts is not None else None
    used = mem.used(sinfo)
    config = engine.config
    return (used, mem.peak, rss_bytes() if rss is None else rss, config["maxmemory"],
            config["maxmemory-policy"], sinfo if sinfo is not None else {}, mem.clients,
            mem.replicas_bytes(), mem.keys_overhead(), mem.aof_bytes(), mem.startup,
            engine.replication.backlog_bytes(), mem.lazyfree.pending, mem.lazyfree.freed)


def _memory_fields(read: tuple) -> list:
    """Redis 7.0's fields."""
    (used, peak, rss, maxmemory, policy, sinfo, clients, replicas, (main, expires, access), aof,
     startup, backlog, lazy_pending, lazy_freed) = read
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    lua = sinfo.get("used_memory_lua", 0)
    vm_total = sinfo.get("used_memory_vm_total", 0)
    scripts_mem = sinfo.get("used_memory_scripts", 0)
    overhead = startup + clients + replicas + scripts_mem + aof + main + expires + access
    dataset = max(used - overhead, 0)
    net = used - startup
    frag = rss / used if used else 1.0
    return [
        ("used_memory", used), ("used_memory_human", human(used)),
        ("used_memory_rss", rss), ("used_memory_rss_human", human(rss)),
        ("used_memory_peak", peak), ("used_memory_peak_human", human(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (100.0 * used / peak if peak else 100)),
        ("used_memory_overhead", overhead), ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", "%.2f%%" % (100.0 * dataset / net if net > 0 else 0)),
        ("allocator_allocated", used), ("allocator_active", used), ("allocator_resident", rss),
        ("total_system_memory", total), ("total_system_memory_human", human(total)),
        ("used_memory_lua", lua), ("used_memory_vm_eval", sinfo.get("used_memory_vm_eval", 0)),
        ("used_memory_lua_human", human(lua)),
        ("used_memory_scripts_eval", sinfo.get("used_memory_scripts_eval", 0)),
        ("number_of_cached_scripts", sinfo.get("number_of_cached_scripts", 0)),
        ("number_of_functions", sinfo.get("number_of_functions", 0)),
        ("number_of_libraries", sinfo.get("number_of_libraries", 0)),
        ("used_memory_vm_functions", sinfo.get("used_memory_vm_functions", 0)),
        ("used_memory_vm_total", vm_total), ("used_memory_vm_total_human", human(vm_total)),
        ("used_memory_functions", sinfo.get("used_memory_functions", 0)),
        ("used_memory_scripts", scripts_mem), ("used_memory_scripts_human", human(scripts_mem)),
        ("maxmemory", maxmemory), ("maxmemory_human", human(maxmemory)),
        ("maxmemory_policy", policy),
        ("allocator_frag_ratio", "1.00"), ("allocator_frag_bytes", 0),
        ("allocator_rss_ratio", "%.2f" % frag), ("allocator_rss_bytes", rss - used),
        ("rss_overhead_ratio", "1.00"), ("rss_overhead_bytes", 0),
        ("mem_fragmentation_ratio", "%.2f" % frag), ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", replicas + aof),
        ("mem_replication_backlog", backlog),
        ("mem_total_replication_buffers", backlog),
        ("mem_clients_slaves", replicas), ("mem_clients_normal", clients), ("mem_cluster_links", 0),
        ("mem_aof_buffer", aof), ("mem_allocator", "pymalloc"), ("active_defrag_running", 0),
        ("lazyfree_pending_objects", lazy_pending),
        ("lazyfreed_objects", lazy_freed),
    ]


def _persistence_section(engine):
    info = [
        ("loading", int(bool(getattr(engine, "loading", False)))), ("async_loading", 0),
        ("rdb_changes_since_last_save", engine.dirty), ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", engine.lastsave), ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", -1), ("rdb_current_bgsave_time_sec", -1), ("rdb_saves", 0),
        ("aof_enabled", int(engine.config["appendonly"])), ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0), ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1), ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0), ("aof_last_write_status", "ok"),
    ]
    provider = getattr(engine, "persistence_info", None)
    if provider is not None:
        return list(provider())     # persistence/manager.py: every field, in Redis's order
    return info


def _stats_read(engine) -> tuple:
    s = engine.stats
    forks = getattr(engine, "persistence", None)    # persistence/manager.py, when running
    pubsub = engine.pubsub
    repl = engine.replication
    tracking = engine.tracking
    return (s.total_connections, s.total_commands, engine.ops_per_sec(),
            s.net_input_bytes, s.net_output_bytes, s.rejected_connections, repl.sync_full,
            repl.sync_partial_ok, repl.sync_partial_err, s.expired_keys, s.evicted_keys,
            s.evicted_clients, engine.memory.evictor.exceeded_ms(), s.keyspace_hits, s.keyspace_misses,
            pubsub.channel_count() if pubsub else 0, pubsub.pattern_count() if pubsub else 0,
            pubsub.shard_channel_count() if pubsub else 0,
            forks.fork_usec if forks is not None else 0, forks.total_forks if forks is not None else 0,
            len(engine.migrate_sockets.cached), tracking.total_keys(), tracking.items,
            tracking.total_prefixes(), s.unexpected_error_replies, s.error_replies)


def _stats_fields(read: tuple) -> list:
    (connections, commands, ops, net_in, net_out, rejected, sync_full, sync_ok, sync_err, expired,
     evicted, evicted_clients, exceeded, hits, misses, channels, patterns, shard_channels, fork_usec,
     forks, migrate, tracking_keys, tracking_items, tracking_prefixes, unexpected, errors) = read
    return [
        ("total_connections_received", connections),
        ("total_commands_processed", commands),
        ("instantaneous_ops_per_sec", ops),
        ("total_net_input_bytes", net_in), ("total_net_output_bytes", net_out),
        ("instantaneous_input_kbps", "0.00"), ("instantaneous_output_kbps", "0.00"),
        ("rejected_connections", rejected), ("sync_full", sync_full),
        ("sync_partial_ok", sync_ok),
        ("sync_partial_err", sync_err), ("expired_keys", expired), ("expired_stale_perc", "0.00"),
        ("expired_time_cap_reached_count", 0), ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", evicted), ("evicted_clients", evicted_clients),
        ("total_eviction_exceeded_time", exceeded[0]), ("current_eviction_exceeded_time", exceeded[1]),
        ("keyspace_hits", hits), ("keyspace_misses", misses),
        ("pubsub_channels", channels),
        ("pubsub_patterns", patterns),
        ("pubsubshard_channels", shard_channels),
        ("latest_fork_usec", fork_usec),
        ("total_forks", forks),
        ("migrate_cached_sockets", migrate),
        ("tracking_total_keys", tracking_keys),
        ("tracking_total_items", tracking_items),
        ("tracking_total_prefixes", tracking_prefixes),
        ("unexpected_error_replies", unexpected),
        ("total_error_replies", errors),
    ]


def _replication_section(engine):
    repl = engine.replication
    repl.flush()
    config = engine.config
    out = [("role", repl.role)]
    if repl.role != "master" and repl.replica_info is not None:
        out += repl.replica_info()
    out.append(("connected_slaves", len(repl.replicas)))
    if config["min-replicas-to-write"] and config["min-replicas-max-lag"]:
        out.append(("min_slaves_good_slaves", repl.good_replicas(engine.clock.ms())))
    now_s = engine.clock.ms() // 1000
    for i, link in enumerate(repl.replicas.values()):
        lag = now_s - link.ack_time_ms // 1000 if link.state == "online" else 0
        out.append((f"slave{i}", f"ip={link.address()},port={link.listening_port},state={link.state},"
                                 f"offset={link.ack_offset},lag={lag}"))
    backlog = repl.backlog
    out += [
        ("master_failover_state", repl.failover_state),
        ("master_replid", repl.replid), ("master_replid2", repl.replid2),
        ("master_repl_offset", repl.master_repl_offset),
        ("second_repl_offset", repl.second_replid_offset),
        ("repl_backlog_active", int(backlog is not None)),
        ("repl_backlog_size", config["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", backlog.first_offset if backlog is not None else 0),
        ("repl_backlog_histlen", backlog.histlen if backlog is not None else 0),
    ]
    return out


def _cpu_read(engine, usage: tuple | None = None) -> tuple:
    """`usage`: the process's and its children's getrusage(), when the caller read
    them (a metrics scrape does, off the loop)."""
    return usage if usage is not None else cpu_usage()


def _cpu_fields(usage: tuple) -> list:
    me, kids = usage
    return [
        ("used_cpu_sys", "%.6f" % me.ru_stime), ("used_cpu_user", "%.6f" % me.ru_utime),
        ("used_cpu_sys_children", "%.6f" % kids.ru_stime),
        ("used_cpu_user_children", "%.6f" % kids.ru_utime),
        ("used_cpu_sys_main_thread", "%.6f" % me.ru_stime),
        ("used_cpu_user_main_thread", "%.6f" % me.ru_utime),
    ]


def cpu_usage() -> tuple:
    return resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)


# (table.declared when made, every command and subcommand, the containers, each
# command's place in that order): INFO's commandstats and latencystats list commands
# in this order. A tuple walks several times faster than a generator. Made again
# when a command or a subcommand is declared.
_listed: tuple = (-1, (), (), {})

# (the _listed it was sorted by, len(ACTIVE), the active commands in that order):
# ACTIVE only grows between two CONFIG RESETSTATs (which forget this), so while it
# holds as many commands it holds the same ones, and a metrics scrape or INFO does not
# sort them again.
_active_order: tuple = ((), -1, ())


def _all_commands() -> tuple:
    return _listing()[1]


def _listing() -> tuple:
    global _listed
    if _listed[0] != table.declared:
        stamp = table.declared
        out = []
        containers = []
        for cmd in COMMANDS.values():
            out.append(cmd)
            if cmd.subcommands is not None:
                containers.append(cmd)
                out.extend(cmd.subcommands.values())
        commands = tuple(out)
        _listed = (stamp, commands, containers, {cmd: i for i, cmd in enumerate(commands)})
    return _listed


def commands_activity() -> tuple:
    """observe.reading.command_activity of the commands that were active (the
    table's ACTIVE), in the order of every command's list."""
    global _active_order
    listed = _listing()
    known, count, ordered = _active_order
    if count != len(ACTIVE) or known is not listed:
        places = listed[3]
        last = len(places)
        ordered = tuple(sorted(ACTIVE, key=lambda cmd: places.get(cmd, last)))
        _active_order = (listed, len(ACTIVE), ordered)
    return command_activity(ordered)


def _commandstats_read(engine, activity: tuple | None = None) -> list:
    return [(cmd.fullname, cmd.calls, cmd.usec, cmd.rejected_calls, cmd.failed_calls)
            for cmd in (activity or commands_activity())[0]]


def _commandstats_fields(read: list) -> list:
    out = []
    for fullname, calls, usec, rejected, failed in read:
        per_call = usec / calls if calls else 0
        out.append((f"cmdstat_{fullname}", (f"calls={calls},usec={usec},usec_per_call={per_call:.2f},"
                                            f"rejected_calls={rejected},failed_calls={failed}")))
    return out


def _commandstats_section(engine):
    return _commandstats_fields(_commandstats_read(engine))


# Each command's INFO latencystats line, kept while its call count and time are
# unchanged (CONFIG RESETSTAT forgets them): reading the percentiles scans 4,096
# slots, and a metrics scrape (observe/metrics.py) reads this section every few
# seconds. A command that can block is counted in its histogram when answered,
# after its calls and time were (engine/blocking.py): its line is kept while its
# counters' bytes are the same.
_latency_lines: dict[str, tuple[tuple, str]] = {}


def latency_inputs(engine, activity: tuple | None = None) -> list[tuple]:
    """What INFO latencystats reads of the engine, per command with a histogram:
    (name, stamp, its kept line, or None and a copy of its histogram). A metrics
    scrape takes this on the loop (a 32 KB copy per command whose calls changed)
    and computes the lines (`latency_lines`) in its own thread."""
    percentiles = tuple(engine.config["latency-tracking-info-percentiles"])
    out = []
    for cmd in (activity or commands_activity())[1]:
        counts = cmd.histogram
        stamp: tuple = (cmd.calls, cmd.usec, cmd.failed_calls, percentiles)
        taken = None
        if cmd.is_blocking or cmd.fullname == "wait":
            # The counters' bytes are the stamp, and the copy the line is computed
            # from when they changed (one copy, not two).
            taken = latencyhistogram.snapshot(counts)
            stamp += (taken,)
        known = _latency_lines.get(cmd.fullname)
        if known is not None and known[0] == stamp:
            out.append((cmd.fullname, stamp, known[1], None))
        else:
            out.append((cmd.fullname, stamp, None, taken if taken is not None else latencyhistogram.copy(counts)))
    return out


def latency_lines(inputs: list[tuple]) -> list[tuple[str, str]]:
    """INFO latencystats' fields from `latency_inputs`; the lines computed are kept."""
    out = []
    for name, stamp, line, counts in inputs:
        if line is None:
            percentiles = stamp[3]
            values = latencyhistogram.percentiles(counts, percentiles)
            line = ",".join("p%s=%.3f" % (format_percentile(p), v / 1000)
                            for p, v in zip(percentiles, values))
            _latency_lines[name] = (stamp, line)
        out.append((f"latency_percentiles_usec_{name}", line))
    return out


def _latencystats_section(engine):
    return latency_lines(latency_inputs(engine))


def _errorstats_section(engine):
    # Redis keeps the codes in a radix tree: INFO lists them in byte order.
    return [(f"errorstat_{code.decode('utf-8', 'replace')}", f"count={n}")
            for code, n in sorted(engine.stats.error_codes.items())]


def mean_ttl(whens, now: int) -> int:
    """INFO keyspace's avg_ttl: the mean of the remaining TTLs (`whens`: absolute
    ms), keys already past theirs left out (`avg_ttl` is this in O(1) when none
    is). A metrics scrape computes it from a copy, off the loop (observe/metrics.py)."""
    if whens and min(whens) > now:
        return (sum(whens) - now * len(whens)) // len(whens)
    ttls = [w - now for w in whens if w > now]
    return sum(ttls) // len(ttls) if ttls else 0


def avg_ttl(db, now: int) -> int | None:
    """INFO keyspace's avg_ttl of `db` in O(1), from the running sum of its TTLs
    (`Database.ttl_sum`), when every TTL is ahead: the expiry heap's nearest
    deadline is (a stale heap entry's is no later than the live one it was
    replaced by). None otherwise: then `mean_ttl` of the TTLs leaves out the keys
    already past theirs but not deleted yet."""
    n = len(db.expires)
    if not n:
        return 0
    heap = db.heap
    if heap and heap[0][0] > now:
        return (db.ttl_sum - now * n) // n
    return None


def _keyspace_section(engine):
    out = []
    now = engine.clock.ms()
    for db in engine.dbs:
        if db.data:
            avg = avg_ttl(db, now)
            if avg is None:
                avg = mean_ttl(db.expires.values(), now)
            out.append((f"db{db.index}", f"keys={len(db.data)},expires={len(db.expires)},avg_ttl={avg}"))
    return out


# Sections read in two steps: `read(engine, ...)` copies plain values from the
# engine, `fields(values)` formats them. A metrics scrape runs the first on the
# server's loop and the second in its own thread (observe/metrics.py); INFO runs both.
READINGS = {"server": (_server_read, _server_fields), "memory": (_memory_read, _memory_fields),
            "stats": (_stats_read, _stats_fields),
            "commandstats": (_commandstats_read, _commandstats_fields), "cpu": (_cpu_read, _cpu_fields)}


def _server_section(engine):
    return _server_fields(_server_read(engine))


def _memory_section(engine, rss: int | None = None):
    return _memory_fields(_memory_read(engine, rss))


def _stats_section(engine):
    return _stats_fields(_stats_read(engine))


def _cpu_section(engine, usage: tuple | None = None):
    return _cpu_fields(_cpu_read(engine, usage))


SECTIONS = {
    "server": _server_section, "clients": _clients_section, "memory": _memory_section,
    "persistence": _persistence_section, "stats": _stats_section,
    "replication": _replication_section, "cpu": _cpu_section, "modules": lambda e: [],
    "commandstats": _commandstats_section, "errorstats": _errorstats_section,
    "latencystats": _latencystats_section, "cluster": lambda e: [("cluster_enabled", 0)],
    "keyspace": _keyspace_section,
}


def render_info(engine, wanted: list[str]) -> bytes:
    if not wanted or wanted == ["default"]:
        names = list(DEFAULT_SECTIONS)
    else:
        names = []
        for w in wanted:
            if w in ("all", "everything"):
                names += [n for n in ALL_SECTIONS if n not in names]
            elif w == "default":
                names += [n for n in DEFAULT_SECTIONS if n not in names]
            elif w in SECTIONS and w not in names:
                names.append(w)
    blocks = []
    for name in names:
        lines = ["# " + ("CPU" if name == "cpu" else name.capitalize())]
        lines += [f"{k}:{v}" for k, v in SECTIONS[name](engine)]
        blocks.append("\r\n".join(lines))
    text = "\r\n\r\n".join(blocks)
    return (text + "\r\n").encode() if text else b""


@command("info", arity=-1, flags="loading stale", acl="dangerous", group="server",
         summary="Returns information and statistics about the server.",
         args="[section...]",
         tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"))
def info(client, args):
    wanted = [a.decode("utf-8", "replace").lower() for a in args[1:]]
    return Verbatim(render_info(client.engine, wanted))


# -- CONFIG -------------------------------------------------------------------------------------

container("config", arity=-2, group="server", summary="A container for server configuration commands.",
          since="2.0.0")


@command("config|get", arity=-3, flags="admin noscript loading stale", acl="",
         summary="Returns the effective values of configuration parameters.",
         args="parameter(parameter)...",
         since="2.0.0")
def config_get(client, args):
    config = client.engine.config
    result: dict[bytes, bytes] = {}
    for pattern in args[2:]:
        for name, value in config.matching(pattern.decode("utf-8", "replace")):
            result[name.encode()] = value.encode()
    return result


# Refused while a dataset loads (the async load of a replica that serves its old data:
# CONFIG SET is otherwise allowed during a load), as Redis's DENY_LOADING_CONFIG.
DENY_LOADING_CONFIGS = frozenset(("appendonly", "repl-diskless-load", "dir"))


@command("config|set", arity=-4, flags="admin noscript loading stale", acl="",
         summary="Sets configuration parameters in-flight.",
         args="parameter_value(parameter value)...",
         since="2.0.0",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def config_set(client, args):
    if len(args) % 2:
        raise CommandError("ERR wrong number of arguments for 'config|set' command")
    pairs = [(args[i].decode("utf-8", "replace"), args[i + 1].decode("utf-8", "surrogateescape"))
             for i in range(2, len(args), 2)]
    engine = client.engine
    persistence = getattr(engine, "persistence", None)
    if persistence is not None and persistence.loading and \
            any(name.lower() in DENY_LOADING_CONFIGS for name, _ in pairs):
        raise CommandError(LOADING_ERROR.message.decode())
    try:
        config = engine.config
        config.set_many(pairs, protected_ok=allow_protected_action(
            config["enable-protected-configs"], client))
    except ConfigError as err:
        raise CommandError("ERR " + str(err)) from None
    return OK


@command("config|resetstat", arity=2, flags="admin noscript loading stale", acl="",
         summary="Resets the server's statistics.",
         since="2.0.0")
def config_resetstat(client, args):
    global _active_order
    engine = client.engine
    engine.stats.reset()
    engine.replication.reset_stats()
    engine.memory.lazyfree.freed = 0
    for cmd in _all_commands():
        cmd.reset_stats()
    ACTIVE.clear()
    _active_order = ((), -1, ())
    _latency_lines.clear()
    engine.slowlog.clear()
    return OK


@command("config|rewrite", arity=2, flags="admin noscript loading stale", acl="",
         summary="Persists the effective configuration to file.",
         since="2.8.0")
def config_rewrite(client, args):
    config = client.engine.config
    if not config.file:
        raise CommandError("ERR The server is running without a config file")
    try:
        rewrite_config_file(config, _acl_user_lines(client), force_all=args[1].lower() != b"rewrite")
    except OSError as err:
        raise CommandError(f"ERR Rewriting config file: {err.strerror}") from None
    return OK


def _acl_user_lines(client) -> list[str]:
    """The `user` lines CONFIG REWRITE writes: the ACL users, unless an aclfile keeps them."""
    if client.engine.config["aclfile"]:
        return []
    acl = client.engine.acl
    return [acl.describe(u).encode("latin-1").decode("utf-8", "surrogateescape")
            for u in acl.sorted_users()]


def rewrite_config_file(config, users: list[str] | None = None, force_all: bool = False) -> None:
    """Keep the user's lines and comments; update changed directives in place, append new ones.

    `user` lines are replaced by `users` (the current ACL users, as Redis writes them
    when no aclfile is set) where the first one was, or appended. `force_all` writes
    every directive, defaults included (DEBUG CONFIG-REWRITE-FORCE-ALL)."""
    from ..config import TABLE, Config
    defaults = Config()
    with open(config.file, encoding="utf-8", errors="surrogateescape") as fh:
        lines = fh.read().splitlines()
    seen = set()
    out = []
    users = list(users or ())
    for line in lines:
        words = line.strip().split(None, 1)
        if words and words[0].lower() == "user":
            out.extend(users)
            users = []
            continue
        key = canonical(words[0]) if words and not words[0].startswith("#") else None
        if key is None or key == "include":
            out.append(line)
            continue
        if key in seen:
            continue
        seen.add(key)
        out.append(f"{key} {_conf_quote(config.render(key))}")
    # (a master has no replicaof line, whatever force_all says: Redis writes none either)
    changed = [k for k in TABLE if k not in seen and
               (force_all and (k != "replicaof" or config.render(k))
                or config.render(k) != defaults.render(k))]
    if changed or users:
        out.append("# Generated by CONFIG REWRITE")
        out += [f"{k} {_conf_quote(config.render(k))}" for k in changed]
        out += users
    tmp = config.file + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write("\n".join(out) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, config.file)


def _conf_quote(value: str) -> str:
    if value == "" or any(c in value for c in " \t\"'\\"):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


@command("config|help", arity=2, flags="loading stale", acl="", summary="Returns helpful text about the different subcommands.",
         since="5.0.0")
def config_help(client, args):
    return help_reply("CONFIG", [
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "RESETSTAT", "    Reset statistics reported by the INFO command.",
        "REWRITE", "    Rewrite the configuration file.",
    ])


# -- COMMAND ----------------------------------------------------------------------------------

container("command", arity=-1, flags="loading stale", acl="connection", group="server",
          summary="Returns detailed information about all commands.",
          since="2.8.13",
          tips=("nondeterministic_output_order",))


_BEGIN = {"i": (b"index", (b"index",)), "k": (b"keyword", (b"keyword", b"startfrom")),
          "u": (b"unknown", ())}
_FIND = {"r": (b"range", (b"lastkey", b"keystep", b"limit")),
         "n": (b"keynum", (b"keynumidx", b"firstkey", b"keystep")), "u": (b"unknown", ())}
_EXTRA_FLAGS = ((b"N", b"not_key"), (b"I", b"incomplete"), (b"V", b"variable_flags"))


def _key_specs(cmd) -> list:
    """COMMAND INFO's key specs, from the key-spec table ACL reads (engine/keyspecs.py).
    Redis's free-text notes on a few specs are not reproduced."""
    out = []
    for begin, find, access, extra in SPECS.get(cmd.fullname, ()):
        flags = [Status(w.encode()) for w in access.split()]
        flags += [Status(word) for code, word in _EXTRA_FLAGS if code.decode() in extra]
        parts = []
        for row, kinds in ((begin, _BEGIN), (find, _FIND)):
            kind, fields = kinds[row[0]]
            parts.append({b"type": kind, b"spec": dict(zip(fields, row[1:]))})
        out.append({b"flags": RespSet(flags), b"begin_search": parts[0], b"find_keys": parts[1]})
    return out


def command_info(cmd) -> list:
    """One COMMAND INFO entry. first/last/step are the declared ``keys``: Redis's legacy
    range, which a command with movable keys also has when its first key is fixed
    (ZUNIONSTORE's destination: 1 1 1; EVAL, XREAD: 0 0 0)."""
    flags = RespSet([Status(f.encode()) for f in FLAG_ORDER if f in cmd.flags and f not in HIDDEN_FLAGS])
    cats = RespSet([Status(b"@" + c.encode()) for c in cmd.categories])
    subs = [command_info(s) for s in cmd.subcommands.values()] if cmd.subcommands else []
    # Redis replies with sets for the key specs and for "no subcommands".
    return [cmd.fullname.encode(), cmd.arity, flags, cmd.first_key, cmd.last_key, cmd.key_step, cats,
            RespSet([t.encode() for t in cmd.tips]), RespSet(_key_specs(cmd)), subs or RespSet()]


def _argument_docs(args: list) -> list:
    out = []
    for arg in args:
        doc = {}
        for field, value in arg.items():
            if field == "flags":
                value = RespSet([Status(f.encode()) for f in value])
            elif field == "arguments":
                value = _argument_docs(value)
            elif value.__class__ is str:
                value = value.encode()
            doc[field.encode()] = value
        out.append(doc)
    return out


def command_docs(cmd) -> dict:
    """COMMAND DOCS of one command, fields in Redis's order. History notes are not
    kept (docs/compatibility.md)."""
    doc = {b"summary": cmd.summary.encode(), b"since": cmd.since.encode(),
           b"group": cmd.group.encode()}
    if cmd.complexity:
        doc[b"complexity"] = cmd.complexity.encode()
    if cmd.doc_flags:
        doc[b"doc_flags"] = RespSet([Status(f.encode()) for f in cmd.doc_flags])
    if cmd.deprecated_since:
        doc[b"deprecated_since"] = cmd.deprecated_since.encode()
    if cmd.replaced_by:
        doc[b"replaced_by"] = cmd.replaced_by.encode()
    if cmd.arguments:
        doc[b"arguments"] = _argument_docs(cmd.arguments)
    if cmd.subcommands:
        doc[b"subcommands"] = {s.fullname.encode(): command_docs(s) for s in cmd.subcommands.values()}
    return doc


@command("command|count", arity=2, flags="loading stale", acl="connection", summary="Returns a count of commands.",
         since="2.8.13")
def command_count(client, args):
    return len(COMMANDS)


@command("command|list", arity=-2, flags="loading stale", acl="connection", summary="Returns a list of command names.",
         args="[FILTERBY=filterby(MODULE=module-name|ACLCAT=category|PATTERN=pattern:p)]",
         since="7.0.0",
         tips=("nondeterministic_output_order",))
def command_list(client, args):
    # Every command and subcommand (CONFIG, then config|get ...), as Redis lists them.
    everything = []
    for cmd in COMMANDS.values():
        everything.append(cmd)
        if cmd.subcommands:
            everything += cmd.subcommands.values()
    if len(args) > 2:
        if len(args) != 5 or args[2].lower() != b"filterby":
            raise CommandError(SYNTAX)
        kind, value = args[3].lower(), args[4].decode("utf-8", "replace")
        from ..types.glob import glob_match
        if kind == b"module":
            everything = []
        elif kind == b"aclcat":
            category = value.lower()
            everything = [c for c in everything if category in c.categories]
        elif kind == b"pattern":
            everything = [c for c in everything
                          if glob_match(value.encode(), c.fullname.encode(), nocase=True)]
        else:
            raise CommandError(SYNTAX)
    return [c.fullname.encode() for c in everything]


@command("command|info", arity=-2, flags="loading stale", acl="connection",
         summary="Returns information about one, multiple or all commands.",
         args="[command-name...]",
         since="2.8.13",
         tips=("nondeterministic_output_order",))
def command_info_cmd(client, args):
    if len(args) == 2:
        return [command_info(c) for c in COMMANDS.values()]
    return [command_info(c) if (c := _lookup_with_sub(a)) is not None else None for a in args[2:]]


def _lookup_with_sub(name: bytes):
    text = name.decode("utf-8", "replace").lower()
    if "|" in text:
        parent, sub = text.split("|", 1)
        cmd = COMMANDS.get(parent)
        return cmd.subcommands.get(sub.encode()) if cmd and cmd.subcommands else None
    return COMMANDS.get(text)


@command("command|docs", arity=-2, flags="loading stale", acl="connection",
         summary="Returns documentary information about one, multiple or all commands.",
         args="[command-name...]",
         since="7.0.0",
         tips=("nondeterministic_output_order",))
def command_docs_cmd(client, args):
    if len(args) == 2:
        return {c.fullname.encode(): command_docs(c) for c in COMMANDS.values()}
    out = {}
    for a in args[2:]:
        cmd = _lookup_with_sub(a)
        if cmd is not None:
            out[cmd.fullname.encode()] = command_docs(cmd)
    return out


def _getkeys(client, args, with_flags: bool):
    """getKeysSubcommandImpl: the checks in Redis's order (known command, has keys at
    all, arity), then the keys; none found is an error unless the command's keys are
    optional (no_mandatory_keys: EVAL with numkeys 0 gives an empty array)."""
    target = args[2:]
    cmd = client.engine.find_command(target[0])
    if cmd is not None and cmd.subcommands is not None and len(target) > 1:
        cmd = cmd.subcommands.get(target[1].lower())     # an unknown subcommand is unknown
    if cmd is None:
        raise CommandError("ERR Invalid command specified")
    # doesCommandHaveKeys: a key spec that is not a shard channel's, or a getkeys rule.
    specs = SPECS.get(cmd.fullname)
    if cmd.getkeys is None and not (cmd.first_key > 0 if specs is None
                                    else any("N" not in spec[3] for spec in specs)):
        raise CommandError("ERR The command has no key arguments")
    arity = cmd.arity
    if (arity > 0 and len(target) != arity) or len(target) < -arity:
        raise CommandError("ERR Invalid number of arguments specified for command")
    indexes = cmd.key_indexes(target)
    if not indexes:
        if "no_mandatory_keys" in cmd.flags:
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    if with_flags:
        found = key_flags(cmd, target)
        if found is None:
            found = [(i, "") for i in indexes]
        return [[target[i], RespSet([Status(w.encode()) for w in flags.split()])]
                for i, flags in found]
    return [target[i] for i in indexes]


@command("command|getkeys", arity=-4, flags="loading stale", acl="connection",
         summary="Extracts the key names from an arbitrary command.",
         since="2.8.13")
def command_getkeys(client, args):
    return _getkeys(client, args, False)


@command("command|getkeysandflags", arity=-4, flags="loading stale", acl="connection",
         summary="Extracts the key names and access flags for an arbitrary command.",
         since="7.0.0")
def command_getkeysandflags(client, args):
    return _getkeys(client, args, True)


@command("command|help", arity=2, flags="loading stale", acl="connection",
         summary="Returns helpful text about the different subcommands.",
         since="5.0.0")
def command_help(client, args):
    return help_reply("COMMAND", [
        "(no subcommand)", "    Return details about all commands.",
        "COUNT", "    Return the total number of commands in this server.",
        "LIST [FILTERBY (MODULE <name>|ACLCAT <cat>|PATTERN <pattern>)]", "    Return command names.",
        "INFO [<command-name> ...]", "    Return details about the given commands, or all of them.",
        "DOCS [<command-name> ...]", "    Return documentation about the given commands, or all of them.",
        "GETKEYS <full-command>", "    Return the keys from a full command.",
        "GETKEYSANDFLAGS <full-command>", "    Return the keys and their access flags from a full command.",
    ])


def _command_root(client, args):
    return [command_info(c) for c in COMMANDS.values()]


COMMANDS["command"].handler = _command_root


# -- TIME, SHUTDOWN, MONITOR, ROLE ---------------------------------------------------------------


@command("time", arity=1, flags="loading stale fast", group="server",
         summary="Returns the server time.",
         since="2.6.0",
         tips=("nondeterministic_output",))
def time_(client, args):
    now = client.engine.clock.us()
    return [b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)]


@command("lastsave", arity=1, flags="loading stale fast", acl="admin dangerous", group="server",
         summary="Returns the Unix timestamp of the last successful save to disk.",
         tips=("nondeterministic_output",))
def lastsave(client, args):
    return client.engine.lastsave


@command("shutdown", arity=-1, flags="admin noscript loading stale no_multi sentinel allow_busy",
         group="server", summary="Synchronously saves the database(s) to disk and shuts down the server.",
         args="[nosave_save(NOSAVE|SAVE)] [NOW@7.0.0] [FORCE@7.0.0] [ABORT@7.0.0]")
def shutdown(client, args):
    options = {a.lower() for a in args[1:]}
    if not options <= {b"nosave", b"save", b"now", b"force", b"abort"} or \
            {b"nosave", b"save"} <= options or (b"abort" in options and len(options) > 1):
        raise CommandError(SYNTAX)
    engine = client.engine
    server = engine.server
    if b"abort" in options:
        if server is None or not server.abort_shutdown():
            raise CommandError("ERR No shutdown in progress.")
        return OK
    save = b"nosave" not in options and (b"save" in options or None)
    if server is None:
        raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
    log.warning("User requested shutdown...")
    engine.shutdown_now = b"now" in options
    if not server.prepare_shutdown(save, b"force" in options):
        raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
    server.request_shutdown("")
    return NO_REPLY


@command("monitor", arity=1, flags="admin noscript loading stale", group="server",
         summary="Listens for all requests received by the server in real-time.")
def monitor(client, args):
    engine = client.engine
    if client.kind == "script":
        raise CommandError("ERR This command is not allowed from script")
    engine.add_monitor(client)   # Server.client_disconnected forgets it
    return OK


@command("role", arity=1, flags="noscript loading stale fast", acl="admin dangerous", group="server",
         summary="Returns the replication role.",
         since="2.8.12")
def role(client, args):
    repl = client.engine.replication
    if repl.role != "master" and repl.role_reply is not None:
        return repl.role_reply()
    # Only replicas that finished their sync are listed, as in Redis.
    return [b"master", repl.master_repl_offset,
            [[link.address().encode(), b"%d" % link.listening_port, b"%d" % link.ack_offset]
             for link in repl.replicas.values() if link.state == "online"]]


# -- SLOWLOG ----------------------------------------------------------------------------------

container("slowlog", arity=-2, group="server", summary="A container for slow log commands.",
          since="2.2.12")


@command("slowlog|get", arity=-2, flags="admin loading stale", acl="",
         summary="Returns the slow log's entries.",
         args="[count:i]",
         since="2.2.12",
         tips=("request_policy:all_nodes", "nondeterministic_output"))
def slowlog_get(client, args):
    count = 10
    if len(args) == 3:
        count = parse_int(args[2], "ERR count should be greater than or equal to -1")
        if count < -1:
            raise CommandError("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(client.engine.slowlog)
    elif len(args) > 3:
        raise CommandError("ERR wrong number of arguments for 'slowlog|get' command")
    return [[e.id, e.time, e.duration, list(e.args), e.addr.encode(), e.name]
            for e in list(client.engine.slowlog)[:count]]


@command("slowlog|len", arity=2, flags="admin loading stale", acl="", summary="Returns the number of entries in the slow log.",
         since="2.2.12",
         tips=("request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"))
def slowlog_len(client, args):
    return len(client.engine.slowlog)


@command("slowlog|reset", arity=2, flags="admin loading stale", acl="", summary="Clears all entries from the slow log.",
         since="2.2.12",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def slowlog_reset(client, args):
    client.engine.slowlog.clear()
    return OK


@command("slowlog|help", arity=2, flags="loading stale", acl="", summary="Show helpful text about the different subcommands.",
         since="6.2.0")
def slowlog_help(client, args):
    return help_reply("SLOWLOG", [
        "GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 means all).",
        "LEN", "    Return the length of the slowlog.",
        "RESET", "    Reset the slowlog.",
    ])


# -- LATENCY ------------------------------------------------------------------------------------

container("latency", arity=-2, group="server", summary="A container for latency diagnostics commands.",
          since="2.8.13")


@command("latency|doctor", arity=2, flags="admin noscript loading stale", acl="",
         summary="Returns a human-readable latency analysis report.",
         since="2.8.13",
         tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_doctor(client, args):
    engine = client.engine
    if not engine.config["latency-monitor-threshold"]:
        text = ("Latency monitoring is disabled in this Vermilion instance. You may use "
                "\"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it.\n")
    else:
        summary = engine.latency.summary()
        if not summary:
            text = "No latency spikes were recorded since the monitor was enabled or reset.\n"
        else:
            lines = ["Latency spikes recorded (threshold %d ms):" % engine.latency_ms]
            for n, (event, count, avg, peak) in enumerate(summary, 1):
                lines.append("%d. %s: %d latency spikes (average %dms, worst %dms)."
                             % (n, event, count, avg, peak))
            text = "\n".join(lines) + "\n"
    return Verbatim(text.encode())


@command("latency|latest", arity=2, flags="admin noscript loading stale", acl="",
         summary="Returns the latest latency samples for all events.",
         since="2.8.13",
         tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_latest(client, args):
    return client.engine.latency.latest()


@command("latency|history", arity=3, flags="admin noscript loading stale", acl="",
         summary="Returns timestamp-latency samples for an event.",
         args="event",
         since="2.8.13",
         tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_history(client, args):
    return client.engine.latency.history(args[2].decode("utf-8", "replace"))


@command("latency|graph", arity=3, flags="admin noscript loading stale", acl="",
         since="2.8.13", summary="Returns a latency graph for an event.", args="event",
         tips=("nondeterministic_output", "request_policy:all_nodes", "response_policy:special"))
def latency_graph(client, args):
    event = args[2].decode("utf-8", "replace")
    graph = client.engine.latency.graph(event)
    if graph is None:
        raise CommandError(f"ERR No samples available for event '{event}'")
    return Verbatim(graph.encode())


@command("latency|reset", arity=-2, flags="admin noscript loading stale", acl="",
         summary="Resets the latency data for one or more events.",
         args="[event...]",
         since="2.8.13",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def latency_reset(client, args):
    names = [a.decode("utf-8", "replace") for a in args[2:]] or None
    return client.engine.latency.reset(names)


def _histogram_reply(counts: list) -> dict:
    hdr = latencyhistogram.counters(counts)
    total = sum(hdr)
    return {b"calls": total,
            b"histogram_usec": dict(latencyhistogram.log_buckets(hdr, total))}


@command("latency|histogram", arity=-2, flags="admin noscript loading stale", acl="",
         since="7.0.0", tips=("nondeterministic_output", "request_policy:all_nodes",
                              "response_policy:special"),
         summary="Returns the cumulative distribution of latencies of a subset or all commands.",
         args="[command...]")
def latency_histogram(client, args):
    """Every command with latency data, or the named ones (a container stands for its
    subcommands); names without data, or unknown, are left out. A name given twice is
    listed once (Redis repeats it)."""
    if len(args) == 2:
        chosen = list(_all_commands())
    else:
        chosen = []
        for name in args[2:]:
            cmd = _lookup_with_sub(name)
            if cmd is not None:
                chosen.append(cmd)
                if cmd.subcommands:
                    chosen += cmd.subcommands.values()
    return {c.fullname.encode(): _histogram_reply(c.histogram) for c in chosen
            if c.histogram is not None}


@command("latency|help", arity=2, flags="loading stale", acl="", summary="Returns helpful text about the different subcommands.",
         since="2.8.13")
def latency_help(client, args):
    return help_reply("LATENCY", [
        "DOCTOR", "    Return a human readable latency analysis report.",
        "GRAPH <event>", "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>", "    Return time-latency samples for the <event> class.",
        "LATEST", "    Return the latest latency samples for all events.",
        "RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.",
    ])


# -- DEBUG --------------------------------------------------------------------------------------


def is_local_client(client) -> bool:
    """Redis's islocalClient: a unix socket, or a TCP peer at exactly 127.0.0.1 or ::1."""
    if client.kind == "script" or client.addr == "" or client.fd == -1:
        return True
    host = client.addr.rsplit(":", 1)[0]
    return host in ("127.0.0.1", "::1", "[::1]") or client.addr.endswith(":0")


def allow_protected_action(setting: str, client) -> bool:
    """enable-debug-command, enable-module-command, enable-protected-configs: no / yes / local."""
    return setting == "yes" or (setting == "local" and is_local_client(client))


@extension
def _protected(engine) -> None:
    engine.protected_gate = protected_refusal


_PROTECTED = {"debug": ("DEBUG", "enable-debug-command"), "module": ("MODULE", "enable-module-command")}


def protected_refusal(client, cmd):
    """processCommand's check of a `protected` command (DEBUG, MODULE LOAD/UNLOAD): the
    CommandError that refuses it for this client, or None. Redis makes it before
    authentication, ACL and MULTI queueing, so the gates call it first (engine.py's
    `protected_gate`); the handlers call it too, for clients no gate stops."""
    name, setting = _PROTECTED[(cmd.parent or cmd).name]
    if allow_protected_action(client.engine.config[setting], client):
        return None
    return CommandError(
        f"ERR {name} command not allowed. If the {setting} option is set to \"local\", "
        "you can run it from a local connection, otherwise you need to set this option in the "
        "configuration file, and then restart the server.")


def _positive(arg: bytes) -> int:
    # getPositiveLongFromObjectOrReply: one message for non-numbers and negatives.
    try:
        value = parse_int(arg)
    except CommandError:
        value = -1
    if value < 0:
        raise CommandError("ERR value is out of range, must be positive")
    return value


def _debug_populate(client, args):
    """DEBUG POPULATE count [prefix] [size]: keys prefix:N holding "value:N" (cut or
    padded with NUL bytes to `size`); existing keys are left alone. Like Redis, the keys
    are not propagated (not a write command): they reach the AOF at its next rewrite."""
    count = _positive(args[2])
    size = _positive(args[4]) if len(args) == 5 else 0
    prefix = args[3] if len(args) >= 4 else b"key"
    db = client.db
    engine = client.engine
    for j in range(count):
        key = b"%b:%d" % (prefix, j)
        if db.peek(key) is not None:
            continue
        value = b"value:%d" % j
        if size:
            value = value[:size].ljust(size, b"\0")
        db.add(key, value)
        if db.watched:
            engine.touch_watched(db, key)
    return OK


@command("debug", arity=-2, flags="admin noscript loading stale protected", group="server",
         summary="A container for debugging commands.",
         doc_flags="syscmd")
def debug(client, args):
    refusal = protected_refusal(client, COMMANDS["debug"])
    if refusal is not None:
        raise refusal
    sub = args[1].lower()
    engine = client.engine
    if sub == b"sleep" and len(args) == 3:
        try:
            seconds = float(args[2])   # Redis uses atof: garbage means 0
        except ValueError:
            seconds = 0.0
        time.sleep(max(seconds, 0))  # deliberately blocks the server, as in Redis
        return OK
    if sub == b"populate" and 3 <= len(args) <= 5:
        return _debug_populate(client, args)
    if sub == b"pause-cron" and len(args) == 3:
        # Stops the periodic work, signal-requested shutdowns included (they run there).
        if engine.server is not None:
            engine.server.cron_paused = parse_int(args[2]) != 0
        return OK
    if sub == b"set-active-expire" and len(args) == 3:
        engine.active_expire_enabled = parse_int(args[2]) != 0
        return OK
    if sub == b"object" and len(args) == 3:
        # Straight from the dict, as Redis's dictFind: no expiry, not an access (a
        # replica's logically expired key is still there).
        value = client.db.data.get(args[2])
        if value is None:
            raise CommandError("ERR no such key")
        from .keys import object_encoding_of  # the keys family knows encodings
        enc = object_encoding_of(value, engine.config)
        return Status(b"Value at:0x0 refcount:1 encoding:%b serializedlength:%d lru:0 lru_seconds_idle:0"
                      % (enc, len(value) if isinstance(value, (bytes, bytearray)) else 0))
    if sub == b"config-rewrite-force-all" and len(args) == 2:
        if not engine.config.file:
            raise CommandError("ERR CONFIG-REWRITE-FORCE-ALL failed: The server is running "
                               "without a config file")
        return config_rewrite(client, args)
    if sub == b"help":
        return help_reply("DEBUG", [
            "SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
            "SET-ACTIVE-EXPIRE <0|1>", "    Turn the active expiry cycle off or on.",
            "PAUSE-CRON <0|1>", "    Stop or resume the periodic tasks (expiry, signal shutdowns).",
            "POPULATE <count> [<prefix>] [<size>]", "    Create <count> string keys named key:<num>.",
            "OBJECT <key>", "    Show low level info about the key and associated value.",
            "CONFIG-REWRITE-FORCE-ALL", "    Like CONFIG REWRITE but writes all configuration options, "
            "including keywords not listed in original configuration file or default values.",
        ] + [line for hook in engine.debug_help for line in hook])
    handler = engine.debug_subcommands.get(sub)
    if handler is not None:
        return handler(client, args)
    raise subcommand_syntax(args)


# -- MODULE -------------------------------------------------------------------------------------
# Vermilion loads no Redis modules. MODULE exists so that its answers and its
# refusal (enable-module-command, no by default) are Redis's.

container("module", arity=-2, group="server", since="4.0.0",
          summary="A container for module commands.")


def _module_allowed(client) -> None:
    refusal = protected_refusal(client, COMMANDS["module"])
    if refusal is not None:
        raise refusal


@command("module|list", arity=2, flags="admin noscript", since="4.0.0",
         summary="Returns all loaded modules.",
         tips=("nondeterministic_output_order",))
def module_list(client, args):
    return []


@command("module|load", arity=-3, flags="admin noscript no_async_loading protected", since="4.0.0",
         summary="Loads a module.",
         args="path [arg...]")
def module_load(client, args):
    _module_allowed(client)
    raise CommandError("ERR Error loading the extension. Please check the server logs.")


@command("module|loadex", arity=-3, flags="admin noscript no_async_loading protected", since="7.0.0",
         summary="Loads a module using extended parameters.",
         args="path [CONFIG=configs(name value)...&] [ARGS=args(arg)...]")
def module_loadex(client, args):
    _module_allowed(client)
    raise CommandError("ERR Error loading the extension. Please check the server logs.")


@command("module|unload", arity=3, flags="admin noscript no_async_loading protected", since="4.0.0",
         summary="Unloads a module.",
         args="name")
def module_unload(client, args):
    _module_allowed(client)
    raise CommandError("ERR Error unloading module: no such module with that name")


@command("module|help", arity=2, flags="loading stale", since="5.0.0",
         summary="Returns helpful text about the different subcommands.")
def module_help(client, args):
    return help_reply("MODULE", [
        "LIST", "    Return the loaded modules (Vermilion loads none).",
        "LOAD <path> [<arg> ...]", "    Load a module (always refused).",
        "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
        "    Load a module with configuration (always refused).",
        "UNLOAD <name>", "    Unload a module (none is loaded).",
    ])
