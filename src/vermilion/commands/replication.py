"""Replication, master side: SYNC, and WAIT with the one place replication plugs into it.

A client that sends SYNC gets what a Redis 7.0 master sends a replica doing a full
synchronisation: the dataset as an RDB payload (``$<length>\\r\\n`` and the bytes, no
trailing CRLF), then every write the server propagates, as the commands AOF would
get (SELECT when the database changes, MULTI/EXEC around transactions and scripts,
DEL for expired keys). That is what replicas and stream observers (Redis's own
test suite reads it to check propagation) rely on. PSYNC, REPLCONF acknowledgements
and the replica side (REPLICAOF) are not implemented.

WAIT: no replica acknowledges offsets yet, so ``acked_replicas`` counts none; WAIT
with numreplicas <= 0 answers 0 at once and WAIT with numreplicas > 0 blocks until
its timeout (forever with 0), then answers the count, exactly as a Redis master
without acknowledging replicas does. Inside MULTI it answers at once; scripts may
not call it.
"""
from __future__ import annotations

from ..engine.blocking import parse_timeout_ms
from ..engine.engine import extension
from ..engine.errors import NOT_INTEGER, CommandError
from ..engine.replies import NO_REPLY
from ..engine.table import command
from ._args import parse_int


@command("sync", arity=1, flags="admin noscript no_async_loading no_multi", group="server",
         since="1.0.0", summary="An internal command used in replication.")
def sync(client, args):
    engine = client.engine
    repl = engine.replication
    if client.kind == "replica":
        return NO_REPLY         # already a replica: Redis ignores a second SYNC
    if client.kind == "script":
        raise CommandError("ERR Replica can't be a script client")
    payload = b"".join(engine.persistence.rdb_chunks())
    client.kind = "replica"
    link = repl.attach(client)
    repl.selected_db = -1
    link.start_offset = repl.master_repl_offset
    client.push(b"$%d\r\n" % len(payload))
    client.push(payload)
    link.go_online()
    return NO_REPLY


def acked_replicas(engine, offset: int) -> int:
    """Replicas that acknowledged the replication offset (none: no REPLCONF ACK yet)."""
    return 0


def _serve_nothing(waiter, key):
    return None


@command("wait", arity=3, flags="noscript", acl="connection", group="generic", since="3.0.0",
         tips=("request_policy:all_shards", "response_policy:agg_min"),
         summary="Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.")
def wait(client, args):
    numreplicas = parse_int(args[1], NOT_INTEGER)
    timeout_ms = parse_timeout_ms(args[2])
    engine = client.engine
    acked = acked_replicas(engine, 0)
    if acked >= numreplicas or client.multi is not None:
        return acked
    # Nothing readies a key-less waiter: only the timeout (or CLIENT UNBLOCK) answers it.
    return engine.blocking.block(client, [], timeout_ms, _serve_nothing, acked)


@extension
def _setup(engine) -> None:
    def disconnected(client) -> None:
        engine.replication.detach(client, engine.clock.ms())

    engine.disconnect_hooks.append(disconnected)
