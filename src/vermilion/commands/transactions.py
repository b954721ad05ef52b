"""Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH (Redis 7.0 semantics).

A client inside MULTI has the GATE_MULTI bit in `client.gate`, so only it pays
for the queueing check (`_gate`, a dispatch gate hook; when MULTI is the client's
only gate bit and the server has no busy bit, Engine.execute queues the usual
command itself, see `_mark_queued_commands`). While queueing:

* commands are checked as if they ran now (unknown command, arity, NOAUTH,
  pub/sub context, a busy script ...); a refused command is answered with its
  error and flags the transaction, and EXEC then fails with EXECABORT;
* commands flagged ``no_multi`` are refused ("Command not allowed inside a
  transaction"), which also flags the transaction;
* MULTI, EXEC, DISCARD, WATCH, QUIT and RESET run at once; everything else is
  queued and answered ``+QUEUED``.

EXEC runs the queue in one go (one thread owns the data, so nothing interleaves);
runtime errors are returned in place in the result array. WATCH records
(db, key) -> clients in `Database.watched`; every write path of the keyspace
(set/add/modified/delete/pop/expire/clear) calls `engine.touch_watched`, which
sets `client.dirty_cas`; EXEC then returns a null array. A watched key that
reaches its expiry time before EXEC also makes EXEC fail, as in Redis 7.0.

Propagation: the effects of the queued commands are collected while EXEC runs
and sent to the sinks as one MULTI ... EXEC block (a single effect needs no
wrapper, as in Redis 7.0's propagatePendingCommands).
"""
from __future__ import annotations

from ..engine.client import GATE_MULTI
from ..engine.engine import BUSY_PAUSED, BUSY_SCRIPT, extension
from ..engine.errors import CommandError
from ..engine.replies import NULL_ARRAY, OK, POSTPONED, QUEUED, ErrorReply
from ..engine.table import COMMANDS, command
from ..scripting.scripts import propagate_block

EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOT_IN_MULTI = "ERR Command not allowed inside a transaction"


# -- commands ------------------------------------------------------------------------------------

@command("multi", arity=1, flags="noscript loading stale fast allow_busy", acl="transaction",
         group="transactions", since="1.2.0", summary="Starts a transaction.")
def multi(client, args):
    if client.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    client.multi = []
    client.multi_error = False
    client.gate |= GATE_MULTI
    return OK


@command("exec", arity=1, flags="noscript loading stale skip_slowlog", acl="transaction",
         group="transactions", since="1.2.0", summary="Executes all commands in a transaction.")
def exec_(client, args):
    queue = client.multi
    engine = client.engine
    if engine.monitors:
        # Redis shows EXEC to MONITOR after the commands it ran (see the note at the end).
        try:
            return _exec(client, queue, engine)
        finally:
            engine.feed_monitors(client, args)
    return _exec(client, queue, engine)


def _exec(client, queue, engine):
    if queue is None:
        raise CommandError("ERR EXEC without MULTI")
    if client.watching:
        if not client.dirty_cas and _watched_key_expired(client):
            client.dirty_cas = True
        unwatch_all(client)
    if client.multi_error:
        discard_transaction(client)
        raise CommandError(EXECABORT)
    if client.dirty_cas:
        discard_transaction(client)
        return NULL_ARRAY
    results = []
    if queue:
        # Blocking commands inside EXEC answer at once (Redis's CLIENT_DENY_BLOCKING).
        was_denied = client.deny_blocking
        client.deny_blocking = True
        own_capture = engine.sinks and engine.capture is None
        if own_capture:
            engine.capture = []
        call = engine.call
        engine.in_exec = True
        try:
            if client.acl_restricted:
                # ACL rules may have changed since the commands were queued.
                refusal = engine.acl.exec_refusal
                results = [refusal(client, cmd, argv) or call(client, cmd, argv)
                           for cmd, argv in queue]
            else:
                results = [call(client, cmd, argv) for cmd, argv in queue]
        finally:
            engine.in_exec = False
            client.deny_blocking = was_denied
            if own_capture:
                effects, engine.capture = engine.capture, None
                propagate_block(engine, effects)
    discard_transaction(client)
    engine.effects = ()     # already propagated (or captured by an enclosing block)
    return results


@command("discard", arity=1, flags="noscript loading stale fast allow_busy", acl="transaction",
         group="transactions", since="2.0.0", summary="Discards a transaction.")
def discard(client, args):
    if client.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    discard_transaction(client)
    return OK


@command("watch", arity=-2, flags="noscript loading stale fast allow_busy", keys=(1, -1, 1),
         acl="transaction", group="transactions", since="2.2.0",
         summary="Monitors changes to keys to determine the execution of a transaction.",
         args="key:k0...")
def watch(client, args):
    if client.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    db = client.db
    watching = client.watching
    index = db.index
    for key in args[1:]:
        entry = (index, key)
        if entry in watching:
            continue
        # A key already past its expiry is deleted first: Redis does not count the
        # deletion of a key that was expired when WATCHed as a change.
        if db.expires and key in db.expires:
            db.get(key)
        watching.add(entry)
        clients = db.watched.get(key)
        if clients is None:
            db.watched[key] = {client}
        else:
            clients.add(client)
    return OK


@command("unwatch", arity=1, flags="noscript loading stale fast allow_busy", acl="transaction",
         group="transactions", since="2.2.0", summary="Forgets about watched keys of a transaction.")
def unwatch(client, args):
    unwatch_all(client)
    client.dirty_cas = False
    return OK


# -- state helpers -------------------------------------------------------------------------------

def unwatch_all(client) -> None:
    watching = client.watching
    if not watching:
        return
    dbs = client.engine.dbs
    for index, key in watching:
        watched = dbs[index].watched
        clients = watched.get(key)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del watched[key]
    watching.clear()


def discard_transaction(client) -> None:
    client.multi = None
    client.multi_error = False
    client.dirty_cas = False
    if client.watching:
        unwatch_all(client)
    client.gate &= ~GATE_MULTI


def _watched_key_expired(client) -> bool:
    """Redis 7.0's isWatchedKeyExpired: a watched key past its TTL (deleted or not)."""
    dbs = client.engine.dbs
    now = None
    for index, key in client.watching:
        expires = dbs[index].expires
        when = expires.get(key) if expires else None
        if when is not None:
            if now is None:
                now = client.engine.clock.ms()
            if now > when:          # the keyspace's rule: expired once now > when
                return True
    return False


# -- dispatch gate -------------------------------------------------------------------------------

_RUN_IN_MULTI = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))


def _gate(client, cmd, args):
    engine = client.engine
    if engine.busy & BUSY_SCRIPT:
        scripts = engine.scripts
        if scripts is not None:
            refusal = scripts.busy_refusal(client, cmd, args)
            if refusal is not None:
                return refusal
    if client.gate & GATE_MULTI:
        if cmd.queued_in_multi or _queued(cmd):
            client.multi.append((cmd, args))
            return QUEUED
        if cmd.no_multi:
            return engine.reject(cmd, CommandError(NOT_IN_MULTI))
        name = cmd.parent.name if cmd.parent is not None else cmd.name
        if name in _RUN_IN_MULTI:
            if name == "exec" and engine.busy & BUSY_PAUSED and engine.pause_mode == "write" \
                    and any(engine.writes(c, a) for c, a in client.multi) \
                    and engine.clock.ms() < engine.pause_until:
                return POSTPONED        # CLIENT PAUSE WRITE holds an EXEC that would write
            return None
    return None


def _multi_refused(client, cmd, reply: ErrorReply):
    """A command refused while queueing flags the transaction; a refused EXEC aborts it."""
    if cmd is not None and cmd.handler is exec_:
        if client.multi is not None:
            discard_transaction(client)
        message = reply.message
        return ErrorReply(b"EXECABORT Transaction discarded because of: " +
                          (message[4:] if message.startswith(b"ERR ") else message))
    if client.multi is not None:
        client.multi_error = True
    return reply


def _forget(client) -> None:
    """Disconnect or RESET: drop the transaction and every WATCH."""
    if client.multi is not None or client.watching or client.dirty_cas:
        discard_transaction(client)


# The dispatcher feeds MONITOR before running a command; EXEC is fed by exec_ itself,
# after its queued commands, which is the order Redis shows. (Only the runtime
# attribute changes: COMMAND INFO still lists EXEC's real flags.)
COMMANDS["exec"].skip_monitor = True


def _queued(cmd) -> bool:
    """Inside MULTI, is this command queued (rather than refused or run at once)?"""
    name = cmd.parent.name if cmd.parent is not None else cmd.name
    return not cmd.no_multi and name not in _RUN_IN_MULTI


def _mark_queued_commands() -> None:
    # `queued_in_multi`, a C field of the table row: the commands that, inside MULTI, are
    # queued with no other check at queue time. Engine.execute queues them at once when
    # only MULTI gates the client (no busy bit); `protected` commands (DEBUG, MODULE)
    # are queued too, but only after their own check, so they take the gate hooks.
    for cmd in COMMANDS.values():
        for row in (cmd, *(cmd.subcommands or {}).values()):
            row.queued_in_multi = _queued(row) and "protected" not in row.flags


@extension
def _setup(engine) -> None:
    _mark_queued_commands()     # once the table is complete (every family imported)
    engine.add_gate_hook(_gate)
    engine.multi_refused = _multi_refused
    engine.disconnect_hooks.append(_forget)
    if not hasattr(engine, "scripts"):
        engine.scripts = None
