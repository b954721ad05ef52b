"""Client-side caching: the tracking table and invalidation messages (Redis 7.0's tracking.c).

Two modes, per client (CLIENT TRACKING ON ...):

* Default: every key a tracking client reads (a read-only command's key
  positions, after it ran) is remembered in one table, key -> client ids, shared
  by all databases as in Redis. When the key is changed (any write, expiry,
  eviction, a DEL by anyone) every client in its entry gets one invalidation
  and the entry is dropped: a client hears about a key once per read.
  OPTIN remembers only the command right after CLIENT CACHING YES, OPTOUT all but
  the one after CLIENT CACHING NO.
* BCAST: no table; a client subscribes to key prefixes ("" = every key) and
  hears about every changed key matching them. Changed keys are collected per
  prefix and sent once per event-loop turn, as one array (Redis's beforeSleep).

Delivery: a RESP3 push `invalidate [keys]`; with REDIRECT, to the other client
(a RESP3 push, or in RESP2 a pub/sub message on `__redis__:invalidate` if that
client is subscribed, else nothing). FLUSHDB/FLUSHALL/SWAPDB send a null
invalidation to every tracking client and empty the table. A client's own
invalidation caused by its own command is sent after that command's reply.

Cost: one bit test per command (`Engine.call`) while no client tracks. While one
does, every database's `watched` holds a stand-in entry so each write reaches
`Engine.touch_watched` (which calls `invalidate`), the BUSY_TRACKING bit sends
every command through the gatekeeper (so the current client is known, NOLOOP and
ordering work), and `Engine.call` remembers the keys of read-only commands.

Eviction: whoever evicts a key deletes it through `Database.delete` (that alone
invalidates it) or calls `invalidate(key)`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .engine import BUSY_TRACKING

if TYPE_CHECKING:
    from .engine import Engine
INVALIDATE_CHANNEL = b"__redis__:invalidate"

_PUSH_HEAD = b">2\r\n$10\r\ninvalidate\r\n"
_MESSAGE_HEAD = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_NULL = {False: b"$-1\r\n", True: b"_\r\n"}


class _Everywhere:
    """The stand-in kept in every `Database.watched` while anyone tracks: it makes
    the keyspace report every write (it is never looked up by key)."""

    __slots__ = ()

    def __repr__(self):
        return "<tracking>"


STAND_IN = _Everywhere()


class ClientTracking:
    """One client's CLIENT TRACKING state."""

    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching", "broken",
                 "prefixes", "caching_ends")

    def __init__(self):
        self.redirect = 0
        self.bcast = self.optin = self.optout = self.noloop = False
        self.caching = False            # CLIENT CACHING YES/NO given for the next command
        self.caching_ends = False       # ... and the next command consumes it
        self.broken = False             # the redirect client is gone
        self.prefixes: list[bytes] = []

    def flags(self) -> list[bytes]:
        """CLIENT TRACKINGINFO's flags, in Redis's order."""
        caching = self.caching
        shown = ((self.bcast, b"bcast"), (self.optin, b"optin"),
                 (self.optin and caching, b"caching-yes"), (self.optout, b"optout"),
                 (self.optout and caching, b"caching-no"), (self.noloop, b"noloop"),
                 (self.broken, b"broken_redirect"))
        return [b"on"] + [name for on, name in shown if on]


class Tracking:
    def __init__(self, engine: "Engine"):
        self.engine = engine
        self.count = 0                              # clients with tracking on
        self.table: dict[bytes, set[int]] = {}      # key -> ids of clients that read it
        self.items = 0                              # sum of the sets' sizes
        self.prefixes: dict[bytes, set] = {}        # BCAST prefix -> clients
        self.changed: dict[bytes, dict] = {}        # prefix -> {key: writer} this turn
        self.current = None                         # client whose command is running
        self.current_cmd = None
        self.deferred: list = []                    # (client, key|None) after its reply
        self._turn_scheduled = False
        self.suppressed = 0                         # inside a flush: no per-key messages
        engine.add_gate_hook(self._gate)
        engine.disconnect_hooks.append(self.disable)
        engine.add_cron_task(lambda now: self.limit_table())

    # -- enabling ---------------------------------------------------------------------

    def enable(self, client, redirect: int, bcast: bool, optin: bool, optout: bool,
               noloop: bool, prefixes: list[bytes]) -> None:
        state = client.tracking
        if state is None:
            state = client.tracking = ClientTracking()
            self.count += 1
            if self.count == 1:
                self._activate()
        state.redirect = redirect
        state.broken = False
        state.optin, state.optout, state.noloop = optin, optout, noloop
        if bcast:
            state.bcast = True
            for prefix in prefixes or [b""]:
                clients = self.prefixes.setdefault(prefix, set())
                if client not in clients:
                    clients.add(client)
                    state.prefixes.append(prefix)
            state.prefixes.sort()

    def disable(self, client) -> None:
        state = client.tracking
        if state is None:
            return
        for prefix in state.prefixes:
            clients = self.prefixes.get(prefix)
            if clients is not None:
                clients.discard(client)
                if not clients:
                    del self.prefixes[prefix]
                    self.changed.pop(prefix, None)
        client.tracking = None
        self.count -= 1
        if self.count == 0:
            self._deactivate()

    def _activate(self) -> None:
        engine = self.engine
        engine.busy |= BUSY_TRACKING
        for db in engine.dbs:
            db.watched[STAND_IN] = set()

    def _deactivate(self) -> None:
        engine = self.engine
        engine.busy &= ~BUSY_TRACKING
        for db in engine.dbs:
            db.watched.pop(STAND_IN, None)
        self.current = self.current_cmd = None

    # -- per command ------------------------------------------------------------------

    def _gate(self, client, cmd, args):
        """Every top-level command while anyone tracks (BUSY_TRACKING)."""
        if not self.count:
            return None             # a gated client (MULTI, pub/sub ...) while nobody tracks
        if self.deferred:
            self._send_deferred()
        state = client.tracking
        if state is not None and state.caching and state.caching_ends:
            state.caching = state.caching_ends = False
        self.current, self.current_cmd = client, cmd
        if self.table and self.engine.config["tracking-table-max-keys"]:
            self.limit_table()
        return None

    def after_call(self, client, cmd, args) -> None:
        """From Engine.call, after a command ran (top level, inside EXEC or a script)."""
        if client is self.current and cmd is self.current_cmd:
            self.current = self.current_cmd = None
            state = client.tracking
            # Redis's resetClient: CLIENT CACHING applies to the next command, which
            # consumes it unless it is a CLIENT command or the client is in MULTI.
            if state is not None and state.caching and cmd.name != "client" and \
                    (cmd.parent is None or cmd.parent.name != "client") and client.multi is None:
                state.caching_ends = True
        if not cmd.is_readonly or cmd.is_pubsub or cmd.name in ("eval_ro", "evalsha_ro", "fcall_ro"):
            return
        caller = client
        if client.kind == "script":
            ctx = getattr(self.engine, "scripts", None)
            ctx = ctx.ctx if ctx is not None else None
            if ctx is None:
                return
            caller = ctx.caller
            if caller is None:
                return
            # A read inside a script remembers the keys the script was called with (Redis
            # runs trackingRememberKeys on the caller's own command), not the keys read.
            args = ctx.command
            cmd = self.engine.find_command(args[0]) if args else None
            if cmd is None:
                return
        state = caller.tracking
        if state is None or state.bcast:
            return
        if (state.optin and not state.caching) or (state.optout and state.caching):
            return
        indexes = cmd.key_indexes(args)
        if not indexes:
            return
        table = self.table
        cid = caller.id
        for i in indexes:
            key = args[i]
            ids = table.get(key)
            if ids is None:
                table[key] = {cid}
                self.items += 1
            elif cid not in ids:
                ids.add(cid)
                self.items += 1

    # -- invalidation ----------------------------------------------------------------

    def invalidate(self, key: bytes, bcast: bool = True) -> None:
        """`key` was changed (or is evicted): tell the clients that may cache it."""
        if self.suppressed:
            return
        current = self.current
        if bcast and self.prefixes:
            for prefix, _ in self.prefixes.items():
                if key.startswith(prefix):
                    changed = self.changed.get(prefix)
                    if changed is None:
                        changed = self.changed[prefix] = {}
                    changed[key] = current
            if self.changed and not self._turn_scheduled:
                self._schedule_turn_end()
        ids = self.table.pop(key, None)
        if not ids:
            return
        self.items -= len(ids)
        clients = self.engine.clients
        for cid in ids:
            target = clients.get(cid)
            if target is None:
                continue
            state = target.tracking
            if state is None or state.bcast:
                continue
            if target is current:
                if state.noloop:
                    continue
                # After the reply of the command that is running.
                self.deferred.append((target, key))
                self._schedule_turn_end()
            else:
                self.send(target, _keys_frame([key]))

    def flush(self) -> "_Flush":
        """FLUSHDB / FLUSHALL / SWAPDB: `with tracking.flush(): ...` sends every tracking
        client a null invalidation and empties the table; the keys the flush itself
        removes are not reported one by one."""
        return _Flush(self)

    def _flushed(self) -> None:
        # The table is emptied even when no client tracks any more (Redis frees it on
        # every flush): entries of clients that turned tracking off would linger.
        current = self.current
        for client in list(self.engine.clients.values()) if self.count else ():
            state = client.tracking
            if state is None:
                continue
            if client is current:
                self.deferred.append((client, None))
                self._schedule_turn_end()
            else:
                self.send(client, _NULL[client.resp3])
        self.table = {}
        self.items = 0

    def send(self, client, value: bytes) -> None:
        """Deliver an encoded invalidation value (keys array or null) for `client`."""
        state = client.tracking
        if state is None:
            return
        dest = client
        redirected = False
        if state.redirect:
            dest = self.engine.clients.get(state.redirect)
            if dest is None:
                state.broken = True
                if client.resp3:
                    client.push(b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % state.redirect)
                return
            redirected = True
        if dest.resp3:
            dest.push(_PUSH_HEAD + value)
        elif redirected and dest.subscription_count:
            dest.push(_MESSAGE_HEAD + value)

    def _schedule_turn_end(self) -> None:
        if self._turn_scheduled:
            return
        loop = self.engine.loop
        if loop is None:
            return
        self._turn_scheduled = True
        loop.call_soon(self._turn_end)

    def _turn_end(self) -> None:
        self._turn_scheduled = False
        if self.deferred:
            self._send_deferred()
        self.current = self.current_cmd = None
        if self.changed:
            self._broadcast()

    def _send_deferred(self) -> None:
        deferred, self.deferred = self.deferred, []
        for client, key in deferred:
            if not client.closing:
                self.send(client, _keys_frame([key]) if key is not None else _NULL[client.resp3])

    def _broadcast(self) -> None:
        """Redis's trackingBroadcastInvalidationMessages: per prefix, the keys changed
        this turn (in key order), to each client of the prefix; a NOLOOP client does
        not hear about the keys it changed last itself."""
        changed, self.changed = self.changed, {}
        for prefix in sorted(changed):
            keys = changed[prefix]
            clients = self.prefixes.get(prefix)
            if not clients or not keys:
                continue
            ordered = sorted(keys)
            frame = _keys_frame(ordered)
            for client in list(clients):
                state = client.tracking
                if state is None:
                    continue
                if state.noloop:
                    own = [k for k in ordered if keys[k] is not client]
                    if own:
                        self.send(client, _keys_frame(own))
                else:
                    self.send(client, frame)

    # -- the table's size -------------------------------------------------------------

    def limit_table(self) -> None:
        """tracking-table-max-keys: over it, the oldest entries are invalidated (Redis
        picks random ones) until the table fits, at most 100 per call, as Redis's
        effort per call starts."""
        limit = self.engine.config["tracking-table-max-keys"]
        table = self.table
        if not limit or len(table) <= limit:
            return
        saved = self.current
        self.current = None              # evicting is no client's change (no NOLOOP)
        try:
            for _ in range(100):
                if len(table) <= limit:
                    break
                self.invalidate(next(iter(table)), bcast=False)
        finally:
            self.current = saved

    # -- INFO ---------------------------------------------------------------------------

    def total_keys(self) -> int:
        return len(self.table)

    def total_prefixes(self) -> int:
        return len(self.prefixes)


class _Flush:
    __slots__ = ("tracking",)

    def __init__(self, tracking: Tracking):
        self.tracking = tracking

    def __enter__(self):
        tracking = self.tracking
        tracking._flushed()
        tracking.suppressed += 1
        return self

    def __exit__(self, *exc):
        self.tracking.suppressed -= 1
        return False


def _keys_frame(keys: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%b\r\n" % (len(k), k) for k in keys)
