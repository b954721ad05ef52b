"""The suite registry.

A suite is a list of entries (redis-benchmark tests and Python scenarios) plus named server
configurations: each configuration gets its own pair of servers (redis-server and Vermilion,
same options, separate data directories).  Add an entry by appending to a suite's list; add a
suite with :func:`register`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from . import loaders, scenarios
from .model import BenchTest, Entry, Scenario, at_least, at_most

# Targets (ratio vermilion/redis) from the issues.
THROUGHPUT = {1: at_least(0.9), 16: at_least(0.5)}
MEMORY = {None: at_most(3.0)}

M = 1_000_000


@dataclass
class Suite:
    name: str
    description: str
    entries: list[Entry]
    # config name -> server options (beyond --port/--save ''/--appendonly no)
    configs: dict[str, dict[str, str]] = field(default_factory=lambda: {"default": {}})

    def config_names(self) -> list[str]:
        seen = []
        for e in self.entries:
            if e.config not in seen:
                seen.append(e.config)
        return seen


SUITES: dict[str, Suite] = {}


def register(suite: Suite) -> Suite:
    for e in suite.entries:
        if e.config not in suite.configs:
            raise ValueError(f"{suite.name}/{e.name}: unknown config {e.config!r}")
    SUITES[suite.name] = suite
    return suite


# -- foundation ------------------------------------------------------------------------------------

register(Suite("foundation", "core string commands and the request path", [
    BenchTest("PING_INLINE", test="PING_INLINE"),
    BenchTest("PING_MBULK", test="PING_MBULK"),
    BenchTest("SET", test="SET", random=100_000, targets=THROUGHPUT),
    BenchTest("GET", test="GET", random=100_000, targets=THROUGHPUT,
              setup=[loaders.strings("key:", 100_000)],
              description="-t GET (-r 100000) on 100k preloaded keys"),
    BenchTest("INCR", test="INCR", random=100_000, targets=THROUGHPUT),
    BenchTest("MSET", test="MSET", random=100_000, description="-t MSET: 10 keys per command (-r 100000)"),
    BenchTest("SET_NX_PX", command=["SET", "key:__rand_int__", "v", "NX", "PX", "30000"], random=M,
              description="SET key:__rand_int__ v NX PX 30000 (-r 1000000): lock acquisition"),
]))


# -- streams ---------------------------------------------------------------------------------------

register(Suite("streams", "XADD, XRANGE, consumer groups, stream memory", [
    BenchTest("XADD", command=["XADD", "mystream", "*", "f", "v"], targets=THROUGHPUT),
    BenchTest("XADD_MAXLEN", command=["XADD", "mycapped", "MAXLEN", "~", "1000", "*", "f", "v"],
              targets=THROUGHPUT),
    BenchTest("XRANGE_100", command=["XRANGE", "xr", "-", "+", "COUNT", "100"],
              setup=[loaders.stream("xr", 1000, scaled=False)],
              description="XRANGE xr - + COUNT 100 on a 1000-entry stream"),
    Scenario("CONSUMER_GROUP", fn=scenarios.consumer_group, unit="entries/s", targets={None: at_least(0.5)},
             params={"consumers": 4, "producer_clients": 4, "producer_pipeline": 32},
             description="producer (redis-benchmark XADD, 4 connections, -P 32) + 4 consumers "
                         "(XREADGROUP COUNT 100 + XACK); entries/s end to end, n entries"),
    Scenario("RSS_STREAM_1M", unit="MB", fn=scenarios.rss_growth(loaders.stream("mem:stream", M)),
             isolated=True, targets=MEMORY,
             description="VmRSS growth for 1M entries (XADD mem:stream * f v), fresh server"),
]))


# -- pubsub ----------------------------------------------------------------------------------------

register(Suite("pubsub", "PUBLISH and fan-out to channel and pattern subscribers", [
    BenchTest("PUBLISH", command=["PUBLISH", "bench:ch", "hello"], targets=THROUGHPUT,
              description="PUBLISH with no subscribers"),
    Scenario("FANOUT_50", fn=scenarios.fanout, unit="deliveries/s", targets={None: at_least(0.5)},
             params={"subscribers": 50},
             description="1 publisher (redis-benchmark -c 1 -P 8), 50 subscribers (25 SUBSCRIBE, "
                         "25 PSUBSCRIBE); deliveries/s, n/10 messages"),
]))


# -- scripting -------------------------------------------------------------------------------------

EVAL_SET = "return redis.call('SET', KEYS[1], ARGV[1])"
RELEASE = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
           "return redis.call('DEL', KEYS[1]) else return 0 end")
RELEASE_SHA = hashlib.sha1(RELEASE.encode()).hexdigest()

register(Suite("scripting", "EVAL, EVALSHA and MULTI/EXEC", [
    BenchTest("EVAL_SET", command=["EVAL", EVAL_SET, "1", "key:__rand_int__", "xxx"], random=100_000,
              targets=THROUGHPUT, description="EVAL of a SET via redis.call (-r 100000)"),
    BenchTest("EVALSHA_RELEASE", command=["EVALSHA", RELEASE_SHA, "1", "lock:__rand_int__", "token"],
              random=100_000, targets=THROUGHPUT,
              setup=[loaders.command("SCRIPT", "LOAD", RELEASE), loaders.strings("lock:", 100_000, "token")],
              description="EVALSHA of the lock-release compare-and-delete script on 100k locks"),
    # requests_factor 4: n transactions (n/4 took 0.3 s at -P 16, mostly connection set-up
    # and a fresh process's first allocations, and swung by +-30% between rounds).
    Scenario("MULTI_EXEC", fn=scenarios.multi_exec, unit="tx/s", pipelines=None, targets=THROUGHPUT,
             requests_factor=4,
             description="MULTI SET GET HSET EXPIRE EXEC over 50 connections, P transactions per "
                         "write (redis-benchmark cannot send MULTI blocks); tx/s, n transactions"),
]))


# -- data structures -------------------------------------------------------------------------------

register(Suite("datastructures", "lists, sets, hashes, sorted sets and their memory", [
    BenchTest("LPUSH", test="LPUSH", targets=THROUGHPUT),
    BenchTest("LPOP", test="LPOP", targets=THROUGHPUT, before_each=[loaders.list_at_least("mylist")],
              description="-t LPOP on a list refilled to n elements before each run"),
    BenchTest("LRANGE_100", command=["LRANGE", "mylist", "0", "99"], targets=THROUGHPUT,
              setup=[loaders.list_at_least("mylist", 600)],
              description="LRANGE mylist 0 99 on a 600-element list"),
    BenchTest("SADD", test="SADD", random=100_000, targets=THROUGHPUT),
    BenchTest("HSET", test="HSET", random=100_000, targets=THROUGHPUT),
    BenchTest("ZADD", test="ZADD", random=100_000, targets=THROUGHPUT),
    BenchTest("ZPOPMIN", test="ZPOPMIN", targets=THROUGHPUT,
              setup=[loaders.zset("myzset", M)], before_each=[loaders.zset_refill_prefix("myzset", M)],
              description="-t ZPOPMIN on a preloaded 1M-member zset (refilled before each run)"),
    BenchTest("ZREVRANK", command=["ZREVRANK", "myzset", "element:__rand_int__"], random=M,
              targets=THROUGHPUT, setup=[loaders.zset("myzset", M)],
              description="ZREVRANK on a preloaded 1M-member zset (-r 1000000)"),
    Scenario("RSS_HASH_1M", unit="MB", fn=scenarios.rss_growth(loaders.hash_("mem:hash", M)), isolated=True,
             targets=MEMORY, description="VmRSS growth for a 1M-field hash, fresh server"),
    Scenario("RSS_SET_1M", unit="MB", fn=scenarios.rss_growth(loaders.set_("mem:set", M)), isolated=True,
             targets=MEMORY, description="VmRSS growth for a 1M-member set, fresh server"),
    Scenario("RSS_ZSET_1M", unit="MB", fn=scenarios.rss_growth(loaders.zset("mem:zset", M, "member:{}")),
             isolated=True, targets=MEMORY, description="VmRSS growth for a 1M-member sorted set"),
]))


# -- hyperloglog -----------------------------------------------------------------------------------

_HLL_DENSE = ["PFADD", "hll:dense", *(f"seed:{i}" for i in range(50_000))]
_HLL_DENSE2 = ["PFADD", "hll:dense2", *(f"other:{i}" for i in range(50_000))]

register(Suite("hyperloglog", "PFADD and PFCOUNT on sparse and dense HyperLogLogs", [
    BenchTest("PFADD_DENSE", command=["PFADD", "hll:dense", "el:__rand_int__"], random=M,
              setup=[loaders.command(*_HLL_DENSE)],
              description="PFADD of a random element to a dense HyperLogLog (-r 1000000)"),
    BenchTest("PFADD_NEW", command=["PFADD", "hll:__rand_int__", "a", "b", "c"], random=M,
              description="PFADD creating sparse HyperLogLogs of 3 elements (-r 1000000)"),
    BenchTest("PFCOUNT_CACHED", command=["PFCOUNT", "hll:dense"], setup=[loaders.command(*_HLL_DENSE)],
              description="PFCOUNT of a dense HyperLogLog whose cardinality is cached"),
    BenchTest("PFCOUNT_2", command=["PFCOUNT", "hll:dense", "hll:dense2"], requests_factor=0.1,
              setup=[loaders.command(*_HLL_DENSE), loaders.command(*_HLL_DENSE2)],
              description="PFCOUNT of two dense HyperLogLogs (merged, never cached)"),
]))


# -- persistence -----------------------------------------------------------------------------------

EVERYSEC = {"appendonly": "yes", "appendfsync": "everysec"}
ALWAYS = {"appendonly": "yes", "appendfsync": "always"}

register(Suite("persistence", "write throughput with the AOF on, and load time of AOF and RDB", [
    BenchTest("SET aof=everysec", test="SET", random=100_000, config="everysec", pipelines=(1, 16),
              targets={16: at_least(0.5)}),
    BenchTest("XADD aof=everysec", command=["XADD", "mystream", "*", "f", "v"], config="everysec",
              pipelines=(1, 16), targets={16: at_least(0.5)}),
    BenchTest("SET aof=always", test="SET", random=100_000, config="always", pipelines=(1, 16),
              targets={None: at_least(0.5)}, requests_factor=0.25),
    BenchTest("XADD aof=always", command=["XADD", "mystream", "*", "f", "v"], config="always",
              pipelines=(1, 16), targets={None: at_least(0.5)}, requests_factor=0.25),
    Scenario("AOF_LOAD_1M", fn=scenarios.aof_load_time, unit="s", config="aof-load", isolated=True,
             description="write 1M keys with SET (appendonly yes, everysec), restart, seconds "
                         "until PING answers; fresh server each run"),
    Scenario("RDB_LOAD_1M", fn=scenarios.rdb_load_time, unit="s", isolated=True,
             description="write 1M keys with MSET, SAVE, restart, seconds until PING answers"),
], configs={"default": {}, "everysec": EVERYSEC, "always": ALWAYS, "aof-load": EVERYSEC}))
