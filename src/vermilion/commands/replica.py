"""Replication, replica side: REPLICAOF / SLAVEOF, and what a replica refuses.

The link itself (handshake, sync, applying the master's stream) is server/replica.py;
these commands steer it through `engine.replica_role`.

A replica refuses, as Redis 7.0's processCommand does (the master's own stream
is never refused):

* writes from clients while ``replica-read-only`` is on: ``-READONLY``;
* while the link is not up and ``replica-serve-stale-data`` is off, every command
  without the ``stale`` flag: ``-MASTERDOWN``.
"""
from __future__ import annotations

import logging

from ..engine.engine import extension
from ..engine.errors import CommandError
from ..engine.replies import OK, ErrorReply, Status
from ..engine.table import command

log = logging.getLogger("vermilion")
NOTICE = 25

READONLY = ErrorReply(b"READONLY You can't write against a read only replica.")
MASTERDOWN = ErrorReply(b"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is "
                        b"set to 'no'.")
# Scripts that declare they may write (a shebang without no-writes) count as writes.
_SCRIPT_RUNS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))
ALREADY_CONNECTED = Status(b"OK Already connected to specified master")


def _replicaof(client, args):
    engine = client.engine
    role = engine.replica_role
    if role is None:
        raise CommandError("ERR REPLICAOF is only available to a networked server")
    if engine.replication.failover_state != "no-failover":
        raise CommandError("ERR REPLICAOF not allowed while failing over.")
    host, port = args[1], args[2]
    if host.lower() == b"no" and port.lower() == b"one":
        if engine.master_link is not None:
            role.unset_master()
            log.log(NOTICE, "MASTER MODE enabled (user request from '%s')", _who(client))
        return OK
    if client.kind == "replica":
        raise CommandError("ERR Command is not valid when client is a replica.")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535 or not port.strip(b"+-").isdigit():
        raise CommandError("ERR Invalid master port")
    name = host.decode("utf-8", "surrogateescape")
    link = engine.master_link
    if link is not None and link.host.lower() == name.lower() and link.port == number:
        log.log(NOTICE, "REPLICAOF would result into synchronization with the master we are "
                        "already connected with. No operation performed.")
        return ALREADY_CONNECTED
    role.set_master(name, number)
    log.log(NOTICE, "REPLICAOF %s:%d enabled (user request from '%s')", name, number, _who(client))
    return OK


def _who(client) -> str:
    return "id=%d addr=%s" % (client.id, client.addr)


_REPLICAOF_ARGS = "args(host-port(host port:i)|no-one(NO ONE))"

command("replicaof", arity=3, flags="admin noscript stale no_async_loading", acl="",
        group="server", since="5.0.0", args=_REPLICAOF_ARGS,
        summary="Configures a server as replica of another, or promotes it to a master.")(_replicaof)
command("slaveof", arity=3, flags="admin noscript stale no_async_loading", acl="",
        group="server", since="1.0.0", args=_REPLICAOF_ARGS, doc_flags="deprecated",
        deprecated_since="5.0.0", replaced_by="`REPLICAOF`",
        summary="Sets a Redis server as a replica of another, or promotes it to being a master.")(
    _replicaof)


class ReplicaGate:
    """READONLY and MASTERDOWN (a gate hook, active while this server is a replica), and
    the keys clients write on a writable replica: those expire here (Redis's
    slaveKeysWithExpire), while the master's keys wait for the master's DEL."""

    def __init__(self, engine):
        self.engine = engine
        self.local_keys: set = set()        # (db index, key) written by clients here

    def __call__(self, client, cmd, args):
        engine = self.engine
        link = engine.master_link
        if link is None or client.kind == "master":
            return None
        config = engine.config
        scripts = engine.scripts
        writes = scripts.call_writes(cmd, args) or (cmd.name == "exec" and scripts.exec_writes(client))
        if writes and client.kind != "script":
            if config["replica-read-only"]:
                return READONLY
            db = client.db
            try:
                positions = cmd.key_indexes(args)
            except CommandError:
                positions = ()          # the command itself will refuse these arguments
            now = engine.clock.ms()
            for i in positions:
                key = args[i]
                self.local_keys.add((db.index, key))
                when = db.expires.get(key)
                if when is not None and when < now:
                    # A write deletes the logically expired keys it touches, so it
                    # starts from a missing key (Redis's LOOKUP_WRITE on a replica).
                    self._expire(db, key)
        if not config["replica-serve-stale-data"] and not link.connected and (
                not cmd.stale_ok
                or (cmd.name in _SCRIPT_RUNS and not scripts.allows_stale(args, cmd.name))
                or (cmd.name == "exec" and any(not queued.stale_ok for queued, _ in client.multi or ()))):
            # (EXEC: the replica may have gone stale since the commands were queued.)
            return MASTERDOWN
        return None

    def expire_local_keys(self, now_ms: int) -> None:
        """Cron: delete the due keys among those written here (with DEL to the AOF)."""
        engine = self.engine
        keys = self.local_keys
        if not keys:
            return
        if engine.master_link is None:
            keys.clear()
            return
        for index, key in list(keys):
            db = engine.dbs[index]
            when = db.expires.get(key)
            if when is None:
                keys.discard((index, key))      # gone, or no TTL: nothing to expire
            elif when < now_ms:
                keys.discard((index, key))
                self._expire(db, key)

    def _expire(self, db, key: bytes) -> None:
        """Delete an expired key although a replica suspends expiry (DEL to the AOF)."""
        engine = self.engine
        suspended = engine.expiry_suspended
        engine.expiry_suspended = False
        try:
            db.expire_now(key)
        finally:
            engine.expiry_suspended = suspended


@extension
def _setup(engine) -> None:
    gate = ReplicaGate(engine)
    # First: Redis checks these before queueing inside MULTI (so EXEC then aborts).
    engine.add_gate_hook(gate, first=True)
    engine.add_cron_task(gate.expire_local_keys)
