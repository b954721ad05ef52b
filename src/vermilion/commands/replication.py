"""Replication, master side: SYNC.

A client that sends SYNC gets what a Redis 7.0 master sends a replica doing a full
synchronisation: the dataset as an RDB payload (``$<length>\\r\\n`` and the bytes, no
trailing CRLF), then every write the server propagates, as the commands AOF would
get (SELECT when the database changes, MULTI/EXEC around transactions and scripts,
DEL for expired keys). That is what replicas and stream observers (Redis's own
test suite reads it to check propagation) rely on. PSYNC, REPLCONF and the replica
side (REPLICAOF) are not implemented.
"""
from __future__ import annotations

from ..engine.engine import extension
from ..engine.errors import CommandError
from ..engine.replies import NO_REPLY
from ..engine.table import command
from ..persistence.aof import encode_command, select_command


class ReplicaStream:
    """One replica's share of the propagated writes (an `engine.sinks` entry)."""

    def __init__(self, client):
        self.client = client
        self.selected = -1          # a new replica has no database selected

    def feed(self, db_index: int, argv) -> None:
        client = self.client
        if client.closing:
            return
        if db_index != self.selected:
            client.push(select_command(db_index))
            self.selected = db_index
        client.push(encode_command(argv))


@command("sync", arity=1, flags="admin noscript no_async_loading no_multi", group="server",
         since="1.0.0", summary="An internal command used in replication.")
def sync(client, args):
    engine = client.engine
    if client.kind == "replica":
        return NO_REPLY         # already a replica: Redis ignores a second SYNC
    if client.kind == "script":
        raise CommandError("ERR Replica can't be a script client")
    payload = b"".join(engine.persistence.rdb_chunks())
    client.kind = "replica"
    stream = ReplicaStream(client)
    engine.replicas[client] = stream
    engine.sinks.append(stream.feed)
    client.push(b"$%d\r\n" % len(payload))
    client.push(payload)
    return NO_REPLY


@extension
def _setup(engine) -> None:
    def disconnected(client) -> None:
        stream = engine.replicas.pop(client, None)
        if stream is not None and stream.feed in engine.sinks:
            engine.sinks.remove(stream.feed)

    engine.disconnect_hooks.append(disconnected)
