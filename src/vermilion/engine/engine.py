"""The single-threaded executor: dispatch, statistics, propagation and the cron.

One event-loop thread owns every database. A command runs to completion before
the next one starts, so a command, a MULTI block or a script is atomic by
construction: there are no locks anywhere in the engine.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Callable

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from .. import REDIS_VERSION
from .client import GATE_ACL, GATE_MASTER, GATE_MULTI, GATE_NOAUTH
from .clock import Clock
from .core import EngineCore, Stats
from .errors import CommandError, CountedError, NOAUTH, unknown_command, unknown_subcommand, wrong_arity
from .keyspace import Database
from .replies import POSTPONED, QUEUED, ErrorReply
from .latency import LatencyMonitor
from ..types import latencyhistogram
from .table import ACTIVE, COMMANDS, Command, count_rejected

log = logging.getLogger("vermilion")
perf_counter_ns = time.perf_counter_ns


def monotonic_ns() -> int:
    """time.perf_counter_ns(). Compiled, the same clock (CLOCK_MONOTONIC, what
    perf_counter_ns reads on POSIX) is read by a C call: Engine.call times every
    command, and the Python call and the int objects cost ~500 instructions."""
    if cython.compiled:
        clock_gettime(CLOCK_MONOTONIC, cython.address(ts))  # noqa: F821 (engine.pxd)
        return ts.tv_sec * 1000000000 + ts.tv_nsec  # noqa: F821
    return perf_counter_ns()
# A C constant when compiled (engine.pxd): the hot path compares it with a C integer.
FAST_US = latencyhistogram.FAST_US


# Bits of Engine.busy: while any is set, every command passes the gatekeeper.
BUSY_SCRIPT = 1
BUSY_LOADING = 2
BUSY_PAUSED = 4
BUSY_MONITOR = 16    # MONITOR clients exist: every command is fed to them
BUSY_MISCONF = 8      # persistence failing: writes refused with -MISCONF (persistence/)
BUSY_MAXMEMORY = 32   # maxmemory set: eviction and the OOM check before commands (commands/memory.py)
BUSY_TRACKING = 64    # a client has CLIENT TRACKING on (engine/tracking.py)
BUSY_NOREPLICAS = 128  # min-replicas-to-write in force: writes may be refused (commands/replication.py)
BUSY_REPLICA = 256    # a replica: read-only and stale-data refusals (commands/replica.py)
# The busy bits whose gate hooks can stop or hold a command of the master client
# (a replica applying its master's stream). Redis's processCommand never refuses
# the master for ACL, OOM, MISCONF, NOREPLICAS, READONLY or MASTERDOWN, so with
# only those in force the master's commands go straight to `call`; otherwise they
# take the gate like any other (MULTI queueing, CLIENT PAUSE, a busy script).
MASTER_GATED = BUSY_SCRIPT | BUSY_LOADING | BUSY_PAUSED | BUSY_TRACKING


class SlowlogEntry:
    __slots__ = ("id", "time", "duration", "args", "addr", "name")

    def __init__(self, entry_id, when, duration, args, addr, name):
        self.id, self.time, self.duration = entry_id, when, duration
        self.args, self.addr, self.name = args, addr, name


def _build_lookup(commands: dict[str, Command]) -> dict[bytes, Command]:
    # The name a client sends is matched case-insensitively; the common spellings
    # are precomputed so the hot path is one dict lookup.
    lookup = {}
    for name, cmd in commands.items():
        raw = name.encode()
        lookup[raw] = cmd
        lookup[raw.upper()] = cmd
        lookup[raw.capitalize()] = cmd
    return lookup


# Per-engine setup registered by families at import time (see `extension`).
EXTENSIONS: list[Callable] = []


def extension(setup: Callable) -> Callable:
    """Register ``setup(engine)``, run once by every Engine after it is built.

    A family whose state lives per engine (pub/sub's subscription index, MULTI's
    gate hook, a config listener) attaches it here instead of the engine
    knowing the family: the command table is shared by every engine in the
    process, but indexes and hooks are not.
    """
    EXTENSIONS.append(setup)
    return setup


class Engine(EngineCore):
    def __init__(self, config, clock: Clock | None = None):
        # Importing the families fills the command table.
        from .. import commands  # noqa: F401

        self.config = config
        self.clock = clock or Clock()
        self.version = REDIS_VERSION
        self.commands = COMMANDS
        # The names clients call commands by: the table's, after the config's
        # rename-command lines (a command renamed to "" cannot be called at all;
        # ACL rules keep using the table's names, as in Redis).
        self.command_names = dict(COMMANDS)
        for old, new in config.renames:
            cmd = self.command_names.pop(old)
            if new:
                self.command_names[new.lower()] = cmd
        self.lookup = _build_lookup(self.command_names)
        self.dbs = [Database(i, self) for i in range(config["databases"])]
        self.clients: dict[int, object] = {}
        self._next_client_id = 0
        self.stats = Stats()
        self.dirty = 0                      # writes since the last save (and propagation trigger)
        self.sinks: list[Callable] = []     # propagation sinks: sink(db_index, args)
        # Replication state both roles share (engine/replication.py); its sink is in
        # `sinks` while a backlog exists.
        from .replication import Replication
        self.replication = Replication(self)
        self.effects: list | None = None    # rewritten effects of the running command
        # (db index, argv) effects collected while EXEC or a script runs (see propagate).
        self.capture: list | None = None
        self.in_exec = False            # EXEC is running its commands (nothing forks meanwhile)
        # Set by the transactions family: multi_refused(client, cmd, reply) -> reply.
        self.multi_refused: Callable | None = None
        self.monitors: set = set()
        self.slowlog: deque = deque(maxlen=128)
        self.slowlog_next_id = 0
        self.latency = LatencyMonitor()
        self.slowlog_us = 10000             # slowlog-log-slower-than (us; -1 off)
        self.latency_ms = 0                 # latency-monitor-threshold (ms; 0 off)
        self.busy = 0                       # BUSY_* bits: scripts/loading/pause gate every command
        self.pause_mode: str | None = None  # CLIENT PAUSE: "all" or "write"
        # During a CLIENT PAUSE keys expire only logically (reads miss them) and are
        # deleted after it, so a pause freezes the dataset as Redis does for failovers.
        self.expiry_suspended = False
        self.pause_until = 0
        self.paused_clients: list = []      # connections holding a postponed command
        self._pause_timer = None
        self.active_expire_enabled = True   # DEBUG SET-ACTIVE-EXPIRE turns it off
        # The replica side (server/replica.py): the link to our master while we are a
        # replica, and True while the master's stream runs (its lookups see keys
        # that are only logically expired here: the master decides when they go).
        self.master_link = None
        self.replica_role = None
        self.applying_master = False
        self.loop = None
        self.server = None                  # the network server, when there is one
        self.shutdown_requested: Callable | None = None
        self.lastsave = int(time.time())
        from .memory import Memory
        self.memory = Memory(self)          # accounting and eviction (engine/memory.py)
        self.startup_rss = self.memory.startup
        # The OOM state found before the running command (Redis's pre_command_oom_state):
        # scripts read it at their start.
        self.oom_state = False
        self.pubsub = None                  # set by commands.pubsub when loaded
        self.blocking = None                # set by engine.blocking when loaded
        self.lolwut_random = None           # LOLWUT's rand(), set by commands.lolwut
        self.notify_flags = 0
        self.reading = False                # a read-only command is running: count hits/misses
        self.shutdown_save = None           # SHUTDOWN SAVE/NOSAVE choice for persistence
        self.shutdown_now = False           # SHUTDOWN NOW: replicas are not waited for
        # DEBUG subcommands other families add (DIGEST, RELOAD ...): name -> handler.
        self.debug_subcommands: dict = {}
        self.debug_help: list = []
        self._extensions: list[Callable] = []
        # Called with a client that disconnects: families drop its subscriptions,
        # blocked waits and WATCHes here.
        self.disconnect_hooks: list[Callable] = []
        # Coroutines run once before accepting commands (AOF/RDB loading) and at shutdown.
        self.startup_hooks: list[Callable] = []
        self.shutdown_hooks: list[Callable] = []
        # Set by the ACL family: `requirepass` is None while the default user needs no
        # password (new connections start authenticated), `acl` holds the users and
        # `acl_gate(client, cmd, args)` checks a GATE_ACL client's command.
        self.requirepass = None
        self.acl = None
        self.acl_gate: Callable | None = None
        # `protected_gate(client, cmd)`: the CommandError refusing a `protected` command
        # (DEBUG, MODULE LOAD) to this client, or None (commands/server.py).
        self.protected_gate: Callable | None = None
        # `memory_gate(client, cmd, args)`: the OOM check (commands/memory.py), called
        # directly while maxmemory is the only reason to gate commands.
        self.memory_gate: Callable | None = None
        self.apply_config()
        config.listeners.append(self.apply_config)
        for setup in EXTENSIONS:
            setup(self)
        # Last, so its gate hook sees only the commands the others let run.
        from .tracking import Tracking
        self.tracking = Tracking(self)

    # -- configuration -----------------------------------------------------------

    def apply_config(self, changed: set | None = None) -> None:
        cfg = self.config
        self.requirepass = cfg["requirepass"] or None
        # The request loops call log_slow for a command that ran at least
        # `slowlog_threshold` us: the lower of the slowlog's and the latency monitor's.
        self.slowlog_us = cfg["slowlog-log-slower-than"]
        self.latency_ms = cfg["latency-monitor-threshold"]
        self.latency_tracking = cfg["latency-tracking"]
        limits = [t for t in (self.slowlog_us, self.latency_ms * 1000 if self.latency_ms > 0 else -1)
                  if t >= 0]
        self.slowlog_threshold = min(limits) if limits else -1
        if self.slowlog.maxlen != cfg["slowlog-max-len"]:
            self.slowlog = deque(self.slowlog, maxlen=cfg["slowlog-max-len"])

    def ops_per_sec(self) -> int:
        samples = self.stats.ops_samples
        if len(samples) < 2:
            return 0
        (t0, n0), (t1, n1) = samples[0], samples[-1]
        return int((n1 - n0) / (t1 - t0)) if t1 > t0 else 0

    def next_client_id(self) -> int:
        self._next_client_id += 1
        return self._next_client_id

    # -- dispatch ------------------------------------------------------------------

    def find_command(self, name: bytes) -> Command | None:
        cmd = self.lookup.get(name)
        if cmd is None:
            try:
                cmd = self.command_names.get(name.decode().lower())
            except UnicodeDecodeError:
                return None
        return cmd

    def execute(self, client, args: list):
        """Run one command for `client`; returns its reply value (errors as ErrorReply)."""
        cmd = self.lookup.get(args[0])
        if cmd is None:
            cmd = self.find_command(args[0])
            if cmd is None:
                return self.refuse(client, None, unknown_command(args))
        arity = cmd.arity
        if (arity > 0 and len(args) != arity) or len(args) < -arity:
            return self.refuse(client, cmd, wrong_arity(cmd.name))
        if cmd.subcommands is not None and len(args) > 1:
            sub = cmd.subcommands.get(args[1].lower())
            if sub is None:
                return self.refuse(client, cmd, unknown_subcommand(args[1], cmd.name))
            cmd = sub
            arity = cmd.arity
            if (arity > 0 and len(args) != arity) or len(args) < -arity:
                return self.refuse(client, cmd, wrong_arity(cmd.fullname))
        if client.gate or self.busy:
            if client.gate == GATE_MULTI and not self.busy and cmd.queued_in_multi:
                # Only MULTI gates this client and no busy bit is set: of the gate hooks,
                # only the transactions family's applies, and for a command it queues
                # (`queued_in_multi`, which also leaves out `protected` commands) that is
                # this: unknown command and arity were checked above.
                cython.cast(list, client.multi).append((cmd, args))
                return QUEUED
            if client.gate == GATE_MASTER and not self.busy & MASTER_GATED:
                return self.call(client, cmd, args)     # the master client
            if client.gate == GATE_ACL and not self.busy:
                # Only ACL restricts this client: its check is the only gate hook that
                # applies (docs/architecture.md, ACL). The user's plan for the command
                # lets it run, or the full check decides (commands/acl.py).
                plans = client.acl_plans
                plan = plans[cmd.acl_index] if cmd.acl_index < len(plans) else None
                if plan is not None and plan.passes(args):
                    return self.call(client, cmd, args)
                refusal = self.acl_gate(client, cmd, args)
            elif self.busy == BUSY_MAXMEMORY and not client.gate:
                # Only maxmemory is set: the other gate hooks each wait for a busy or a
                # client gate bit, so the OOM check is the only one that applies.
                refusal = self.memory_gate(client, cmd, args)
            else:
                refusal = self.gatekeeper(client, cmd, args)
            if refusal is not None:
                if type(refusal) is ErrorReply:
                    return self.refused(client, cmd, refusal)
                return refusal
        return self.call(client, cmd, args)

    def refuse(self, client, cmd: Command | None, err: CommandError) -> ErrorReply:
        return self.refused(client, cmd, self.reject(cmd, err))

    def refused(self, client, cmd: Command | None, reply: ErrorReply) -> ErrorReply:
        """A command refused before it runs (Redis's rejectCommand).

        Inside MULTI (GATE_MULTI) the transactions family flags the transaction so
        that EXEC aborts; a refused EXEC becomes EXECABORT (inside MULTI or not).
        """
        if self.multi_refused is not None and \
                (client.gate & GATE_MULTI or (cmd is not None and cmd.name == "exec")):
            return self.multi_refused(client, cmd, reply)
        return reply

    def call(self, client, cmd: Command, args: list):
        """Execute an already validated command and account for it."""
        # `self.busy and ...`: a C test when compiled, so the usual case (no gate bit
        # set) reads no module global (a dict lookup per use on 3.12+).
        if self.busy and self.busy & BUSY_MONITOR and not cmd.skip_monitor and not cmd.is_admin:
            self.feed_monitors(client, args)
        dirty = self.dirty
        client.last_command = cmd.fullname
        self.reading = cmd.is_readonly
        start = monotonic_ns()
        try:
            reply = cmd.handler(client, args)
        except CommandError as err:
            reply = self.failed(cmd, err)
        except Exception as exc:
            reply = self.crashed(cmd, args, exc)
        if cmd.measure_key:
            self.measure_later(client, cmd, args)
        elapsed = (monotonic_ns() - start) // 1000
        self.reading = False
        if self.busy and self.busy & BUSY_TRACKING:
            self.tracking.after_call(client, cmd, args)
        if cmd.calls == 0:
            ACTIVE[cmd] = None
        cmd.calls += 1
        # INFO's total_commands_processed and the cron's ops samples: one C add here
        # instead of a walk of every command's counter.
        self.stats.total_commands += 1
        cmd.usec += elapsed
        # latencyhistogram.record, inlined; a blocked command is counted when it is
        # answered (engine/blocking.py), with the time of this first run, as Redis does.
        if self.latency_tracking:
            if client.blocked is None:
                counts = cmd.histogram
                if counts is None:
                    counts = cmd.histogram = latencyhistogram.new()
                if elapsed < FAST_US:
                    counts[elapsed] += 1
                else:
                    latencyhistogram.record_slow(counts, elapsed)
            else:
                client.blocked_usec = elapsed
        if self.slowlog_threshold >= 0 and not cmd.skip_slowlog:
            waiter = client.blocked
            if waiter is not None:
                # A command that blocked is logged when it is served, with the time of
                # both halves (Redis's updateStatsOnUnblock); a timeout is not logged.
                waiter.argv = args
                waiter.duration_us = elapsed
            elif elapsed >= self.slowlog_threshold:
                self.log_slow(client, args, elapsed)
        if self.dirty != dirty and self.sinks:
            effects = self.effects
            # An empty list means the handler propagated its effects itself (EXEC, EVAL).
            self.propagate(client.db.index, (args,) if effects is None else effects)
            # WAIT waits for the replicas to reach this client's last write.
            client.woff = self.replication.master_repl_offset
        self.effects = None
        return reply

    def measure_later(self, client, cmd: Command, args: list) -> None:
        """Queue the collections a write command named (the table's key positions) to be
        measured again before the memory ledger is next read (engine/memory.py). Every
        caller of a handler calls this after it, also when the handler raised: a
        command that failed half-way may have changed its collections."""
        db = client.db
        pos = cmd.measure_key
        if pos > 0:
            if len(args) > pos:
                db.written(args[pos])
        else:
            for i in cmd.key_indexes(args):
                db.written(args[i])

    def crashed(self, cmd: Command, args: list, exc: Exception) -> ErrorReply:
        """A handler raised something other than CommandError: a bug, or a bad request."""
        log.exception("Internal error in %s", cmd.fullname)
        return self.failed(cmd, CommandError(f"ERR internal error in '{cmd.fullname}': {exc!r}"))

    def add_monitor(self, client) -> None:
        self.monitors.add(client)
        self.busy |= BUSY_MONITOR

    def remove_monitor(self, client) -> None:
        self.monitors.discard(client)
        if not self.monitors:
            self.busy &= ~BUSY_MONITOR

    def gatekeeper(self, client, cmd: Command, args: list):
        """The slow-path checks (auth, MULTI queueing, pub/sub mode, busy server)."""
        gate = client.gate
        # Before authentication, ACL and MULTI queueing, as in Redis's processCommand.
        if "protected" in cmd.flags and self.protected_gate is not None:
            err = self.protected_gate(client, cmd)
            if err is not None:
                return self.reject(cmd, err)
        if gate & GATE_NOAUTH and not cmd.no_auth:
            return self.reject(cmd, CommandError(NOAUTH))
        if gate & GATE_ACL:
            refusal = self.acl_gate(client, cmd, args)
            if refusal is not None:
                return refusal
        if self.busy & BUSY_PAUSED and client.kind != "script" and \
                (self.pause_mode == "all" or self.writes(cmd, args)):
            if self.clock.ms() < self.pause_until:
                return POSTPONED
            self.unpause_clients()
        for hook in self._extensions:
            refusal = hook(client, cmd, args)
            if refusal is not None:
                return refusal
        return None

    def writes(self, cmd: Command, args: list) -> bool:
        """Is this call a write for CLIENT PAUSE WRITE (Redis's may-replicate)?"""
        if not (cmd.is_write or cmd.may_replicate):
            return False
        return cmd.may_write is None or cmd.may_write(self, args)

    def pause_clients(self, mode: str, until_ms: int) -> None:
        """CLIENT PAUSE: a later pause can extend the time or widen WRITE to ALL."""
        if self.busy & BUSY_PAUSED:
            until_ms = max(until_ms, self.pause_until)
            if self.pause_mode == "all":
                mode = "all"
        self.pause_mode = mode
        self.pause_until = until_ms
        self.busy |= BUSY_PAUSED
        self.expiry_suspended = True
        if self.loop is not None:
            if self._pause_timer is not None:
                self._pause_timer.cancel()
            delay = max(until_ms - self.clock.ms(), 0) / 1000
            self._pause_timer = self.loop.call_later(delay, self.unpause_clients)

    def unpause_clients(self) -> None:
        self.busy &= ~BUSY_PAUSED
        self.pause_mode = None
        self.expiry_suspended = self.master_link is not None   # a replica never expires keys
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        waiting, self.paused_clients = self.paused_clients, []
        for client in waiting:
            if self.loop is not None:
                self.loop.call_soon(client.resume)
            else:
                client.resume()

    def add_gate_hook(self, hook: Callable, first: bool = False) -> None:
        """Families with dispatch rules (MULTI, pub/sub, scripts) add a check here.

        The hook returns a reply to stop the command, or None to let it run.
        `first` puts it before the others (the OOM check precedes MULTI queueing).
        """
        if first:
            self._extensions.insert(0, hook)
        else:
            self._extensions.append(hook)

    def reject(self, cmd: Command | None, err: CommandError) -> ErrorReply:
        if cmd is not None:
            count_rejected(cmd)
        self.count_error(err.message)
        return ErrorReply(err.message)

    def failed(self, cmd: Command, err: CommandError) -> ErrorReply:
        cmd.failed_calls += 1
        if type(err) is not CountedError:
            self.count_error(err.message)
        return ErrorReply(err.message)

    def count_error(self, message: bytes) -> None:
        stats = self.stats
        stats.error_replies += 1
        code = message.split(b" ", 1)[0]
        stats.error_codes[code] = stats.error_codes.get(code, 0) + 1

    # -- propagation -------------------------------------------------------------------

    def rewrite(self, *effects: list) -> None:
        """Replace what the running command propagates with deterministic effects.

        Called by handlers whose literal form is not replayable (SET EX -> SET PXAT,
        EXPIRE -> PEXPIREAT, XADD * -> XADD <id>, INCRBYFLOAT -> SET KEEPTTL ...).
        """
        if self.effects is None:
            self.effects = []
        self.effects.extend(effects)

    def propagate(self, db_index: int, effects) -> None:
        capture = self.capture
        if capture is not None:
            # Inside EXEC or a script: collected, then sent wrapped in MULTI/EXEC.
            for args in effects:
                capture.append((db_index, list(args)))
            return
        if len(effects) > 1:
            # Several effects of one command (XREADGROUP's XCLAIMs, SPOP's SREM batches)
            # replay as one transaction, as Redis 7.0's propagatePendingCommands wraps them.
            effects = [[b"MULTI"], *effects, [b"EXEC"]]
        # Every sink encodes the arguments at once and keeps nothing (a list or a tuple).
        for sink in self.sinks:
            for args in effects:
                sink(db_index, args)

    def propagate_to_replicas(self, db_index: int, args) -> None:
        """A command for the replicas only, never the AOF: PUBLISH and SPUBLISH, so a
        replica's subscribers hear what the primary's hear (Redis's PROPAGATE_REPL).
        Inside EXEC or a script it joins the block, tagged for the replicas."""
        capture = self.capture
        if capture is not None:
            capture.append((db_index, list(args), 2))
            return
        to_replicas = self.replication.sink
        if to_replicas in self.sinks:       # a replica has none: it forwards its primary's stream
            to_replicas(db_index, list(args))

    # -- keyspace events -------------------------------------------------------------

    def touch_watched(self, db: Database, key: bytes) -> None:
        clients = db.watched.get(key)
        if clients:
            for watcher in clients:
                watcher.dirty_cas = True
        if self.busy & BUSY_TRACKING:
            self.tracking.invalidate(key)

    def key_expired(self, db: Database, key: bytes) -> None:
        # No `dirty` here: Redis does not count expirations as changes, and a bump
        # would make the command that happened to trigger lazy expiry (GET,
        # EXISTS ...) propagate itself. The DEL is propagated right here.
        if self.sinks:
            self.propagate(db.index, ((b"DEL", key),))
        if self.notify_flags:
            self.notify(db, "x", b"expired", key)

    def notify(self, db: Database, klass: str, event: bytes, key: bytes) -> None:
        """Keyspace notification hook: every write calls this once (issue #4 publishes)."""
        handler = self.pubsub
        if handler is not None and self.notify_flags:
            handler.keyspace_event(db, klass, event, key)

    def signal_ready(self, db: Database, key: bytes) -> None:
        """A key that blocked clients may wait on received data (push, XADD, ZADD)."""
        if self.blocking is not None:
            self.blocking.signal(db, key)

    # -- monitors and slowlog ---------------------------------------------------------

    def feed_monitors(self, client, args: list) -> None:
        args = redact(args)
        now = time.time()
        addr = "lua" if client.kind == "script" else client.addr
        parts = []
        for a in args:
            parts.append('"' + _monitor_escape(a) + '"')
        line = "%.6f [%d %s] %s" % (now, client.db.index, addr, " ".join(parts))
        from .replies import Status
        for monitor in list(self.monitors):
            if monitor is not client:
                monitor.send(Status(line.encode("utf-8", "surrogateescape")))

    def log_slow(self, client, args: list, elapsed_us: int) -> None:
        """A command ran for at least `slowlog_threshold` us: the latency monitor's
        command event and the slowlog entry, each against its own threshold."""
        if self.latency_ms > 0 and elapsed_us // 1000 >= self.latency_ms:
            cmd = self.find_command(args[0]) if args else None
            fast = cmd is not None and "fast" in cmd.flags
            self.latency.add("fast-command" if fast else "command", elapsed_us // 1000)
        if not 0 <= self.slowlog_us <= elapsed_us:
            return
        shown = []
        limit = 32
        for i, a in enumerate(redact(args)):
            if i == limit - 1 and len(args) > limit:
                shown.append(b"... (%d more arguments)" % (len(args) - limit + 1))
                break
            if len(a) > 128:
                a = a[:128] + b"... (%d more bytes)" % (len(a) - 128)
            shown.append(a)
        entry = SlowlogEntry(self.slowlog_next_id, int(time.time()), elapsed_us, shown,
                             client.addr, client.name or b"")
        self.slowlog_next_id += 1
        if self.slowlog.maxlen != 0:
            self.slowlog.appendleft(entry)

    # -- cron ---------------------------------------------------------------------------

    def cron(self) -> None:
        """Periodic work, `hz` times a second: active expiry and housekeeping."""
        now = self.clock.ms()
        if self.active_expire_enabled and not self.expiry_suspended and \
                not self.busy & (BUSY_SCRIPT | BUSY_LOADING | BUSY_PAUSED):
            # Bounded work per tick: at most ~25% of the tick in expiry (like Redis).
            started = time.perf_counter()
            deadline = started + 0.25 / max(self.config["hz"], 1)
            for db in self.dbs:
                while db.has_due_keys(now) and time.perf_counter() <= deadline:
                    db.active_expire(now, 200)
            if self.latency_ms > 0:
                ms = int((time.perf_counter() - started) * 1000)
                if ms >= self.latency_ms:
                    self.latency.add("expire-cycle", ms)
        self.stats.ops_samples.append((time.monotonic(), self.total_calls()))
        for task in self.cron_tasks:
            task(now)

    def total_calls(self) -> int:
        return self.stats.total_commands

    cron_tasks: list = []

    def add_cron_task(self, task: Callable[[int], None]) -> None:
        self.cron_tasks = self.cron_tasks + [task]


_REDACTED = b"(redacted)"
_SENSITIVE_CONFIGS = frozenset((b"requirepass", b"masterauth", b"tls-key-file-pass",
                                b"tls-client-key-file-pass"))


def redact(args: list) -> list:
    """What MONITOR and SLOWLOG show: passwords replaced by "(redacted)", as Redis 7.0
    does (AUTH, HELLO ... AUTH, MIGRATE AUTH/AUTH2, ACL SETUSER, CONFIG SET requirepass)."""
    name = args[0].lower() if args else b""
    if name not in (b"auth", b"hello", b"migrate", b"acl", b"config"):
        return args
    out = list(args)
    if name == b"auth":
        out[1:] = [_REDACTED] * (len(out) - 1)
    elif name == b"acl":
        if len(out) > 2 and out[1].lower() == b"setuser":
            out[2:] = [_REDACTED] * (len(out) - 2)
    elif name == b"config":
        if len(out) > 2 and out[1].lower() == b"set":
            for i in range(2, len(out) - 1, 2):
                if out[i].lower() in _SENSITIVE_CONFIGS:
                    out[i + 1] = _REDACTED
    else:
        i = 1
        while i < len(out):
            word = out[i].lower()
            n = 2 if word == b"auth" and name == b"hello" else 1 if word == b"auth" else \
                2 if word == b"auth2" and name == b"migrate" else 0
            for j in range(i + 1, min(i + 1 + n, len(out))):
                out[j] = _REDACTED
            i += 1 + n
    return out


def _monitor_escape(arg: bytes) -> str:
    out = []
    for b in arg:
        if b == 92:
            out.append("\\\\")
        elif b == 34:
            out.append('\\"')
        elif b == 10:
            out.append("\\n")
        elif b == 13:
            out.append("\\r")
        elif b == 9:
            out.append("\\t")
        elif b == 7:
            out.append("\\a")
        elif b == 8:
            out.append("\\b")
        elif 32 <= b < 127:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)
