"""Key access per key position, as Redis 7.0's key specs give it to ACL checks.

The command table gives key positions (COMMAND GETKEYS); ACL needs, for each
key, whether the command reads it, writes it, or neither (EXISTS, TYPE and
OBJECT only look at the key: any pattern allows them). SPECS holds, per
command, its key specs in Redis 7.0's order -- the facts of its command
metadata (``src/commands/*.json``: begin-search, find-keys and access flags),
not code -- and `key_access` finds the keys the way getKeysUsingKeySpecs does.
Commands whose specs cannot describe a call (SORT's STORE, MIGRATE's KEYS, an
invalid numkeys) or whose access depends on the arguments (SET ... GET,
BITFIELD ... SET) are handled as Redis's getkeys functions handle them.

A spec row: (begin_search, find_keys, access, extra)
  begin_search: ("i", index) | ("k", keyword, startfrom) | ("u",) unknown
  find_keys:    ("r", lastkey, step, limit) | ("n", keynumidx, firstkey, step) | ("u",)
  access:       Redis's key-spec flags: one of RO/RW/OW/RM, then the logical
                operations (access, update, insert, delete); COMMAND INFO shows
                them, and ACL reads `access` as a read and the rest as a write
  extra:        "I" incomplete, "V" variable flags, "N" not a key (shard channels)
"""
from __future__ import annotations

import functools

READ = 1
WRITE = 2
_WRITES = frozenset(("update", "insert", "delete"))


@functools.lru_cache(maxsize=None)
def access_bits(flags: str) -> int:
    """READ/WRITE of a spec's access flags, as ACL checks a key against its patterns."""
    words = flags.split()
    return (READ if "access" in words else 0) | (WRITE if _WRITES.intersection(words) else 0)

SPECS = {
    'append': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'bitcount': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'bitfield': ((('i', 1), ('r', 0, 1, 0), 'RW access update', 'V'),),
    'bitfield_ro': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'bitop': ((('i', 2), ('r', 0, 1, 0), 'OW update', ''), (('i', 3), ('r', -1, 1, 0), 'RO access', '')),
    'bitpos': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'blmove': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''), (('i', 2), ('r', 0, 1, 0), 'RW insert', '')),
    'blmpop': ((('i', 2), ('n', 0, 1, 1), 'RW access delete', ''),),
    'blpop': ((('i', 1), ('r', -2, 1, 0), 'RW access delete', ''),),
    'brpop': ((('i', 1), ('r', -2, 1, 0), 'RW access delete', ''),),
    'brpoplpush': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''), (('i', 2), ('r', 0, 1, 0), 'RW insert', '')),
    'bzmpop': ((('i', 2), ('n', 0, 1, 1), 'RW access delete', ''),),
    'bzpopmax': ((('i', 1), ('r', -2, 1, 0), 'RW access delete', ''),),
    'bzpopmin': ((('i', 1), ('r', -2, 1, 0), 'RW access delete', ''),),
    'copy': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''), (('i', 2), ('r', 0, 1, 0), 'OW update', '')),
    'decr': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'decrby': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'del': ((('i', 1), ('r', -1, 1, 0), 'RM delete', ''),),
    'dump': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'eval': ((('i', 2), ('n', 0, 1, 1), 'RW access update', ''),),
    'eval_ro': ((('i', 2), ('n', 0, 1, 1), 'RO access', ''),),
    'evalsha': ((('i', 2), ('n', 0, 1, 1), 'RW access update', ''),),
    'evalsha_ro': ((('i', 2), ('n', 0, 1, 1), 'RO access', ''),),
    'exists': ((('i', 1), ('r', -1, 1, 0), 'RO', ''),),
    'expire': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'expireat': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'expiretime': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'fcall': ((('i', 2), ('n', 0, 1, 1), 'RW access update', ''),),
    'fcall_ro': ((('i', 2), ('n', 0, 1, 1), 'RO access', ''),),
    'geoadd': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'geodist': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'geohash': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'geopos': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'georadius': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''), (('k', b'STORE', 6), ('r', 0, 1, 0), 'OW update', ''), (('k', b'STOREDIST', 6), ('r', 0, 1, 0), 'OW update', '')),
    'georadius_ro': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'georadiusbymember': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''), (('k', b'STORE', 5), ('r', 0, 1, 0), 'OW update', ''), (('k', b'STOREDIST', 5), ('r', 0, 1, 0), 'OW update', '')),
    'georadiusbymember_ro': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'geosearch': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'geosearchstore': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''), (('i', 2), ('r', 0, 1, 0), 'RO access', '')),
    'get': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'getbit': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'getdel': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''),),
    'getex': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'getrange': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'getset': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'hdel': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'hexists': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'hget': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'hgetall': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'hincrby': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'hincrbyfloat': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'hkeys': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'hlen': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'hmget': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'hmset': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'hrandfield': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'hscan': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'hset': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'hsetnx': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'hstrlen': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'hvals': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'incr': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'incrby': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'incrbyfloat': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'lcs': ((('i', 1), ('r', 1, 1, 0), 'RO access', ''),),
    'lindex': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'linsert': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'llen': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'lmove': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''), (('i', 2), ('r', 0, 1, 0), 'RW insert', '')),
    'lmpop': ((('i', 1), ('n', 0, 1, 1), 'RW access delete', ''),),
    'lpop': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''),),
    'lpos': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'lpush': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'lpushx': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'lrange': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'lrem': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'lset': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'ltrim': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'memory|usage': ((('i', 2), ('r', 0, 1, 0), 'RO', ''),),
    'mget': ((('i', 1), ('r', -1, 1, 0), 'RO access', ''),),
    'migrate': ((('i', 3), ('r', 0, 1, 0), 'RW access delete', ''), (('k', b'KEYS', -2), ('r', -1, 1, 0), 'RW access delete', 'I')),
    'move': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'mset': ((('i', 1), ('r', -1, 2, 0), 'OW update', ''),),
    'msetnx': ((('i', 1), ('r', -1, 2, 0), 'OW insert', ''),),
    'object|encoding': ((('i', 2), ('r', 0, 1, 0), 'RO', ''),),
    'object|freq': ((('i', 2), ('r', 0, 1, 0), 'RO', ''),),
    'object|idletime': ((('i', 2), ('r', 0, 1, 0), 'RO', ''),),
    'object|refcount': ((('i', 2), ('r', 0, 1, 0), 'RO', ''),),
    'persist': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'pexpire': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'pexpireat': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'pexpiretime': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'pfadd': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'pfcount': ((('i', 1), ('r', -1, 1, 0), 'RW access', ''),),
    'pfdebug': ((('i', 2), ('r', 0, 1, 0), 'RW access', ''),),
    'pfmerge': ((('i', 1), ('r', 0, 1, 0), 'RW access insert', ''), (('i', 2), ('r', -1, 1, 0), 'RO access', '')),
    'psetex': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''),),
    'pttl': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'rename': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''), (('i', 2), ('r', 0, 1, 0), 'OW update', '')),
    'renamenx': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''), (('i', 2), ('r', 0, 1, 0), 'OW insert', '')),
    'restore': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''),),
    'restore-asking': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''),),
    'rpop': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''),),
    'rpoplpush': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''), (('i', 2), ('r', 0, 1, 0), 'RW insert', '')),
    'rpush': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'rpushx': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'sadd': ((('i', 1), ('r', 0, 1, 0), 'RW insert', ''),),
    'scard': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'sdiff': ((('i', 1), ('r', -1, 1, 0), 'RO access', ''),),
    'sdiffstore': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''), (('i', 2), ('r', -1, 1, 0), 'RO access', '')),
    'set': ((('i', 1), ('r', 0, 1, 0), 'RW access update', 'V'),),
    'setbit': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'setex': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''),),
    'setnx': ((('i', 1), ('r', 0, 1, 0), 'OW insert', ''),),
    'setrange': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'sinter': ((('i', 1), ('r', -1, 1, 0), 'RO access', ''),),
    'sintercard': ((('i', 1), ('n', 0, 1, 1), 'RO access', ''),),
    'sinterstore': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''), (('i', 2), ('r', -1, 1, 0), 'RO access', '')),
    'sismember': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'smembers': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'smismember': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'smove': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''), (('i', 2), ('r', 0, 1, 0), 'RW insert', '')),
    'sort': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''), (('u',), ('u',), 'RO access', ''), (('u',), ('u',), 'OW update', '')),
    'sort_ro': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''), (('u',), ('u',), 'RO access', '')),
    'spop': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''),),
    'spublish': ((('i', 1), ('r', 0, 1, 0), '', 'N'),),
    'srandmember': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'srem': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'sscan': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'ssubscribe': ((('i', 1), ('r', -1, 1, 0), '', 'N'),),
    'strlen': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'substr': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'sunion': ((('i', 1), ('r', -1, 1, 0), 'RO access', ''),),
    'sunionstore': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''), (('i', 2), ('r', -1, 1, 0), 'RO access', '')),
    'sunsubscribe': ((('i', 1), ('r', -1, 1, 0), '', 'N'),),
    'touch': ((('i', 1), ('r', -1, 1, 0), 'RO', ''),),
    'ttl': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'type': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'unlink': ((('i', 1), ('r', -1, 1, 0), 'RM delete', ''),),
    'watch': ((('i', 1), ('r', -1, 1, 0), 'RO', ''),),
    'xack': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'xadd': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'xautoclaim': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'xclaim': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'xdel': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'xgroup|create': ((('i', 2), ('r', 0, 1, 0), 'RW insert', ''),),
    'xgroup|createconsumer': ((('i', 2), ('r', 0, 1, 0), 'RW insert', ''),),
    'xgroup|delconsumer': ((('i', 2), ('r', 0, 1, 0), 'RW delete', ''),),
    'xgroup|destroy': ((('i', 2), ('r', 0, 1, 0), 'RW delete', ''),),
    'xgroup|setid': ((('i', 2), ('r', 0, 1, 0), 'RW update', ''),),
    'xinfo|consumers': ((('i', 2), ('r', 0, 1, 0), 'RO access', ''),),
    'xinfo|groups': ((('i', 2), ('r', 0, 1, 0), 'RO access', ''),),
    'xinfo|stream': ((('i', 2), ('r', 0, 1, 0), 'RO access', ''),),
    'xlen': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'xpending': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'xrange': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'xread': ((('k', b'STREAMS', 1), ('r', -1, 1, 2), 'RO access', ''),),
    'xreadgroup': ((('k', b'STREAMS', 4), ('r', -1, 1, 2), 'RO access', ''),),
    'xrevrange': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'xsetid': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'xtrim': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'zadd': ((('i', 1), ('r', 0, 1, 0), 'RW update', ''),),
    'zcard': ((('i', 1), ('r', 0, 1, 0), 'RO', ''),),
    'zcount': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zdiff': ((('i', 1), ('n', 0, 1, 1), 'RO access', ''),),
    'zdiffstore': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''), (('i', 2), ('n', 0, 1, 1), 'RO access', '')),
    'zincrby': ((('i', 1), ('r', 0, 1, 0), 'RW access update', ''),),
    'zinter': ((('i', 1), ('n', 0, 1, 1), 'RO access', ''),),
    'zintercard': ((('i', 1), ('n', 0, 1, 1), 'RO access', ''),),
    'zinterstore': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''), (('i', 2), ('n', 0, 1, 1), 'RO access', '')),
    'zlexcount': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zmpop': ((('i', 1), ('n', 0, 1, 1), 'RW access delete', ''),),
    'zmscore': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zpopmax': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''),),
    'zpopmin': ((('i', 1), ('r', 0, 1, 0), 'RW access delete', ''),),
    'zrandmember': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zrange': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zrangebylex': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zrangebyscore': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zrangestore': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''), (('i', 2), ('r', 0, 1, 0), 'RO access', '')),
    'zrank': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zrem': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'zremrangebylex': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'zremrangebyrank': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'zremrangebyscore': ((('i', 1), ('r', 0, 1, 0), 'RW delete', ''),),
    'zrevrange': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zrevrangebylex': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zrevrangebyscore': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zrevrank': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zscan': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zscore': ((('i', 1), ('r', 0, 1, 0), 'RO access', ''),),
    'zunion': ((('i', 1), ('n', 0, 1, 1), 'RO access', ''),),
    'zunionstore': ((('i', 1), ('r', 0, 1, 0), 'OW update', ''), (('i', 2), ('n', 0, 1, 1), 'RO access', '')),
}


def _from_specs(specs, args: list) -> list | None:
    """getKeysUsingKeySpecs: [(position, access)], or None when a spec cannot say."""
    argc = len(args)
    out = []
    for bs, fk, access, extra in specs:
        if "N" in extra:
            continue
        if bs[0] == "i":
            first = bs[1]
        elif bs[0] == "k":
            keyword, start = bs[1], bs[2]
            first = 0
            start_index = start if start > 0 else argc + start
            end_index = argc - 1 if start > 0 else 1
            i = start_index
            while i != end_index:
                if i >= argc or i < 1:
                    break
                if args[i].upper() == keyword:
                    first = i + 1
                    break
                i = i + 1 if start_index <= end_index else i - 1
            if not first:
                continue
        else:
            return None
        if fk[0] == "r":
            _, lastkey, step, limit = fk
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif fk[0] == "n":
            _, numidx, firstkey, step = fk
            if numidx >= argc or first + numidx >= argc:
                return None
            raw = args[first + numidx]
            try:
                numkeys = int(raw)
            except ValueError:
                return None
            if numkeys < 0 or numkeys >= 2**63 or raw != b"%d" % numkeys:
                return None
            first += firstkey
            # Redis casts the count to a C int: 4294967297 keys is one key.
            last = first + ((numkeys + 2**31) % 2**32 - 2**31) - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        out.extend((i, access) for i in range(first, last + 1, step))
        if "I" in extra:
            return None
    return out


def key_flags(cmd, args: list) -> list | None:
    """[(position, key-spec flags)] of the keys `args` names, as getKeysFromCommandWithSpecs
    finds them (COMMAND GETKEYSANDFLAGS): the specs when they describe the call, else the
    command's own rule; None when neither applies (the table's key positions then)."""
    specs = SPECS.get(cmd.fullname)
    name = cmd.fullname
    if specs is not None and name not in _GETKEYS:
        found = _from_specs(specs, args)
        if found is not None:
            return found
    special = _GETKEYS.get(name)
    if special is not None:
        return special(cmd, args)
    return None


def key_access(cmd, args: list) -> list:
    """[(position, READ|WRITE bits)] of every key `args` names, for ACL checks."""
    found = key_flags(cmd, args)
    if found is not None:
        return [(i, access_bits(flags)) for i, flags in found]
    # No spec that describes this call: the table's key positions (which follow
    # Redis's getkeys functions), with the access every spec of the command grants.
    specs = SPECS.get(cmd.fullname)
    need = 0
    for _, _, access, extra in specs or ():
        if "N" not in extra:
            need |= access_bits(access)
    if specs is None:
        need = (READ if cmd.is_readonly else 0) | (WRITE if cmd.is_write else 0)
    try:
        positions = cmd.key_indexes(args)
    except Exception:
        return []
    return [(i, need) for i in positions if i < len(args)]


def _set_keys(cmd, args):
    # setGetKeys: SET ... GET reads the old value too; otherwise it overwrites.
    reads = any(a.upper() == b"GET" for a in args[3:])
    return [(1, "RW access update" if reads else "OW update")]


def _bitfield_keys(cmd, args):
    # bitfieldGetKeys: read-only unless a SET or INCRBY operation is present.
    writes = any(a.upper() in (b"SET", b"INCRBY") for a in args[2:])
    return [(1, "RW access update" if writes else "RO access")]


def _sort_keys(cmd, args):
    # sortGetKeys: the sorted key is read; a STORE destination is overwritten.
    out = [(1, "RO access")]
    for i, pos in enumerate(cmd.key_indexes(args)):
        if i and pos < len(args):
            out.append((pos, "OW update"))
    return out


_GETKEYS = {"set": _set_keys, "bitfield": _bitfield_keys, "sort": _sort_keys,
            # sortROGetKeys: the one key, read (its BY/GET patterns are not keys to find).
            "sort_ro": lambda cmd, args: [(1, "RO access")]}
