"""WAIT, and the one place replication plugs into it.

Vermilion has no replicas yet: ``acked_replicas`` counts none, so WAIT with
numreplicas <= 0 answers 0 at once and WAIT with numreplicas > 0 blocks until
its timeout (forever with 0), then answers the count, exactly as a Redis master
without replicas does. Inside MULTI it answers at once; scripts may not call it.
"""
from __future__ import annotations

from ..engine.blocking import parse_timeout_ms
from ..engine.errors import NOT_INTEGER
from ..engine.table import command
from ._args import parse_int


def acked_replicas(engine, offset: int) -> int:
    """Replicas that acknowledged the replication offset (none without replication)."""
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
