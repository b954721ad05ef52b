"""Per-command CPU cost of the dispatch path, without sockets.

Feeds pipelined requests straight into a Connection whose transport discards the
output, and reports process CPU time per command. Because it measures CPU time
of this process only, it is usable on a busy machine where redis-benchmark
numbers are noise; use it to compare changes to the hot path.

    python benchmarks/micro_dispatch.py [--profile]
    python benchmarks/micro_dispatch.py --user "~app:* +@read +@write"

--replica attaches an online replica connection, so that writes also pay for the
replication stream (engine/replication.py) and its per-turn write.

--as-replica feeds the workload to a replica as its master's stream (the master
client applying it, server/replica.py), so the cost per applied write is measured.

--user RULES runs every workload as an ACL user with those rules (its keys are
then named app:...), so the cost of the ACL check is what differs from a run
without it.
"""
from __future__ import annotations

import argparse
import time


class NullTransport:
    def __init__(self):
        self.bytes = 0

    def write(self, data):
        self.bytes += len(data)

    def is_closing(self):
        return False

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def close(self):
        pass

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class TurnLoop:
    """Stands in for the event loop: call_soon callbacks run at the end of each read,
    as the replies deferred to the end of a loop turn are flushed there."""

    def __init__(self):
        self.ready = []

    def call_soon(self, fn, *args):
        self.ready.append((fn, args))

    def end_turn(self):
        ready, self.ready = self.ready, []
        for fn, args in ready:
            fn(*args)


def make_connection():
    from vermilion.config import Config
    from vermilion.engine.engine import Engine
    from vermilion.server.connection import Connection
    from vermilion.server.server import Server

    config = Config()
    engine = Engine(config)
    engine.loop = TurnLoop()
    server = Server(engine)
    conn = Connection(server)
    conn.connection_made(NullTransport())
    if USER_RULES is not None:
        engine.acl.setuser("bench", ["on", "nopass", *USER_RULES])
        assert engine.acl.authenticate(conn, b"bench", b"", [b"AUTH"])
    if WITH_REPLICA:
        # An online replica connection: every write also goes to the backlog and to it.
        replica = Connection(server)
        replica.connection_made(NullTransport())
        link = engine.replication.attach(replica)
        replica.kind = "replica"
        link.state = "online"
        link.streaming = True
    return conn


# Prefix of every key name ("app:" with --user, so that ~app:* allows them).
class ReplicaFeed:
    """A replica's link to its master, fed directly: `data_received` applies the bytes
    as the master's stream (MasterLink._apply)."""

    def __init__(self):
        from vermilion.config import Config
        from vermilion.engine.engine import Engine
        from vermilion.server.parser import RequestParser
        from vermilion.server.replica import MasterClient, MasterLink
        from vermilion.server.server import Server

        engine = self.engine = Engine(Config())
        engine.loop = TurnLoop()
        server = Server(engine)
        role = server.replica_role
        link = self.link = MasterLink(role, "127.0.0.1", 1)
        engine.master_link = link
        engine.config.values["replicaof"] = "127.0.0.1 1"
        engine.expiry_suspended = True
        engine.replication.set_role("slave")
        role.synced(None, 0)
        role.update_busy()
        link.client = MasterClient(engine, link)
        engine.clients[link.client.id] = link.client
        link.parser = RequestParser(engine.config["proto-max-bulk-len"])
        link.state = "connected"

    def data_received(self, data: bytes) -> None:
        self.link._apply(data)


PREFIX = b""


def k(name: bytes) -> bytes:
    return PREFIX + name


WORKLOADS = {
    "PING": lambda i: encode(b"PING"),
    "SET": lambda i: encode(b"SET", k(b"key:%06d" % (i % 1000)), b"xxx"),
    "GET": lambda i: encode(b"GET", k(b"key:%06d" % (i % 1000))),
    "INCR": lambda i: encode(b"INCR", k(b"counter")),
    "SET_NX_PX": lambda i: encode(b"SET", k(b"lock:%06d" % (i % 1000)), b"v", b"NX", b"PX", b"30000"),
    "XADD": lambda i: encode(b"XADD", k(b"stream"), b"*", b"f", b"v"),
    "XADD_MAXLEN": lambda i: encode(b"XADD", k(b"capped"), b"MAXLEN", b"~", b"10000", b"*", b"f", b"v"),
    "LPUSH": lambda i: encode(b"LPUSH", k(b"list"), b"xxx"),
    "HSET": lambda i: encode(b"HSET", k(b"hash"), b"f:%06d" % (i % 1000), b"v"),
    # redis-benchmark's HSET: one hash of ~100k fields, a new field about half the time.
    "HSET_BIG": lambda i: encode(b"HSET", k(b"myhash"), b"element:%06d" % ((i * 7919) % 100000), b"xxx"),
    "HGET": lambda i: encode(b"HGET", k(b"bighash"), b"f:%06d" % (i % 1000)),
    "HSET_SMALL": lambda i: encode(b"HSET", k(b"small:%d" % (i % 1000)), b"f%d" % (i % 8), b"v%d" % i),
    "HGET_SMALL": lambda i: encode(b"HGET", k(b"small:%d" % (i % 1000)), b"f%d" % (i % 8)),
    "SADD": lambda i: encode(b"SADD", k(b"set"), b"element:%06d" % (i % 100000)),
    "ZADD": lambda i: encode(b"ZADD", k(b"zset"), b"%d" % (i % 1000), b"element:%06d" % (i % 100000)),
    "ZRANK": lambda i: encode(b"ZRANK", k(b"bigzset"), b"element:%06d" % (i % 1000)),
    # Small collections (1000 keys): lists of 5-37 elements, zsets of 8 members.
    "LPUSH_SMALL": lambda i: encode(b"LPUSH", k(b"small:%d" % (i % 1000)), b"xxx"),
    "RPOP_SMALL": lambda i: encode(b"RPOP", k(b"small:%d" % (i % 1000))),
    "ZADD_SMALL": lambda i: encode(b"ZADD", k(b"small:%d" % (i % 1000)), b"%d" % (i % 97),
                                   b"member%d" % (i % 8)),
    "ZRANK_SMALL": lambda i: encode(b"ZRANK", k(b"small:%d" % (i % 1000)), b"member%d" % (i % 8)),
    "ZSCORE_SMALL": lambda i: encode(b"ZSCORE", k(b"small:%d" % (i % 1000)), b"member%d" % (i % 8)),
    "ZINCRBY_SMALL": lambda i: encode(b"ZINCRBY", k(b"small:%d" % (i % 1000)), b"%d" % (i % 7 - 3),
                                      b"member%d" % (i % 8)),
    # Integer sets: 1000 of 8 members (packed), 10 of 300-400 (Redis: intset).
    "SADD_INTS_SMALL": lambda i: encode(b"SADD", k(b"small:%d" % (i % 1000)), b"%d" % (i % 11)),
    "SISMEMBER_INTS_SMALL": lambda i: encode(b"SISMEMBER", k(b"small:%d" % (i % 1000)), b"%d" % (i % 11)),
    "SADD_INTSET": lambda i: encode(b"SADD", k(b"ints:%d" % (i % 10)), b"%d" % ((i * 7919) % 400)),
    "SISMEMBER_INTSET": lambda i: encode(b"SISMEMBER", k(b"ints:%d" % (i % 10)), b"%d" % ((i * 7919) % 400)),
    "PUBLISH": lambda i: encode(b"PUBLISH", b"channel", b"hello"),
    "PFADD": lambda i: encode(b"PFADD", k(b"hll"), b"el:%06d" % ((i * 7919) % 100000)),
    "LRANGE_100": lambda i: encode(b"LRANGE", k(b"biglist"), b"0", b"99"),
    "MULTI_EXEC": lambda i: b"".join([
        encode(b"MULTI"), encode(b"SET", k(b"tx:%d" % (i % 100)), b"v"),
        encode(b"GET", k(b"tx:%d" % (i % 100))), encode(b"HSET", k(b"txh:%d" % (i % 100)), b"f", b"v"),
        encode(b"EXPIRE", k(b"tx:%d" % (i % 100)), b"100"), encode(b"EXEC")]),
}

# Data a workload reads, loaded before it is timed.
SETUP = {
    "HSET_BIG": lambda: [encode(b"HSET", k(b"myhash"), *[x for j in range(0, 100000, 2)
                                                          for x in (b"element:%06d" % j, b"xxx")])],
    "HGET": lambda: [encode(b"HSET", k(b"bighash"), *[x for j in range(1000) for x in (b"f:%06d" % j, b"v")])],
    "HGET_SMALL": lambda: [encode(b"HSET", k(b"small:%d" % i), *[x for j in range(8) for x in (b"f%d" % j, b"value")])
                           for i in range(1000)],
    "PFADD": lambda: [encode(b"PFADD", k(b"hll"), *[b"seed:%d" % i for i in range(2000)])],
    "LRANGE_100": lambda: [encode(b"RPUSH", k(b"biglist"), *[b"element:%d" % i for i in range(100)])],
    "ZRANK": lambda: [encode(b"ZADD", k(b"bigzset"), *[x for j in range(1000) for x in (b"%d" % j, b"element:%06d" % j)])],
    "LPUSH_SMALL": lambda: [encode(b"RPUSH", k(b"small:%d" % i), *[b"element%d" % j for j in range(5)])
                            for i in range(1000)],
    "RPOP_SMALL": lambda: [encode(b"RPUSH", k(b"small:%d" % i), *[b"element%d" % j for j in range(100)])
                           for i in range(1000)],
    "ZADD_SMALL": lambda: [encode(b"ZADD", k(b"small:%d" % i), *[x for j in range(8) for x in (b"%d" % j, b"member%d" % j)])
                           for i in range(1000)],
    "ZRANK_SMALL": lambda: [encode(b"ZADD", k(b"small:%d" % i), *[x for j in range(8) for x in (b"%d" % j, b"member%d" % j)])
                            for i in range(1000)],
    "ZSCORE_SMALL": lambda: [encode(b"ZADD", k(b"small:%d" % i), *[x for j in range(8) for x in (b"%d" % j, b"member%d" % j)])
                             for i in range(1000)],
    "SADD_INTS_SMALL": lambda: [encode(b"SADD", k(b"small:%d" % i), *[b"%d" % j for j in range(8)])
                                for i in range(1000)],
    "SISMEMBER_INTS_SMALL": lambda: [encode(b"SADD", k(b"small:%d" % i), *[b"%d" % j for j in range(8)])
                                     for i in range(1000)],
    "SADD_INTSET": lambda: [encode(b"SADD", k(b"ints:%d" % i), *[b"%d" % j for j in range(300)]) for i in range(10)],
    "SISMEMBER_INTSET": lambda: [encode(b"SADD", k(b"ints:%d" % i), *[b"%d" % j for j in range(300)])
                                 for i in range(10)],
    "ZINCRBY_SMALL": lambda: [encode(b"ZADD", k(b"small:%d" % i), *[x for j in range(8) for x in (b"%d" % j, b"member%d" % j)])
                              for i in range(1000)],
}

# ACL rules of the user the workloads run as (--user), or None for the default user.
USER_RULES: list | None = None
# --replica: an online replica is attached, so writes pay for replication too.
WITH_REPLICA = False
# --as-replica: the workload is a replica's master stream.
AS_REPLICA = False


def run(name: str, pipeline: int, total: int) -> float:
    conn = ReplicaFeed() if AS_REPLICA else make_connection()
    for request in SETUP.get(name, list)():
        conn.data_received(request)
        conn.engine.loop.end_turn()
    make = WORKLOADS[name]
    chunks = [b"".join(make(i * pipeline + j) for j in range(pipeline)) for i in range(200)]
    rounds = total // pipeline
    end_turn = conn.engine.loop.end_turn
    start = time.process_time()
    for i in range(rounds):
        conn.data_received(chunks[i % 200])
        end_turn()
    elapsed = time.process_time() - start
    return elapsed / (rounds * pipeline) * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("-n", type=int, default=200_000)
    parser.add_argument("--only", metavar="A,B", help="only these workloads")
    parser.add_argument("--user", metavar="RULES", help="run as an ACL user with these rules")
    parser.add_argument("--replica", action="store_true", help="with an online replica attached")
    parser.add_argument("--as-replica", action="store_true",
                        help="apply the workload as a replica's master stream")
    args = parser.parse_args()
    if args.as_replica:
        global AS_REPLICA
        AS_REPLICA = True
    if args.replica:
        global WITH_REPLICA
        WITH_REPLICA = True
    if args.user is not None:
        global PREFIX, USER_RULES
        PREFIX, USER_RULES = b"app:", args.user.split()
    if args.profile:
        import cProfile
        import pstats
        cProfile.runctx("run('SET', 16, args.n)", globals(), locals(), "/tmp/dispatch.prof")
        pstats.Stats("/tmp/dispatch.prof").sort_stats("tottime").print_stats(15)
        return
    make_connection()       # imports every module, so describe() sees them all
    from vermilion import _native
    print(f"compiled code: {_native.describe()} (VERMILION_PURE_PYTHON=1 for none)")
    print(f"{'command':<10} {'-P 1 us/cmd':>12} {'-P 16 us/cmd':>13}")
    for name in args.only.split(",") if args.only else WORKLOADS:
        print(f"{name:<10} {run(name, 1, args.n // 4):>12.2f} {run(name, 16, args.n):>13.2f}")


if __name__ == "__main__":
    main()
