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
  access:       "R" read, "W" write, "RW", "" neither
  extra:        "I" incomplete, "V" variable flags, "N" not a key (shard channels)
"""
from __future__ import annotations

READ = 1
WRITE = 2
_ACCESS = {"": 0, "R": READ, "W": WRITE, "RW": READ | WRITE}

SPECS = {
    'append': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'bitcount': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'bitfield': ((('i', 1), ('r', 0, 1, 0), 'RW', 'V'),),
    'bitfield_ro': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'bitop': ((('i', 2), ('r', 0, 1, 0), 'W', ''), (('i', 3), ('r', -1, 1, 0), 'R', '')),
    'bitpos': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'blmove': ((('i', 1), ('r', 0, 1, 0), 'RW', ''), (('i', 2), ('r', 0, 1, 0), 'W', '')),
    'blmpop': ((('i', 2), ('n', 0, 1, 1), 'RW', ''),),
    'blpop': ((('i', 1), ('r', -2, 1, 0), 'RW', ''),),
    'brpop': ((('i', 1), ('r', -2, 1, 0), 'RW', ''),),
    'brpoplpush': ((('i', 1), ('r', 0, 1, 0), 'RW', ''), (('i', 2), ('r', 0, 1, 0), 'W', '')),
    'bzmpop': ((('i', 2), ('n', 0, 1, 1), 'RW', ''),),
    'bzpopmax': ((('i', 1), ('r', -2, 1, 0), 'RW', ''),),
    'bzpopmin': ((('i', 1), ('r', -2, 1, 0), 'RW', ''),),
    'copy': ((('i', 1), ('r', 0, 1, 0), 'R', ''), (('i', 2), ('r', 0, 1, 0), 'W', '')),
    'decr': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'decrby': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'del': ((('i', 1), ('r', -1, 1, 0), 'W', ''),),
    'dump': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'eval': ((('i', 2), ('n', 0, 1, 1), 'RW', ''),),
    'eval_ro': ((('i', 2), ('n', 0, 1, 1), 'R', ''),),
    'evalsha': ((('i', 2), ('n', 0, 1, 1), 'RW', ''),),
    'evalsha_ro': ((('i', 2), ('n', 0, 1, 1), 'R', ''),),
    'exists': ((('i', 1), ('r', -1, 1, 0), '', ''),),
    'expire': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'expireat': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'expiretime': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'fcall': ((('i', 2), ('n', 0, 1, 1), 'RW', ''),),
    'fcall_ro': ((('i', 2), ('n', 0, 1, 1), 'R', ''),),
    'geoadd': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'geodist': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'geohash': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'geopos': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'georadius': ((('i', 1), ('r', 0, 1, 0), 'R', ''), (('k', b'STORE', 6), ('r', 0, 1, 0), 'W', ''), (('k', b'STOREDIST', 6), ('r', 0, 1, 0), 'W', '')),
    'georadius_ro': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'georadiusbymember': ((('i', 1), ('r', 0, 1, 0), 'R', ''), (('k', b'STORE', 5), ('r', 0, 1, 0), 'W', ''), (('k', b'STOREDIST', 5), ('r', 0, 1, 0), 'W', '')),
    'georadiusbymember_ro': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'geosearch': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'geosearchstore': ((('i', 1), ('r', 0, 1, 0), 'W', ''), (('i', 2), ('r', 0, 1, 0), 'R', '')),
    'get': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'getbit': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'getdel': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'getex': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'getrange': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'getset': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'hdel': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'hexists': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'hget': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'hgetall': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'hincrby': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'hincrbyfloat': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'hkeys': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'hlen': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'hmget': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'hmset': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'hrandfield': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'hscan': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'hset': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'hsetnx': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'hstrlen': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'hvals': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'incr': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'incrby': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'incrbyfloat': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'lcs': ((('i', 1), ('r', 1, 1, 0), 'R', ''),),
    'lindex': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'linsert': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'llen': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'lmove': ((('i', 1), ('r', 0, 1, 0), 'RW', ''), (('i', 2), ('r', 0, 1, 0), 'W', '')),
    'lmpop': ((('i', 1), ('n', 0, 1, 1), 'RW', ''),),
    'lpop': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'lpos': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'lpush': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'lpushx': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'lrange': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'lrem': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'lset': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'ltrim': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'memory|usage': ((('i', 2), ('r', 0, 1, 0), '', ''),),
    'mget': ((('i', 1), ('r', -1, 1, 0), 'R', ''),),
    'migrate': ((('i', 3), ('r', 0, 1, 0), 'RW', ''), (('k', b'KEYS', -2), ('r', -1, 1, 0), 'RW', 'I')),
    'move': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'mset': ((('i', 1), ('r', -1, 2, 0), 'W', ''),),
    'msetnx': ((('i', 1), ('r', -1, 2, 0), 'W', ''),),
    'object|encoding': ((('i', 2), ('r', 0, 1, 0), '', ''),),
    'object|freq': ((('i', 2), ('r', 0, 1, 0), '', ''),),
    'object|idletime': ((('i', 2), ('r', 0, 1, 0), '', ''),),
    'object|refcount': ((('i', 2), ('r', 0, 1, 0), '', ''),),
    'persist': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'pexpire': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'pexpireat': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'pexpiretime': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'pfadd': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'pfcount': ((('i', 1), ('r', -1, 1, 0), 'R', ''),),
    'pfdebug': ((('i', 2), ('r', 0, 1, 0), 'R', ''),),
    'pfmerge': ((('i', 1), ('r', 0, 1, 0), 'RW', ''), (('i', 2), ('r', -1, 1, 0), 'R', '')),
    'psetex': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'pttl': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'rename': ((('i', 1), ('r', 0, 1, 0), 'RW', ''), (('i', 2), ('r', 0, 1, 0), 'W', '')),
    'renamenx': ((('i', 1), ('r', 0, 1, 0), 'RW', ''), (('i', 2), ('r', 0, 1, 0), 'W', '')),
    'restore': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'restore-asking': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'rpop': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'rpoplpush': ((('i', 1), ('r', 0, 1, 0), 'RW', ''), (('i', 2), ('r', 0, 1, 0), 'W', '')),
    'rpush': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'rpushx': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'sadd': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'scard': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'sdiff': ((('i', 1), ('r', -1, 1, 0), 'R', ''),),
    'sdiffstore': ((('i', 1), ('r', 0, 1, 0), 'W', ''), (('i', 2), ('r', -1, 1, 0), 'R', '')),
    'set': ((('i', 1), ('r', 0, 1, 0), 'RW', 'V'),),
    'setbit': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'setex': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'setnx': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'setrange': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'sinter': ((('i', 1), ('r', -1, 1, 0), 'R', ''),),
    'sintercard': ((('i', 1), ('n', 0, 1, 1), 'R', ''),),
    'sinterstore': ((('i', 1), ('r', 0, 1, 0), 'W', ''), (('i', 2), ('r', -1, 1, 0), 'R', '')),
    'sismember': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'smembers': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'smismember': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'smove': ((('i', 1), ('r', 0, 1, 0), 'RW', ''), (('i', 2), ('r', 0, 1, 0), 'W', '')),
    'sort': ((('i', 1), ('r', 0, 1, 0), 'R', ''), (('u',), ('u',), 'R', ''), (('u',), ('u',), 'W', '')),
    'sort_ro': ((('i', 1), ('r', 0, 1, 0), 'R', ''), (('u',), ('u',), 'R', '')),
    'spop': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'spublish': ((('i', 1), ('r', 0, 1, 0), '', 'N'),),
    'srandmember': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'srem': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'sscan': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'ssubscribe': ((('i', 1), ('r', -1, 1, 0), '', 'N'),),
    'strlen': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'substr': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'sunion': ((('i', 1), ('r', -1, 1, 0), 'R', ''),),
    'sunionstore': ((('i', 1), ('r', 0, 1, 0), 'W', ''), (('i', 2), ('r', -1, 1, 0), 'R', '')),
    'sunsubscribe': ((('i', 1), ('r', -1, 1, 0), '', 'N'),),
    'touch': ((('i', 1), ('r', -1, 1, 0), '', ''),),
    'ttl': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'type': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'unlink': ((('i', 1), ('r', -1, 1, 0), 'W', ''),),
    'watch': ((('i', 1), ('r', -1, 1, 0), '', ''),),
    'xack': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'xadd': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'xautoclaim': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'xclaim': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'xdel': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'xgroup|create': ((('i', 2), ('r', 0, 1, 0), 'W', ''),),
    'xgroup|createconsumer': ((('i', 2), ('r', 0, 1, 0), 'W', ''),),
    'xgroup|delconsumer': ((('i', 2), ('r', 0, 1, 0), 'W', ''),),
    'xgroup|destroy': ((('i', 2), ('r', 0, 1, 0), 'W', ''),),
    'xgroup|setid': ((('i', 2), ('r', 0, 1, 0), 'W', ''),),
    'xinfo|consumers': ((('i', 2), ('r', 0, 1, 0), 'R', ''),),
    'xinfo|groups': ((('i', 2), ('r', 0, 1, 0), 'R', ''),),
    'xinfo|stream': ((('i', 2), ('r', 0, 1, 0), 'R', ''),),
    'xlen': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'xpending': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'xrange': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'xread': ((('k', b'STREAMS', 1), ('r', -1, 1, 2), 'R', ''),),
    'xreadgroup': ((('k', b'STREAMS', 4), ('r', -1, 1, 2), 'R', ''),),
    'xrevrange': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'xsetid': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'xtrim': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'zadd': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'zcard': ((('i', 1), ('r', 0, 1, 0), '', ''),),
    'zcount': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zdiff': ((('i', 1), ('n', 0, 1, 1), 'R', ''),),
    'zdiffstore': ((('i', 1), ('r', 0, 1, 0), 'W', ''), (('i', 2), ('n', 0, 1, 1), 'R', '')),
    'zincrby': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'zinter': ((('i', 1), ('n', 0, 1, 1), 'R', ''),),
    'zintercard': ((('i', 1), ('n', 0, 1, 1), 'R', ''),),
    'zinterstore': ((('i', 1), ('r', 0, 1, 0), 'W', ''), (('i', 2), ('n', 0, 1, 1), 'R', '')),
    'zlexcount': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zmpop': ((('i', 1), ('n', 0, 1, 1), 'RW', ''),),
    'zmscore': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zpopmax': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'zpopmin': ((('i', 1), ('r', 0, 1, 0), 'RW', ''),),
    'zrandmember': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zrange': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zrangebylex': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zrangebyscore': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zrangestore': ((('i', 1), ('r', 0, 1, 0), 'W', ''), (('i', 2), ('r', 0, 1, 0), 'R', '')),
    'zrank': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zrem': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'zremrangebylex': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'zremrangebyrank': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'zremrangebyscore': ((('i', 1), ('r', 0, 1, 0), 'W', ''),),
    'zrevrange': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zrevrangebylex': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zrevrangebyscore': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zrevrank': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zscan': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zscore': ((('i', 1), ('r', 0, 1, 0), 'R', ''),),
    'zunion': ((('i', 1), ('n', 0, 1, 1), 'R', ''),),
    'zunionstore': ((('i', 1), ('r', 0, 1, 0), 'W', ''), (('i', 2), ('n', 0, 1, 1), 'R', '')),
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
            if numkeys < 0 or raw != b"%d" % numkeys:
                return None
            first += firstkey
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        need = _ACCESS[access]
        out.extend((i, need) for i in range(first, last + 1, step))
        if "I" in extra:
            return None
    return out


def key_access(cmd, args: list) -> list:
    """[(position, READ|WRITE bits)] of every key `args` names, for ACL checks."""
    specs = SPECS.get(cmd.fullname)
    name = cmd.fullname
    if specs is not None and name not in _GETKEYS:
        found = _from_specs(specs, args)
        if found is not None:
            return found
    special = _GETKEYS.get(name)
    if special is not None:
        return special(cmd, args)
    # No spec that describes this call: the table's key positions (which follow
    # Redis's getkeys functions), with the access every spec of the command grants.
    need = 0
    for _, _, access, extra in specs or ():
        if "N" not in extra:
            need |= _ACCESS[access]
    if specs is None:
        need = (READ if cmd.is_readonly else 0) | (WRITE if cmd.is_write else 0)
    try:
        positions = cmd.key_indexes(args)
    except Exception:
        return []
    return [(i, need) for i in positions if i < len(args)]


def _set_keys(cmd, args):
    # setGetKeys: SET ... GET reads the old value too.
    reads = any(a.upper() == b"GET" for a in args[3:])
    return [(1, READ | WRITE if reads else WRITE)]


def _bitfield_keys(cmd, args):
    # bitfieldGetKeys: read-only unless a SET or INCRBY operation is present.
    writes = any(a.upper() in (b"SET", b"INCRBY") for a in args[2:])
    return [(1, READ | WRITE if writes else READ)]


def _sort_keys(cmd, args):
    # sortGetKeys: the sorted key is read; a STORE destination is written.
    out = [(1, READ)]
    for i, pos in enumerate(cmd.key_indexes(args)):
        if i and pos < len(args):
            out.append((pos, WRITE))
    return out


_GETKEYS = {"set": _set_keys, "bitfield": _bitfield_keys, "sort": _sort_keys}
