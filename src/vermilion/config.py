"""Configuration: every redis.conf directive Redis 7.0 knows, with its type and default.

Directives come from a redis.conf-style file (``name value ...`` lines, quoted
strings, ``include``), from ``--name value`` arguments, and from CONFIG SET.
Directives that only make sense for Redis's C internals (jemalloc, io-threads,
...) are accepted and reported by CONFIG GET so existing
config files and tools keep working; the ones Vermilion acts on are listed in
docs/configuration.md.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Callable

from .server.parser import split_inline

LLONG_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
UINT_MAX = 2**32 - 1


class ConfigError(ValueError):
    """A directive or value was refused; the message is Redis's reason text."""


class ApplyError(ConfigError):
    """A listener could not apply a new value of `name` (CONFIG SET rolls back)."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


@dataclass
class Directive:
    name: str
    kind: str                 # bool, int, memory, enum, string, special
    default: Any
    lo: int = 0
    hi: int = LLONG_MAX
    choices: tuple = ()
    immutable: bool = False
    protected: bool = False   # CONFIG SET refused unless enable-protected-configs allows it
    alias: str | None = None
    parse: Callable | None = None      # special kinds: text -> value (raises ConfigError)
    render: Callable | None = None     # special kinds: value -> text
    check: Callable | None = None      # value -> None, or ConfigError (values we cannot honour)
    hidden: bool = False      # debugging knobs: CONFIG GET shows them only by exact name


_MEMORY_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
                 "g": 1000**3, "gb": 1024**3}


def parse_memory(text: str) -> int | None:
    """Redis's memtoull: a number with an optional k/kb/m/mb/g/gb unit (no sign)."""
    m = re.fullmatch(r"(\d+)([a-zA-Z]*)", text.strip())
    if not m or m.group(2).lower() not in _MEMORY_UNITS:
        return None
    return int(m.group(1)) * _MEMORY_UNITS[m.group(2).lower()]


# -- special directives ---------------------------------------------------------------

def _parse_save(text: str):
    parts = text.split()
    if len(parts) % 2:
        raise ConfigError("Invalid save parameters")
    rules = []
    for i in range(0, len(parts), 2):
        if not parts[i].isdigit() or not parts[i + 1].isdigit():
            raise ConfigError("Invalid save parameters")
        rules.append((int(parts[i]), int(parts[i + 1])))
    return rules


def _render_save(rules) -> str:
    return " ".join(f"{s} {c}" for s, c in rules)


def _parse_replicaof(text: str) -> str:
    """replicaof <host> <port> | no one, checked as redis-server checks it. The server
    starts as a replica of that primary (server/replica.py); REPLICAOF keeps the value
    current, so CONFIG GET and CONFIG REWRITE show the primary of the moment."""
    words = split_inline(text.encode("utf-8", "surrogateescape"))
    if words is None or len(words) != 2:
        raise ConfigError("wrong number of arguments")
    host, port = (w.decode("utf-8", "surrogateescape") for w in words)
    if host.lower() == "no" and port.lower() == "one":
        return ""
    if not re.fullmatch(r"[+-]?\d+", port.strip()) or not 0 <= int(port) <= 65535:
        raise ConfigError("Invalid master port")
    return f"{host} {int(port)}"


def _parse_percentiles(text: str) -> list[float]:
    """latency-tracking-info-percentiles: doubles in [0, 100] separated by single spaces
    (as CONFIG SET splits a multi-argument value); "" is none at all."""
    from .types.numeric import parse_double
    out = []
    for word in text.split(" ") if text else ():
        value = parse_double(word.encode("utf-8", "surrogateescape")) if word else None
        if value is None:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
        if not 0.0 <= value <= 100.0:
            raise ConfigError("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
        out.append(value)
    return out


def format_percentile(p: float) -> str:
    """A percentile as Redis prints it: %f without trailing zeros (99.9, 50)."""
    return ("%f" % p).rstrip("0").rstrip(".")


def _render_percentiles(values: list[float]) -> str:
    return " ".join(format_percentile(p) for p in values)


_SHUTDOWN_FLAGS = ("save", "nosave", "now", "force")


def _parse_shutdown_flags(text: str) -> str:
    """shutdown-on-sigint/sigterm: `default` or flags, kept in Redis's order
    (CONFIG GET of "nosave force now" is "nosave now force")."""
    words = [w.lower() for w in text.split()]
    if not words or any(w not in ("default",) + _SHUTDOWN_FLAGS for w in words):
        raise ConfigError("argument(s) must be one of the following: default, save, nosave, now, force")
    flags = [f for f in _SHUTDOWN_FLAGS if f in words]
    return " ".join(flags) or "default"


OUTPUT_CLASSES = ("normal", "replica", "pubsub")


def _parse_obuf(text: str, current=None):
    parts = text.split()
    if not parts or len(parts) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits = dict(current or {})
    for i in range(0, len(parts), 4):
        cls = parts[i].lower()
        if cls == "slave":
            cls = "replica"
        if cls not in OUTPUT_CLASSES:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft = parse_memory(parts[i + 1]), parse_memory(parts[i + 2])
        secs = parts[i + 3]
        if hard is None or soft is None or not secs.lstrip("-").isdigit() or hard < 0 \
                or soft < 0 or int(secs) < 0:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        limits[cls] = (hard, soft, int(secs))
    return limits


def _render_obuf(limits) -> str:
    names = {"normal": "normal", "replica": "slave", "pubsub": "pubsub"}
    return " ".join(f"{names[c]} {h} {s} {t}" for c, (h, s, t) in
                    ((c, limits[c]) for c in OUTPUT_CLASSES))


NOTIFY_CLASSES = "gxe$lshzKEtmdn"  # A is the alias for g$lshzxetd


def _parse_notify(text: str) -> str:
    flags = set()
    for ch in text:
        if ch == "A":
            flags.update("g$lshzxetd")
        elif ch in NOTIFY_CLASSES:
            flags.add(ch)
        else:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return "".join(c for c in "g$lshzxeKEtmdn" if c in flags)


def _render_notify(flags: str) -> str:
    # Redis's keyspaceEventsFlagsToString: the classes (g$lshzxetdn) or the A alias
    # when every class A covers is set -- and then `n` is not printed, a Redis quirk
    # -- followed by K, E and m, in that order.
    if all(c in flags for c in "g$lshzxetd"):
        head = "A"
    else:
        head = "".join(c for c in "g$lshzxetdn" if c in flags)
    return head + "".join(c for c in "KEm" if c in flags)


def _parse_maxmemory_clients(text: str) -> int:
    """Bytes, or a percentage of maxmemory stored negated (Redis's PERCENT_CONFIG)."""
    text = text.strip()
    if text.endswith("%"):
        digits = text[:-1]
        if digits.isdigit():
            if int(digits) > 100:
                raise ConfigError("percentage argument must be less or equal to 100")
            return -int(digits)
    else:
        value = parse_memory(text)
        if value is not None:
            return value
    raise ConfigError("argument must be a memory or percent value")


def _render_maxmemory_clients(value: int) -> str:
    return "%d%%" % -value if value < 0 else str(value)


def _parse_oom_values(text: str) -> tuple:
    """oom-score-adj-values: the master, replica and background-child adjustments."""
    words = text.split()
    if len(words) != 3:
        raise ConfigError("wrong number of arguments")
    values = []
    for w in words:
        if not re.fullmatch(r"-?\d+", w) or not -2000 <= int(w) <= 2000:
            raise ConfigError("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
        values.append(int(w))
    return tuple(values)


# -- the table ---------------------------------------------------------------------------

def _b(name, default, **kw):
    return Directive(name, "bool", default, **kw)


def _i(name, default, lo=0, hi=LLONG_MAX, **kw):
    return Directive(name, "int", default, lo, hi, **kw)


def _m(name, default, lo=0, hi=LLONG_MAX, **kw):
    return Directive(name, "memory", default, lo, hi, **kw)


def _e(name, default, choices, **kw):
    return Directive(name, "enum", default, choices=tuple(choices), **kw)


def _s(name, default="", **kw):
    return Directive(name, "string", default, **kw)


def _x(name, default, parse, render, **kw):
    return Directive(name, "special", default, parse=parse, render=render, **kw)


YESNO_LOCAL = ("no", "yes", "local")


def _tls_only(default, what: str, why: str = ""):
    """A tls-* value Vermilion cannot honour is refused rather than ignored."""
    reason = why or f"Python's ssl module cannot set {what}"

    def check(value):
        if value != default:
            raise ConfigError(f"not supported by Vermilion ({reason}); see docs/compatibility.md")
    return check

def _check_bind(value: str) -> None:
    # Redis keeps at most CONFIG_BINDADDR_MAX addresses.
    if len(value.split()) > 16:
        raise ConfigError("Too many bind addresses specified.")


# What each variable of proc-title-template can be when a template is checked: only
# {title} and {server-mode} can expand to nothing (Redis's validateProcTitleTemplate).
_PROC_TITLE_VARS = {"title": "", "server-mode": "", "listen-addr": "x", "port": "x",
                    "tls-port": "x", "unixsocket": "x", "config-file": "x"}


def expand_proc_title(template: str, values) -> str | None:
    """Redis's sdstemplate, then trimmed of spaces: each {name} becomes values[name]
    and {{ a literal {; any other character (a lone } too) is kept. None for an
    unknown name or an unterminated {."""
    out, i, n = [], 0, len(template)
    while i < n:
        start = template.find("{", i)
        if start < 0:
            out.append(template[i:])
            break
        out.append(template[i:start])
        if start + 1 == n:
            return None
        if template[start + 1] == "{":
            out.append("{")
            i = start + 2
            continue
        end = template.find("}", start + 1)
        value = values.get(template[start + 1:end]) if end > 0 else None
        if value is None:
            return None
        out.append(value)
        i = end + 1
    return "".join(out).strip(" ")


def _check_proc_title(template: str) -> None:
    """A template Redis accepts: its variables known, the expansion not blank."""
    if not expand_proc_title(template, _PROC_TITLE_VARS):
        raise ConfigError("template format is invalid or contains unknown variables")


DIRECTIVES: list[Directive] = [
    # Redis's hidden debugging configs. rdb-key-save-delay and key-load-delay slow RDB
    # saving and loading per key (microseconds; negative: 1 us with probability 1/|n|),
    # which tests use to catch a save or a load in progress; the other three have no
    # effect here (docs/compatibility.md).
    _i("rdb-key-save-delay", 0, -2**31, 2**31 - 1, hidden=True),
    _i("key-load-delay", 0, -2**31, 2**31 - 1, hidden=True),
    _b("use-exit-on-panic", False, hidden=True),
    _i("watchdog-period", 0, 0, INT_MAX, hidden=True),
    _i("loading-process-events-interval-bytes", 2 * 1024 * 1024, 1024, INT_MAX, hidden=True),
    _e("acl-pubsub-default", "resetchannels", ("allchannels", "resetchannels")), _s("aclfile", immutable=True), _i("acllog-max-len", 128),
    _i("active-defrag-cycle-max", 25, 1, 99), _i("active-defrag-cycle-min", 1, 1, 99),
    _m("active-defrag-ignore-bytes", 104857600, 1), _i("active-defrag-max-scan-fields", 1000, 1),
    _i("active-defrag-threshold-lower", 10, 0, 1000), _i("active-defrag-threshold-upper", 100, 0, 1000),
    _i("active-expire-effort", 1, 1, 10), _b("activedefrag", False), _b("activerehashing", True),
    _b("always-show-logo", False, immutable=True), _b("aof-disable-auto-gc", False),
    _b("aof-load-truncated", True), _b("aof-rewrite-incremental-fsync", True),
    _b("aof-timestamp-enabled", False), _b("aof-use-rdb-preamble", True),
    _s("aof_rewrite_cpulist", immutable=True), _s("appenddirname", "appendonlydir", immutable=True),
    _s("appendfilename", "appendonly.aof", immutable=True),
    _e("appendfsync", "everysec", ("everysec", "always", "no")), _b("appendonly", False),
    _m("auto-aof-rewrite-min-size", 67108864), _i("auto-aof-rewrite-percentage", 100, 0, INT_MAX),
    _s("bgsave_cpulist", immutable=True), _s("bind", "* -::*", check=_check_bind), _s("bind-source-addr"),
    _s("bio_cpulist", immutable=True), _i("busy-reply-threshold", 5000, 0, LLONG_MAX),
    _x("client-output-buffer-limit",
       {"normal": (0, 0, 0), "replica": (268435456, 67108864, 60), "pubsub": (33554432, 8388608, 60)},
       _parse_obuf, _render_obuf),
    _m("client-query-buffer-limit", 1073741824, 1048576),
    _b("cluster-allow-pubsubshard-when-down", True), _b("cluster-allow-reads-when-down", False),
    _b("cluster-allow-replica-migration", True), _i("cluster-announce-bus-port", 0, 0, 65535),
    _s("cluster-announce-hostname"), _s("cluster-announce-ip"), _i("cluster-announce-port", 0, 0, 65535),
    _i("cluster-announce-tls-port", 0, 0, 65535), _s("cluster-config-file", "nodes.conf", immutable=True),
    _b("cluster-enabled", False, immutable=True), _m("cluster-link-sendbuf-limit", 0),
    _i("cluster-migration-barrier", 1, 0, INT_MAX), _i("cluster-node-timeout", 15000),
    _i("cluster-port", 0, 0, 65535, immutable=True), _e("cluster-preferred-endpoint-type", "ip", ("ip", "hostname", "unknown-endpoint")),
    _b("cluster-replica-no-failover", False), _i("cluster-replica-validity-factor", 10, 0, INT_MAX),
    _b("cluster-require-full-coverage", True), _b("crash-log-enabled", True),
    _b("crash-memcheck-enabled", True), _b("daemonize", False, immutable=True),
    _i("databases", 16, 1, INT_MAX, immutable=True), _s("dbfilename", "dump.rdb", protected=True),
    _s("dir", ".", protected=True), _b("disable-thp", True, immutable=True), _b("dynamic-hz", True),
    _e("enable-debug-command", "no", YESNO_LOCAL, immutable=True),
    _e("enable-module-command", "no", YESNO_LOCAL, immutable=True),
    _e("enable-protected-configs", "no", YESNO_LOCAL, immutable=True),
    _i("hash-max-listpack-entries", 512), _m("hash-max-listpack-value", 64),
    _m("hll-sparse-max-bytes", 3000), _i("hz", 10, 0, INT_MAX), _s("ignore-warnings"),
    _i("io-threads", 1, 1, 128, immutable=True), _b("io-threads-do-reads", False, immutable=True),
    _b("jemalloc-bg-thread", True), _i("latency-monitor-threshold", 0), _b("latency-tracking", True),
    _x("latency-tracking-info-percentiles", [50.0, 99.0, 99.9], _parse_percentiles,
       _render_percentiles),
    _b("lazyfree-lazy-eviction", False), _b("lazyfree-lazy-expire", False),
    _b("lazyfree-lazy-server-del", False), _b("lazyfree-lazy-user-del", False),
    _b("lazyfree-lazy-user-flush", False), _i("lfu-decay-time", 1, 0, INT_MAX),
    _i("lfu-log-factor", 10, 0, INT_MAX), _i("list-compress-depth", 0, 0, INT_MAX),
    _i("list-max-listpack-size", -2, -5, INT_MAX), _s("logfile", ""),
    _e("loglevel", "notice", ("debug", "verbose", "notice", "warning", "nothing")),
    _s("masterauth"), _s("masteruser"), _i("maxclients", 10000, 1, UINT_MAX),
    _m("maxmemory", 0), _x("maxmemory-clients", 0, _parse_maxmemory_clients, _render_maxmemory_clients), _i("maxmemory-eviction-tenacity", 10, 0, 100),
    _e("maxmemory-policy", "noeviction", ("volatile-lru", "volatile-lfu", "volatile-random",
       "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")),
    _i("maxmemory-samples", 5, 1, 64), _i("min-replicas-max-lag", 10, 0, INT_MAX),
    _i("min-replicas-to-write", 0, 0, INT_MAX), _b("no-appendfsync-on-rewrite", False),
    _x("notify-keyspace-events", "", _parse_notify, _render_notify),
    _e("oom-score-adj", "no", ("no", "yes", "relative", "absolute")),
    _x("oom-score-adj-values", (0, 200, 800), _parse_oom_values, lambda v: " ".join(map(str, v))),
    _s("pidfile", "", immutable=True), _i("port", 6379, 0, 65535),
    _s("proc-title-template", "{title} {listen-addr} {server-mode}", check=_check_proc_title),
    _e("propagation-error-behavior", "ignore", ("ignore", "panic", "panic-on-replicas")),
    _b("protected-mode", True), _m("proto-max-bulk-len", 536870912, 1048576),
    _b("rdb-del-sync-files", False), _b("rdb-save-incremental-fsync", True),
    _b("rdbchecksum", True, immutable=True), _b("rdbcompression", True),
    _m("repl-backlog-size", 1048576, 1), _i("repl-backlog-ttl", 3600),
    _b("repl-disable-tcp-nodelay", False), _e("repl-diskless-load", "disabled", ("disabled", "on-empty-db", "swapdb")),
    _b("repl-diskless-sync", True), _i("repl-diskless-sync-delay", 5, 0, INT_MAX),
    _i("repl-diskless-sync-max-replicas", 0, 0, INT_MAX), _i("repl-ping-replica-period", 10, 1, INT_MAX),
    _i("repl-timeout", 60, 1, INT_MAX), _s("replica-announce-ip"), _i("replica-announce-port", 0, 0, 65535),
    _b("replica-announced", True), _b("replica-ignore-disk-write-errors", False),
    _b("replica-ignore-maxmemory", True), _b("replica-lazy-flush", False),
    _i("replica-priority", 100, 0, INT_MAX), _b("replica-read-only", True),
    _b("replica-serve-stale-data", True), _x("replicaof", "", _parse_replicaof, str, immutable=True), _s("requirepass"),
    _e("sanitize-dump-payload", "no", ("no", "yes", "clients")),
    _x("save", [(3600, 1), (300, 100), (60, 10000)], _parse_save, _render_save),
    _s("server_cpulist", immutable=True), _i("set-max-intset-entries", 512),
    _b("set-proc-title", True, immutable=True), _x("shutdown-on-sigint", "default", _parse_shutdown_flags, str),
    _x("shutdown-on-sigterm", "default", _parse_shutdown_flags, str), _i("shutdown-timeout", 10, 0, INT_MAX),
    _i("slowlog-log-slower-than", 10000, -1, LLONG_MAX), _i("slowlog-max-len", 128, 0, LLONG_MAX),
    _i("socket-mark-id", 0), _b("stop-writes-on-bgsave-error", True),
    _m("stream-node-max-bytes", 4096), _i("stream-node-max-entries", 100),
    _e("supervised", "no", ("upstart", "systemd", "auto", "no"), immutable=True),
    _b("syslog-enabled", False, immutable=True), _s("syslog-facility", "local0", immutable=True),
    _s("syslog-ident", "redis", immutable=True), _i("tcp-backlog", 511, 0, INT_MAX, immutable=True),
    _i("tcp-keepalive", 300, 0, INT_MAX), _i("timeout", 0, 0, INT_MAX),
    _e("tls-auth-clients", "yes", ("no", "yes", "optional")), _s("tls-ca-cert-dir"),
    _s("tls-ca-cert-file"), _s("tls-cert-file"), _s("tls-ciphers"),
    _s("tls-ciphersuites", check=_tls_only("", "TLS 1.3 cipher suites")),
    _s("tls-client-cert-file"), _s("tls-client-key-file"), _s("tls-client-key-file-pass"),
    _b("tls-cluster", False),
    _s("tls-dh-params-file"), _s("tls-key-file"), _s("tls-key-file-pass"), _i("tls-port", 0, 0, 65535),
    _b("tls-prefer-server-ciphers", False), _s("tls-protocols"),
    _b("tls-replication", False),
    _i("tls-session-cache-size", 20480, 0, INT_MAX, check=_tls_only(20480, "the session cache size")),
    _i("tls-session-cache-timeout", 300, 0, INT_MAX, check=_tls_only(300, "the session cache timeout")),
    _b("tls-session-caching", True, check=_tls_only(True, "the session cache off")),
    _i("tracking-table-max-keys", 1000000), _s("unixsocket", immutable=True),
    _i("unixsocketperm", 0, 0, 0o777, immutable=True),
    _i("zset-max-listpack-entries", 128), _m("zset-max-listpack-value", 64),
    _i("list-max-ziplist-size", -2, -5, INT_MAX, alias="list-max-listpack-size"),
    # Vermilion's own: the Prometheus endpoint and the web dashboard (docs/dashboard.md),
    # served from the server's loop. Hidden, so CONFIG GET * lists exactly Redis's
    # directives; CONFIG GET by name shows them. Listeners start with the server.
    _i("metrics-port", 0, 0, 65535, immutable=True, hidden=True),
    _s("metrics-bind", "127.0.0.1", immutable=True, hidden=True),
    _s("metrics-streams", "*", hidden=True), _i("metrics-streams-max", 100, 0, INT_MAX, hidden=True),
    _i("dashboard-port", 0, 0, 65535, immutable=True, hidden=True),
    _s("dashboard-bind", "127.0.0.1", immutable=True, hidden=True),
    _b("dashboard-write", False, immutable=True, hidden=True),
]

ALIASES = {
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    "lua-time-limit": "busy-reply-threshold",
    "slaveof": "replicaof",
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "slave-ignore-maxmemory": "replica-ignore-maxmemory",
    "slave-lazy-flush": "replica-lazy-flush",
    "slave-priority": "replica-priority",
    "slave-read-only": "replica-read-only",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "min-slaves-to-write": "min-replicas-to-write",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "cluster-slave-no-failover": "cluster-replica-no-failover",
    "cluster-slave-validity-factor": "cluster-replica-validity-factor",
}

TABLE: dict[str, Directive] = {d.name: d for d in DIRECTIVES if d.alias is None}


def canonical(name: str) -> str | None:
    name = name.lower()
    name = ALIASES.get(name, name)
    return name if name in TABLE else None


class Config:
    """Current values of every directive; listeners hear about each change."""

    def __init__(self, **overrides):
        # `user NAME rules...` lines (ACL users loaded at startup) and
        # `rename-command OLD NEW` lines, in file order.
        self.acl_users: list[tuple[str, list[str]]] = []
        self.renames: list[tuple[str, str]] = []
        self.values: dict[str, Any] = {}
        for d in TABLE.values():
            default = d.default
            self.values[d.name] = dict(default) if isinstance(default, dict) else \
                list(default) if isinstance(default, list) else default
        self.listeners: list[Callable] = []
        self.file: str | None = None
        self._save_seen = False     # a config file's first `save` line replaces the defaults
        for name, value in overrides.items():
            self.set_from_text(name.replace("_", "-"), value if isinstance(value, str) else render_value(value))

    def __getitem__(self, name: str):
        return self.values[name]

    def get(self, name: str, default=None):
        key = canonical(name)
        return self.values[key] if key else default

    # -- parsing ------------------------------------------------------------------

    def parse_value(self, directive: Directive, text: str):
        """Turn text into a value or raise ConfigError with Redis's reason text."""
        value = self._parse_value(directive, text)
        if directive.check is not None:
            directive.check(value)
        return value

    def _parse_value(self, directive: Directive, text: str):
        kind = directive.kind
        if kind == "bool":
            low = text.lower()
            if low not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
            return low == "yes"
        if kind in ("int", "memory"):
            if kind == "memory":
                value = parse_memory(text)
                if value is None:
                    raise ConfigError("argument must be a memory value")
            else:
                try:
                    value = int(text)
                except ValueError:
                    value = parse_memory(text)
                    if value is None:
                        raise ConfigError("argument couldn't be parsed into an integer") from None
            if not directive.lo <= value <= directive.hi:
                raise ConfigError(f"argument must be between {directive.lo} and {directive.hi} inclusive")
            return value
        if kind == "enum":
            low = text.lower()
            if low not in directive.choices:
                raise ConfigError("argument(s) must be one of the following: " + ", ".join(directive.choices))
            return low
        if kind == "special":
            if directive.name == "client-output-buffer-limit":
                return _parse_obuf(text, self.values.get(directive.name))
            return directive.parse(text)
        return text

    def set_from_text(self, name: str, text: str) -> None:
        key = canonical(name)
        if key is None:
            raise ConfigError("Bad directive or wrong number of arguments")
        self.values[key] = self.parse_value(TABLE[key], text)
        self._notify({key})

    def set_many(self, pairs: list[tuple[str, str]], runtime: bool = True,
                 protected_ok: bool = True) -> None:
        """CONFIG SET: validate every pair, then apply all of them or none.

        `protected_ok` is False for a client that enable-protected-configs does not
        allow to change protected directives (dir, dbfilename)."""
        staged: dict[str, Any] = {}
        for name, text in pairs:
            key = canonical(name)
            if key is None:
                raise ConfigError(f"Unknown option or number of arguments for CONFIG SET - '{name}'",)
            d = TABLE[key]
            if key in staged:
                raise ConfigError(f"CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter")
            if runtime and d.immutable:
                raise ConfigError(f"CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config")
            if runtime and d.protected and not protected_ok:
                raise ConfigError(f"CONFIG SET failed (possibly related to argument '{name}') - can't set protected config")
            try:
                staged[key] = self.parse_value(d, text)
            except ConfigError as err:
                raise ConfigError(f"CONFIG SET failed (possibly related to argument '{name}') - {err}") from None
        previous = {k: self.values[k] for k in staged}
        self.values.update(staged)
        try:
            self._notify(set(staged))
        except ConfigError as err:
            self.values.update(previous)
            self._notify(set(previous))
            name = err.name if isinstance(err, ApplyError) else next(iter(staged))
            raise ConfigError(f"CONFIG SET failed (possibly related to argument '{name}') - {err}") from None

    def _notify(self, changed: set) -> None:
        for listener in self.listeners:
            listener(changed)

    # -- rendering -------------------------------------------------------------------

    def render(self, name: str) -> str:
        d = TABLE[name]
        value = self.values[name]
        if d.kind == "special":
            return d.render(value)
        return render_value(value)

    def matching(self, pattern: str) -> list[tuple[str, str]]:
        """CONFIG GET: (name, value) for every directive or alias matching a glob."""
        from .types.glob import glob_match
        pat = pattern.lower().encode()
        out = []
        names = list(TABLE) + list(ALIASES)
        exact = not any(c in pattern for c in "*?[")
        for name in names:
            if glob_match(pat, name.encode()):
                if TABLE[canonical(name)].hidden and not exact:
                    continue
                out.append((name, self.render(canonical(name))))
        return out

    # -- files --------------------------------------------------------------------------

    def load_file(self, path: str, _depth: int = 0) -> None:
        if _depth == 0:
            self.file = os.path.abspath(path)
        with open(path, "rb") as fh:
            lines = fh.read().decode("utf-8", "surrogateescape").splitlines()
        self.load_text(lines, _depth, base=os.path.dirname(path))

    def load_text(self, lines, _depth: int = 0, base: str = ".") -> None:
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            words = split_inline(line.encode("utf-8", "surrogateescape"))
            if words is None:
                raise ConfigFileError(number, raw, "Unbalanced quotes in configuration line")
            words = [w.decode("utf-8", "surrogateescape") for w in words]
            name, args = words[0].lower(), words[1:]
            if name == "include":
                if len(args) != 1:
                    raise ConfigFileError(number, raw, "Bad directive or wrong number of arguments")
                self.load_file(os.path.join(base, args[0]), _depth + 1)
                continue
            try:
                self.apply_directive(name, args)
            except ConfigError as err:
                raise ConfigFileError(number, raw, str(err)) from None

    def apply_directive(self, name: str, args: list[str]) -> None:
        """One directive from a file or the command line (``save`` and friends take many words)."""
        if name == "user" and args:
            self._add_user(args[0], args[1:])
            return
        if name == "rename-command":
            if len(args) != 2:
                raise ConfigError("Bad directive or wrong number of arguments")
            _check_rename(args[0], args[1], self.renames)
            self.renames.append((args[0].lower(), args[1]))
            return
        key = canonical(name)
        if key is None:
            raise ConfigError("Bad directive or wrong number of arguments")
        if not args and TABLE[key].kind not in ("string", "special"):
            raise ConfigError("wrong number of arguments")
        d = TABLE[key]
        text = " ".join(args)
        if d.kind not in ("special", "string") and len(args) != 1:
            raise ConfigError("wrong number of arguments")
        if key == "save":
            # Several `save` lines accumulate, and `save ""` clears them, as in redis.conf.
            # The first `save` replaces the defaults; a single empty argument clears all.
            if len(args) == 1 and args[0] == "":
                self.values[key] = []
            else:
                rules = _parse_save(text) if text.strip() else []
                self.values[key] = (self.values[key] if self._save_seen else []) + rules
            self._save_seen = True
            self._notify({key})
            return
        self.values[key] = self.parse_value(d, text)
        self._notify({key})


    def _add_user(self, name: str, rules: list[str]) -> None:
        """ACLAppendUserForLoading: checked now, applied when the engine starts.

        Unknown command or category names are reported at startup, as in Redis."""
        from .types import acl
        if any(n == name for n, _ in self.acl_users):
            raise ConfigError(f"Error in user declaration '{name}': {acl.ERR_DUPLICATE_USER}")
        try:
            merged = acl.merge_selector_args(rules)
        except ValueError as err:
            raise ConfigError(f"Error in user declaration '{rules[err.args[0]]}': "
                              f"{acl.ERR_SYNTAX}") from None
        probe = acl.User(name)
        catalog = _acl_catalog()
        words = ["user", name, *rules]
        for j, op in enumerate(merged):
            try:
                probe.apply(op, catalog)
            except acl.UnknownName:
                pass
            except acl.RuleError as err:
                # Redis names the word at the failing rule's index in the whole line.
                raise ConfigError(f"Error in user declaration '{words[j]}': {err}") from None
        self.acl_users.append((name, rules))


def _acl_catalog():
    from . import commands  # noqa: F401  (fills the command table)
    from .engine.table import COMMANDS
    from .types.acl import Catalog
    return Catalog(list(COMMANDS.values()))


def _check_rename(old: str, new: str, done: list) -> None:
    from . import commands  # noqa: F401
    from .engine.table import COMMANDS
    names = {n for n in COMMANDS}
    for a, b in done:
        names.discard(a)
        if b:
            names.add(b.lower())
    if old.lower() not in names:
        raise ConfigError("No such command in rename-command")
    if new and new.lower() in names:
        raise ConfigError("Target command name already exists")


class ConfigFileError(Exception):
    """A config file line was refused; formatted like redis-server's fatal error."""

    def __init__(self, number: int, line: str, reason: str):
        self.number, self.line, self.reason = number, line, reason
        super().__init__(self.format())

    def format(self) -> str:
        from . import REDIS_VERSION
        return (f"\n*** FATAL CONFIG FILE ERROR (Vermilion, Redis {REDIS_VERSION}) ***\n"
                f"Reading the configuration file, at line {self.number}\n"
                f">>> '{self.line.strip()}'\n{self.reason}")


def render_value(value) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def parse_argv_directives(argv: list[str]) -> list[str]:
    """Turn ``--name v1 v2 --other v`` into config-file lines, as redis-server does."""
    lines: list[str] = []
    # After a bare option name (``--port``) the next argument is its value even if it
    # starts with ``--`` (``--proc-title-template --save``). A bare ``--save`` followed
    # by another option, or last, means ``--save ""``: no snapshots.
    expecting_value = False
    for j, arg in enumerate(argv):
        if arg.startswith("--") and not expecting_value:
            lines.append(arg[2:])
            bare = len(arg[2:].split()) == 1
            expecting_value = bare
            if bare and arg.lower() == "--save":
                last = j == len(argv) - 1
                if last or argv[j + 1].startswith("--"):
                    lines[-1] += ' ""'
                    expecting_value = False
        elif lines:
            lines[-1] += " " + _quote(arg)
            expecting_value = False
        else:
            # Words before any --option start the first line (redis-server takes
            # `loglevel verbose` after the config file as the directive it spells).
            lines.append(_quote(arg))
    return lines


def _quote(arg: str) -> str:
    # Always quoted, like redis-server's sdscatrepr, so a config error shows the line
    # the way Redis shows it ('port "6379" "6380"').
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
