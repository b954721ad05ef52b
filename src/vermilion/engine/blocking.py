"""Clients blocked on keys: BLPOP and friends, BZPOPMIN, XREAD/XREADGROUP BLOCK.

A blocking command that finds nothing to serve calls ``engine.blocking.block(...)``
with the keys it waits on, a ``serve(waiter, key)`` callback and the reply to give
on timeout; it returns what ``block`` returns (``NO_REPLY``). From then on:

* The client is parked: ``client.blocked`` is its ``Waiter`` and the connection
  stops executing the client's pipelined input (it keeps buffering it) until the
  client is answered, exactly as Redis queues a blocked client's input.
* A write that adds data to a key calls ``engine.signal_ready(db, key)``. If some
  client waits on that key, the key is queued as ready; nothing is served inside
  the running command. After the top-level command finishes (so after a whole
  EXEC or script, as Redis's handleClientsBlockedOnKeys), ``handle_ready`` walks
  the ready keys in signal order and, for each, the clients waiting on it in the
  order they blocked (FIFO), calling their ``serve(waiter, key)``. The callback
  returns the reply to send (the client is then unblocked) or None to keep
  waiting (nothing to take, wrong type, ...). A callback that writes (pops,
  moves) must report its deterministic effect with ``engine.rewrite``; it is
  propagated as if it were its own command. A serve that readies another key
  (BLMOVE pushing to its destination) is handled in the same pass.
* The timeout (milliseconds, 0 = forever) is a ``loop.call_later`` timer; when it
  fires the client gets its timeout reply. ``CLIENT UNBLOCK id [TIMEOUT|ERROR]``
  calls ``unblock``; a disconnect (or RESET) drops the waiter without a trace.
* Inside MULTI/EXEC or a script a client may not block: ``block`` then answers the
  timeout reply at once, as Redis does for CLIENT_DENY_BLOCKING.
* ``block(..., watch_changes=True)`` also readies a key when it is deleted,
  overwritten, renamed away, expired or flushed, not only when it gets data
  (Redis 7.0's signalDeletedKeyAsReady, used for XREADGROUP so that a reader
  whose stream or group disappears is answered with an error). The keyspace
  already reports every change of a key to the WATCH machinery
  (``Database.watched`` -> ``engine.touch_watched``, which sets ``dirty_cas`` on
  each watcher); a ``_KeyWatch`` registered there turns that into ``signal``.
  It is removed with the last waiter that asked for it, so keys nobody waits on
  this way cost nothing.

Once answered, the client's queued input is resumed from the event loop
(``client.unblocked()``), never inside another client's command.
"""
from __future__ import annotations

from time import perf_counter_ns
from typing import Callable

from ..types import latencyhistogram, longdouble
from .errors import CommandError
from .replies import NO_REPLY, ErrorReply
from .table import ACTIVE

UNBLOCKED_ERROR = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NOT_INT = "ERR timeout is not an integer or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"

_LLONG_MAX = 2**63 - 1
_FOREVER_MS = 10**12          # ~31 years: longer timeouts wait forever (timer limits)


class Waiter:
    """One blocked client: what it waits for and how to serve it."""

    __slots__ = ("client", "db", "keys", "serve", "timeout_reply", "timer", "data", "since",
                 "watch_changes", "argv", "duration_us")

    def __init__(self, client, db, keys, serve, timeout_reply, data):
        self.client = client
        self.db = db
        self.keys = keys
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer = None
        self.data = data          # whatever the blocking command needs to serve later
        self.since = 0
        self.watch_changes = False  # readied by deletions/overwrites too (see _KeyWatch)
        self.argv = None            # the blocked command, for the slowlog when it is served
        self.duration_us = 0        # how long its first run took

    def __repr__(self):
        return f"<Waiter client={self.client.id} keys={self.keys!r}>"


class _KeyWatch:
    """Stands in ``Database.watched[key]`` next to WATCHing clients: the keyspace
    sets ``dirty_cas`` on everything registered there whenever the key is changed
    (written, deleted, overwritten, expired, flushed, swapped), which here readies
    the key for the clients blocked on it with ``watch_changes``."""

    __slots__ = ("blocking", "db", "key", "users")

    def __init__(self, blocking, db, key):
        self.blocking = blocking
        self.db = db
        self.key = key
        self.users = 0            # waiters that asked for it

    @property
    def dirty_cas(self) -> bool:
        return False

    @dirty_cas.setter
    def dirty_cas(self, changed: bool) -> None:
        if changed:
            self.blocking.signal(self.db, self.key)


class Blocking:
    def __init__(self, engine):
        self.engine = engine
        # (db index, key) -> {Waiter: None}: an insertion-ordered set, FIFO.
        self.waiting: dict[tuple[int, bytes], dict] = {}
        # (db, key) signalled since the last pass. The list keeps its identity (the
        # C request loop reads it once per read and tests it after every command).
        self.ready: list = []
        self._ready_set: set = set()
        self._scheduled = False
        self.blocked_clients = 0
        self._watches: dict[tuple[int, bytes], _KeyWatch] = {}
        engine.disconnect_hooks.append(self.disconnect)

    # -- state for INFO / CLIENT LIST --------------------------------------------------

    @property
    def blocking_keys(self) -> int:
        return len(self.waiting)

    # -- blocking --------------------------------------------------------------------------

    @staticmethod
    def may_block(client) -> bool:
        """False inside MULTI/EXEC and scripts (Redis's CLIENT_DENY_BLOCKING)."""
        return not (getattr(client, "deny_blocking", False) or client.multi is not None
                    or client.kind == "script")

    def block(self, client, keys, timeout_ms: int, serve: Callable, timeout_reply, data=None,
              watch_changes: bool = False, denied_reply=NO_REPLY):
        """Park `client` on `keys` (of its current db). Returns the handler's reply.

        timeout_ms: 0 waits forever. If the client may not block (MULTI, scripts),
        `denied_reply` (by default the timeout reply) is returned at once. With `watch_changes` the client is also served when
        one of its keys is deleted or replaced (XREADGROUP answers with an error).
        """
        if not self.may_block(client):
            # Redis answers as if timed out; BLMOVE passes its own (null bulk).
            return timeout_reply if denied_reply is NO_REPLY else denied_reply
        db = client.db
        waiter = Waiter(client, db, list(dict.fromkeys(keys)), serve, timeout_reply, data)
        index = db.index
        waiting = self.waiting
        for key in waiter.keys:
            queue = waiting.get((index, key))
            if queue is None:
                queue = waiting[(index, key)] = {}
            queue[waiter] = None
        if watch_changes:
            waiter.watch_changes = True
            for key in waiter.keys:
                self._watch(db, key)
        client.blocked = waiter
        self.blocked_clients += 1
        loop = self.engine.loop
        if 0 < timeout_ms < _FOREVER_MS and loop is not None:
            waiter.timer = loop.call_later(timeout_ms / 1000, self._timed_out, waiter)
        return NO_REPLY

    def _timed_out(self, waiter: Waiter) -> None:
        if waiter.client.blocked is waiter:
            waiter.timer = None
            self._answer(waiter, waiter.timeout_reply)

    def unblock(self, client, error: bool = False) -> bool:
        """CLIENT UNBLOCK: answer with the timeout reply, or the UNBLOCKED error."""
        waiter = client.blocked
        if waiter is None or type(waiter) is not Waiter:
            return False
        # Redis counts every CLIENT UNBLOCK as a failed call of the blocked command,
        # with the timeout reply too (updateStatsOnUnblock(..., had_errors=1)).
        self._answer(waiter, ErrorReply(UNBLOCKED_ERROR) if error else waiter.timeout_reply,
                     failed=True)
        return True

    def answer(self, client, reply) -> bool:
        """Answer a client blocked without keys (WAIT) when what it waits for happened."""
        waiter = client.blocked
        if waiter is None or waiter.__class__ is not Waiter:
            return False
        self._answer(waiter, reply)
        return True

    def disconnect(self, client) -> None:
        waiter = client.blocked
        if waiter is not None and type(waiter) is Waiter:
            self._release(waiter)

    def _release(self, waiter: Waiter) -> None:
        """Forget the waiter everywhere; the client is no longer blocked."""
        index = waiter.db.index
        waiting = self.waiting
        for key in waiter.keys:
            queue = waiting.get((index, key))
            if queue is not None:
                queue.pop(waiter, None)
                if not queue:
                    del waiting[(index, key)]
        if waiter.timer is not None:
            waiter.timer.cancel()
            waiter.timer = None
        if waiter.watch_changes:
            waiter.watch_changes = False
            for key in waiter.keys:
                self._unwatch(waiter.db, key)
        client = waiter.client
        if client.blocked is waiter:
            client.blocked = None
            self.blocked_clients -= 1

    def _answer(self, waiter: Waiter, reply, failed: bool = False) -> None:
        """Answer a blocked client. An error reply (NOGROUP, a deleted stream, WRONGTYPE
        on BLMOVE's destination, CLIENT UNBLOCK ERROR) counts as a failed call of the
        blocked command in INFO commandstats, as it does in Redis; a timeout does not."""
        self._release(waiter)
        client = waiter.client
        if type(reply) is ErrorReply:
            self.engine.count_error(reply.message)
            failed = True
        engine = self.engine
        if failed or engine.latency_tracking:
            name = client.last_command
            cmd = engine.find_command(name.encode() if type(name) is str else name)
            if cmd is not None:
                ACTIVE[cmd] = None      # counted since a CONFIG RESETSTAT while it waited
                if failed:
                    cmd.failed_calls += 1
                if engine.latency_tracking:
                    # Counted once, now, with the time of its first run: the time it
                    # waited is not part of its latency.
                    latencyhistogram.record(cmd, getattr(client, "blocked_usec", 0))
        mode = getattr(client, "reply_mode", 0)
        if mode == 2:
            client.reply_mode = 0       # CLIENT REPLY SKIP covered the blocking command
        elif reply is not NO_REPLY and mode != 1:       # mode 1: CLIENT REPLY OFF
            client.send(reply)
        resume = getattr(client, "unblocked", None)     # connections resume their input
        if resume is not None:
            loop = self.engine.loop
            if loop is not None:
                loop.call_soon(resume)
            else:
                resume()

    def _watch(self, db, key: bytes) -> None:
        entry = (db.index, key)
        watch = self._watches.get(entry)
        if watch is None:
            watch = self._watches[entry] = _KeyWatch(self, db, key)
            watchers = db.watched.get(key)
            if watchers is None:
                db.watched[key] = {watch}
            else:
                watchers.add(watch)
        watch.users += 1

    def _unwatch(self, db, key: bytes) -> None:
        entry = (db.index, key)
        watch = self._watches.get(entry)
        if watch is None:
            return
        watch.users -= 1
        if watch.users <= 0:
            del self._watches[entry]
            watchers = db.watched.get(key)
            if watchers is not None:
                watchers.discard(watch)
                if not watchers:
                    del db.watched[key]

    # -- readiness ---------------------------------------------------------------------------

    def signal(self, db, key: bytes) -> None:
        """A key got data (push, ZADD, XADD): queue it if anyone waits on it."""
        if not self.waiting:
            return
        entry = (db.index, key)
        if entry in self.waiting and entry not in self._ready_set:
            self._ready_set.add(entry)
            self.ready.append((db, key))
            if not self._scheduled and self.engine.loop is not None:
                # Connections serve right after the command; this catches signals
                # raised outside any client command (timers, loaders).
                self._scheduled = True
                self.engine.loop.call_soon(self._deferred)

    def _deferred(self) -> None:
        self._scheduled = False
        if self.ready:
            self.handle_ready()

    def handle_ready(self) -> None:
        """Serve the clients waiting on ready keys (after the command that readied them)."""
        engine = self.engine
        while self.ready:
            batch = self.ready[:]
            self.ready.clear()
            for db, key in batch:
                entry = (db.index, key)
                self._ready_set.discard(entry)
                queue = self.waiting.get(entry)
                if not queue:
                    continue
                for waiter in list(queue):
                    if waiter.client.blocked is not waiter:
                        continue
                    if waiter.client.acl_restricted:
                        # The user's rules may have changed while the client waited.
                        refusal = engine.acl.wakeup_refusal(waiter.client)
                        if refusal is not None:
                            self._answer(waiter, refusal)
                            continue
                    dirty = engine.dirty
                    engine.effects = None
                    start = perf_counter_ns()
                    # The served client is the one running (Redis sets current_client to
                    # it): invalidations of keys it changes follow its reply.
                    tracking = engine.tracking
                    running = tracking.current
                    tracking.current = waiter.client
                    try:
                        reply = waiter.serve(waiter, key)
                    except CommandError as err:
                        reply = ErrorReply(err.message)
                    finally:
                        tracking.current = running
                    if reply is not None and waiter.argv is not None:
                        engine.log_slow(waiter.client, waiter.argv, waiter.duration_us +
                                        (perf_counter_ns() - start) // 1000)
                    if engine.dirty != dirty:
                        db.observe(key)     # served in its command's place (engine/memory.py)
                    if engine.dirty != dirty and engine.sinks and engine.effects:
                        engine.propagate(db.index, engine.effects)
                    engine.effects = None
                    if reply is not None:
                        self._answer(waiter, reply)


def parse_timeout_seconds(arg: bytes) -> int:
    """BLPOP-style timeout in seconds (a float): milliseconds, 0 = forever.

    Redis parses a long double and rounds timeout*1000 up to a long long; a value
    out of that range converts to LLONG_MIN on x86, hence "timeout is negative"
    for inf or 1e30 (Redis 7.0 has no separate out-of-range error).
    """
    value = longdouble.parse(arg)
    if value is None:
        raise CommandError(TIMEOUT_NOT_FLOAT)
    if longdouble.is_inf(value):
        raise CommandError(TIMEOUT_NEGATIVE)
    ms = longdouble.scale(value, 1000)
    if longdouble.is_inf(ms):
        raise CommandError(TIMEOUT_NEGATIVE)
    ms = longdouble.ceil(ms)          # Redis 7.0: ceill(timeout * 1000.0)
    if ms < 0 or ms > _LLONG_MAX:
        raise CommandError(TIMEOUT_NEGATIVE)
    return ms


def parse_timeout_ms(arg: bytes) -> int:
    """XREAD BLOCK-style timeout in milliseconds (an integer), 0 = forever."""
    ms = parse_int(arg, TIMEOUT_NOT_INT)
    if ms < 0:
        raise CommandError(TIMEOUT_NEGATIVE)
    return ms


def install(engine) -> None:
    engine.blocking = Blocking(engine)


try:
    from .engine import extension
except ImportError:      # pragma: no cover - older core without per-engine extensions
    extension = None
if extension is not None:
    extension(install)

# Last: the command families import this module, so their argument parser comes after
# every definition above (a function-level import here cost ~0.7 us per BLOCK read).
from ..commands._args import parse_int  # noqa: E402
