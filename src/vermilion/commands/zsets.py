"""Sorted sets: ZADD ... ZSCAN, the ZRANGE family, pops (ZPOPMIN/MAX, ZMPOP and the
blocking BZPOPMIN/BZPOPMAX/BZMPOP), the algebra (ZUNION/ZINTER/ZDIFF, STORE forms,
ZINTERCARD) and ZRANDMEMBER.

Values are ``types.sortedset.SortedSet``. Scores are parsed like Redis
(types/numeric.py: strtod, ``inf``, hex floats, NaN refused, overflow refused for
scores but accepted as inf in ranges) and returned as Python floats, which the
encoder prints as Redis 7.0 does (%.17g; RESP3 doubles). With scores, RESP3
replies nest [member, score] pairs where Redis 7.0 does (ZRANGE WITHSCORES,
ZPOPMIN with COUNT, ZRANDMEMBER WITHSCORES, ZMPOP) and stay flat where it does
(ZPOPMIN without COUNT, BZPOPMIN, RESP2 everywhere).
"""
from __future__ import annotations

import random

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import ClientCore, EngineCore
from ..engine.keyspace import Database
from ..engine.blocking import parse_timeout_seconds
from ..engine.errors import NOT_FLOAT, NOT_POSITIVE, SYNTAX, WRONGTYPE, CommandError
from ..engine.replies import NO_REPLY, NULL_ARRAY
from ..engine.table import command, numkeys_keys
from ..engine.replies import format_double
from ..types.collections import Set
from ..types.numeric import parse_double, parse_range_double
from ..types.sortedset import (ADDED, NAN, SKIPPED, UPDATED, ZADD_GT, ZADD_INCR, ZADD_LT, ZADD_NX,
                               ZADD_XX, SortedSet, ZSetIndex, index_add, index_remove, parse_lex)
from ._collection import remove_members
from ._args import parse_random_count, parse_int, parse_mpop
from ._scan import parse_scan_cursor, scan_reply

_LLONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1
NOT_FLOAT_RANGE = "ERR min or max is not a float"
NOT_LEX_RANGE = "ERR min or max not valid string range item"


def _parse_score_range(lo: bytes, hi: bytes):
    """zslParseRange: "(" exclusive, inf/-inf; returns (lo, lo_ex, hi, hi_ex)."""
    lo_ex = lo[:1] == b"("
    hi_ex = hi[:1] == b"("
    a = parse_range_double(lo[1:] if lo_ex else lo)
    b = parse_range_double(hi[1:] if hi_ex else hi)
    if a is None or b is None:
        raise CommandError(NOT_FLOAT_RANGE)
    return a, lo_ex, b, hi_ex


def _parse_lex_range(lo: bytes, hi: bytes):
    a = parse_lex(lo)
    b = parse_lex(hi)
    if a is None or b is None:
        raise CommandError(NOT_LEX_RANGE)
    return a, b


def _with_scores(items, resp3: bool) -> list:
    """(score, member) pairs as a reply: nested pairs in RESP3, flat in RESP2."""
    if resp3:
        return [[m, s] for s, m in items]
    out = []
    for s, m in items:
        out.append(m)
        out.append(s)
    return out


def _members(items) -> list:
    return [m for _, m in items]


# -- ZADD / ZINCRBY ---------------------------------------------------------------------------------

_ZADD_FLAGS = {b"nx", b"xx", b"ch", b"incr", b"gt", b"lt"}


@command("zadd", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.2.0", summary="Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
         args="key:k0 [condition(NX|XX)@3.0.2] [comparison(GT|LT)@6.2.0] [CH=change:-@3.0.2] "
              "[INCR=increment:-@3.0.2] score_member(score:d member)...")
@cython.locals(client=ClientCore, db=Database, args=list, zset=SortedSet)
def zadd(client, args):
    n = len(args)
    if n == 4:
        # The common case, ZADD key score member on a large set, straight through.
        db = client.db
        zs = db.get(args[1])
        if type(zs) is SortedSet:
            zset = zs           # compiled: a C layout (types/sortedset.pxd), data a C field
            index = zset.data
            score = parse_double(args[2])
            if score is not None:
                if type(index) is ZSetIndex:
                    return _zadd_one(client, index, args[1], args[3], score)
                # Packed: SortedSet.add's one walk, without the options' parse.
                limits = client.engine.config.values
                outcome = zs.add(args[3], score, 0, limits["zset-max-listpack-entries"],
                                 limits["zset-max-listpack-value"])[0]
                _finish_zadd(client, db, args[1], zs, outcome == ADDED, outcome == UPDATED, False, False)
                return 1 if outcome == ADDED else 0
        flags = ()
        idx = 2
    else:
        flags = set()
        idx = 2
        while idx < n:
            low = args[idx].lower()
            if low not in _ZADD_FLAGS:
                break
            flags.add(low)
            idx += 1
    return _zadd(client, args, flags, idx, False)


@cython.cfunc
@cython.locals(client=ClientCore, db=Database, engine=EngineCore, scores=dict, index=ZSetIndex,
               n=cython.Py_ssize_t)
def _zadd_one(client, index, key: bytes, member: bytes, score) -> int:
    # `score` is parse_double's float object, stored in the dict as it is; the index
    # updates are C calls into the C index when it is built (sortedset.index_add).
    scores = index.scores
    n = len(scores)
    old = scores.setdefault(member, score)     # one lookup: inserts a new member's score
    if len(scores) != n:
        index_add(index.order, score, member)
        added = 1
    elif old != score:
        order = index.order
        index_remove(order, old, member)
        scores[member] = score
        index_add(order, score, member)
        added = 0
    else:
        return 0
    engine = client.engine
    engine.dirty += 1
    db = client.db
    if db.watched:
        db.modified(key)
    if engine.notify_flags:
        engine.notify(db, "z", b"zadd", key)
    return added


@cython.locals(n=cython.Py_ssize_t, i=cython.Py_ssize_t, j=cython.Py_ssize_t, elements=cython.Py_ssize_t,
               idx=cython.Py_ssize_t, added=cython.Py_ssize_t, updated=cython.Py_ssize_t,
               processed=cython.Py_ssize_t)
def _zadd(client, args, flags, idx: int, zincrby: bool):
    n = len(args)
    elements = n - idx
    if elements <= 0 or elements & 1:
        raise CommandError(SYNTAX)
    elements >>= 1
    nx = b"nx" in flags
    xx = b"xx" in flags
    gt = b"gt" in flags
    lt = b"lt" in flags
    incr = zincrby or b"incr" in flags
    ch = b"ch" in flags
    if flags:
        if nx and xx:
            raise CommandError("ERR XX and NX options at the same time are not compatible")
        if (gt and nx) or (lt and nx) or (gt and lt):
            raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
        if incr and elements > 1:
            raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = []
    for i in range(idx, n, 2):
        score = parse_double(args[i])
        if score is None:
            raise CommandError(NOT_FLOAT)
        scores.append(score)
    db = client.db
    key = args[1]
    zs = db.get(key)
    engine = client.engine
    if zs is None:
        if xx:
            return None if incr else 0
        zs = SortedSet()
        db.add(key, zs)
        created = True
    elif type(zs) is not SortedSet:
        raise CommandError(WRONGTYPE)
    else:
        created = False
    mode = ((ZADD_NX if nx else 0) | (ZADD_XX if xx else 0) | (ZADD_GT if gt else 0)
            | (ZADD_LT if lt else 0) | (ZADD_INCR if incr else 0))
    added = updated = processed = 0
    result = None
    limits = engine.config.values
    max_entries = limits["zset-max-listpack-entries"]
    max_value = limits["zset-max-listpack-value"]
    for j in range(elements):
        outcome, score = zs.add(args[idx + 2 * j + 1], scores[j], mode, max_entries, max_value)
        if outcome == SKIPPED:
            continue
        if outcome == NAN:
            _finish_zadd(client, db, key, zs, added, updated, incr, created)
            raise CommandError("ERR resulting score is not a number (NaN)")
        processed += 1
        result = score
        if outcome == ADDED:
            added += 1
        elif outcome == UPDATED:
            updated += 1
    _finish_zadd(client, db, key, zs, added, updated, incr, created)
    if incr:
        return result if processed else None
    return added + updated if ch else added


@cython.cfunc
def _finish_zadd(client, db, key, zs, added, updated, incr, created) -> None:
    engine = client.engine
    if added or updated:
        engine.dirty += added + updated
        if not created and db.watched:
            db.modified(key)
        if engine.notify_flags:
            engine.notify(db, "z", b"zincr" if incr else b"zadd", key)
        if created:
            engine.signal_ready(db, key)
    elif created and not zs:
        db.delete(key)


@command("zincrby", arity=4, flags="write denyoom fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.2.0", summary="Increments the score of a member in a sorted set.",
         args="key:k0 increment:i member")
def zincrby(client, args):
    return _zadd(client, args, (), 2, True)


# -- reads ---------------------------------------------------------------------------------------------

@command("zscore", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.2.0", summary="Returns the score of a member in a sorted set.",
         args="key:k0 member")
def zscore(client, args):
    zs = client.db.get_typed(args[1], SortedSet)
    return None if zs is None else zs.score(args[2])


@command("zmscore", arity=-3, flags="readonly fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="6.2.0", summary="Returns the score of one or more members in a sorted set.",
         args="key:k0 member...")
def zmscore(client, args):
    zs = client.db.get_typed(args[1], SortedSet)
    if zs is None:
        return [None] * (len(args) - 2)
    get = zs.score
    return [get(m) for m in args[2:]]


@command("zcard", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.2.0", summary="Returns the number of members in a sorted set.",
         args="key:k0")
def zcard(client, args):
    zs = client.db.get_typed(args[1], SortedSet)
    return 0 if zs is None else len(zs)


@command("zcount", arity=4, flags="readonly fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.0.0", summary="Returns the count of members in a sorted set that have scores within a range.",
         args="key:k0 min:d max:d")
def zcount(client, args):
    lo, lo_ex, hi, hi_ex = _parse_score_range(args[2], args[3])
    zs = client.db.get_typed(args[1], SortedSet)
    return 0 if zs is None else zs.count_by_score(lo, lo_ex, hi, hi_ex)


@command("zlexcount", arity=4, flags="readonly fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.8.9", summary="Returns the number of members in a sorted set within a lexicographical range.",
         args="key:k0 min max")
def zlexcount(client, args):
    lo, hi = _parse_lex_range(args[2], args[3])
    zs = client.db.get_typed(args[1], SortedSet)
    return 0 if zs is None else zs.count_by_lex(lo, hi)


def _rank(client, args, reverse: bool):
    zs = client.db.get_typed(args[1], SortedSet)
    return None if zs is None else zs.rank(args[2], reverse)


@command("zrank", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.0.0", summary="Returns the index of a member in a sorted set ordered by ascending scores.",
         args="key:k0 member")
def zrank(client, args):
    return _rank(client, args, False)


@command("zrevrank", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.0.0", summary="Returns the index of a member in a sorted set ordered by descending scores.",
         args="key:k0 member")
def zrevrank(client, args):
    zs = client.db.get(args[1])
    if zs is None:
        return None
    if type(zs) is not SortedSet:
        raise CommandError(WRONGTYPE)
    return zs.rank(args[2], True)


# -- the ZRANGE family ----------------------------------------------------------------------------------

RANK, SCORE, LEX = 0, 1, 2


def _zrange(client, args, first: int, rangetype, reverse, store_key=None):
    """zrangeGenericCommand: args[first] is the source key, then min, max, options.

    rangetype/reverse None mean "from the options" (ZRANGE, ZRANGESTORE); the legacy
    commands fix them, and then BYSCORE/BYLEX/REV are syntax errors.
    """
    key = args[first]
    minidx, maxidx = first + 1, first + 2
    withscores = False
    offset, limit = 0, -1
    limit_given = False
    direction = reverse
    kind = rangetype
    n = len(args)
    j = first + 3
    while j < n:
        opt = args[j].lower()
        left = n - j - 1
        if opt == b"withscores" and store_key is None:
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = parse_int(args[j + 1])
            limit = parse_int(args[j + 2])
            limit_given = True
            j += 2
        elif direction is None and opt == b"rev":
            direction = True
        elif kind is None and opt == b"bylex":
            kind = LEX
        elif kind is None and opt == b"byscore":
            kind = SCORE
        else:
            raise CommandError(SYNTAX)
        j += 1
    if direction is None:
        direction = False
    if kind is None:
        kind = RANK
    if limit_given and kind == RANK:
        raise CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and kind == LEX:
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    if direction and kind != RANK:
        minidx, maxidx = maxidx, minidx
    if kind == RANK:
        start = parse_int(args[minidx])
        stop = parse_int(args[maxidx])
    elif kind == SCORE:
        srange = _parse_score_range(args[minidx], args[maxidx])
    else:
        lrange = _parse_lex_range(args[minidx], args[maxidx])
    db = client.db
    zs = db.get(key)
    if zs is None:
        if store_key is not None:
            return _store_result(client, store_key, [], b"zrangestore")
        return []
    if type(zs) is not SortedSet:
        raise CommandError(WRONGTYPE)
    if kind == RANK:
        size = len(zs)
        if start < 0:
            start += size
        if stop < 0:
            stop += size
        if start < 0:
            start = 0
        if start > stop or start >= size:
            items = []
        else:
            if stop >= size:
                stop = size - 1
            items = zs.by_rank(start, stop, direction)
    elif kind == SCORE:
        lo, lo_ex, hi, hi_ex = srange
        items = zs.range_by_score(lo, lo_ex, hi, hi_ex, direction, offset, limit)
    else:
        items = zs.range_by_lex(lrange[0], lrange[1], direction, offset, limit)
    if store_key is not None:
        return _store_result(client, store_key, items, b"zrangestore")
    if withscores:
        return _with_scores(items, client.resp3)
    return [m for _, m in items]


@command("zrange", arity=-4, flags="readonly", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.2.0", summary="Returns members in a sorted set within a range of indexes.",
         args="key:k0 start stop [sortby(BYSCORE|BYLEX)@6.2.0] [REV@6.2.0] "
              "[LIMIT=offset_count(offset:i count:i)@6.2.0] [WITHSCORES]")
def zrange(client, args):
    return _zrange(client, args, 1, None, None)


@command("zrangestore", arity=-5, flags="write denyoom", keys=(1, 2, 1), acl="sortedset", group="sorted-set",
         since="6.2.0", summary="Stores a range of members from sorted set in a key.",
         args="dst:k0 src:k1 min max [sortby(BYSCORE|BYLEX)] [REV] [LIMIT=offset_count(offset:i "
              "count:i)]")
def zrangestore(client, args):
    return _zrange(client, args, 2, None, None, store_key=args[1])


@command("zrevrange", arity=-4, flags="readonly", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.2.0", summary="Returns members in a sorted set within a range of indexes in reverse order.",
         args="key:k0 start:i stop:i [WITHSCORES]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` argument")
def zrevrange(client, args):
    return _zrange(client, args, 1, RANK, True)


@command("zrangebyscore", arity=-4, flags="readonly", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.0.5", summary="Returns members in a sorted set within a range of scores.",
         args="key:k0 min:d max:d [WITHSCORES@2.0.0] [LIMIT=offset_count(offset:i count:i)]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `BYSCORE` argument")
def zrangebyscore(client, args):
    return _zrange(client, args, 1, SCORE, False)


@command("zrevrangebyscore", arity=-4, flags="readonly", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.2.0", summary="Returns members in a sorted set within a range of scores in reverse order.",
         args="key:k0 max:d min:d [WITHSCORES] [LIMIT=offset_count(offset:i count:i)]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` and `BYSCORE` arguments")
def zrevrangebyscore(client, args):
    return _zrange(client, args, 1, SCORE, True)


@command("zrangebylex", arity=-4, flags="readonly", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.8.9", summary="Returns members in a sorted set within a lexicographical range.",
         args="key:k0 min max [LIMIT=offset_count(offset:i count:i)]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `BYLEX` argument")
def zrangebylex(client, args):
    return _zrange(client, args, 1, LEX, False)


@command("zrevrangebylex", arity=-4, flags="readonly", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.8.9", summary="Returns members in a sorted set within a lexicographical range in reverse order.",
         args="key:k0 max min [LIMIT=offset_count(offset:i count:i)]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`ZRANGE` with the `REV` and `BYLEX` arguments")
def zrevrangebylex(client, args):
    return _zrange(client, args, 1, LEX, True)


def _store_result(client, dst_key: bytes, items, event: bytes) -> int:
    """Store (score, member) items at dst (replacing it, TTL dropped) or delete dst."""
    db = client.db
    engine = client.engine
    if items:
        limits = engine.config.values
        zs = SortedSet.from_items(items, len(items) > limits["zset-max-listpack-entries"] or
                                  any(len(m) > limits["zset-max-listpack-value"] for _, m in items))
        db.set(dst_key, zs)
        engine.dirty += 1
        if engine.notify_flags:
            engine.notify(db, "z", event, dst_key)
        engine.signal_ready(db, dst_key)
        return len(zs)
    if db.delete(dst_key):
        engine.dirty += 1
        if engine.notify_flags:
            engine.notify(db, "g", b"del", dst_key)
    return 0


# -- removals ------------------------------------------------------------------------------------------

@command("zrem", arity=-3, flags="write fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.2.0", summary="Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
         args="key:k0 member...")
def zrem(client, args):
    return remove_members(client, args, SortedSet, SortedSet.remove, "z", b"zrem")


def _zremrange(client, args, kind: int):
    if kind == RANK:
        start = parse_int(args[2])
        stop = parse_int(args[3])
    elif kind == SCORE:
        srange = _parse_score_range(args[2], args[3])
    else:
        lrange = _parse_lex_range(args[2], args[3])
    db = client.db
    key = args[1]
    zs = db.get_typed(key, SortedSet)
    if zs is None:
        return 0
    if kind == RANK:
        size = len(zs)
        if start < 0:
            start += size
        if stop < 0:
            stop += size
        if start < 0:
            start = 0
        if start > stop or start >= size:
            return 0
        if stop >= size:
            stop = size - 1
        begin, end = start, stop + 1
    elif kind == SCORE:
        begin, end = zs.score_span(*srange)
    else:
        begin, end = zs.lex_span(*lrange)
    deleted = zs.remove_span(begin, end)
    engine = client.engine
    if deleted:
        if engine.notify_flags:
            engine.notify(db, "z", (b"zremrangebyrank", b"zremrangebyscore", b"zremrangebylex")[kind], key)
        db.shrunk(key, zs)
        engine.dirty += deleted
    return deleted


@command("zremrangebyrank", arity=4, flags="write", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.0.0", summary="Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
         args="key:k0 start:i stop:i")
def zremrangebyrank(client, args):
    return _zremrange(client, args, RANK)


@command("zremrangebyscore", arity=4, flags="write", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="1.2.0", summary="Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
         args="key:k0 min:d max:d")
def zremrangebyscore(client, args):
    return _zremrange(client, args, SCORE)


@command("zremrangebylex", arity=4, flags="write", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.8.9", summary="Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
         args="key:k0 min max")
def zremrangebylex(client, args):
    return _zremrange(client, args, LEX)


# -- pops -------------------------------------------------------------------------------------------------

def _pop_items(client, db, key: bytes, zs, count: int, from_max: bool) -> list:
    """Pop up to `count` (score, member) items; events, deletion and dirty as Redis."""
    items = zs.pop(count, from_max)
    engine = client.engine
    if engine.notify_flags:
        engine.notify(db, "z", b"zpopmax" if from_max else b"zpopmin", key)
    db.shrunk(key, zs)
    engine.dirty += len(items)
    return items


def _zpop(client, args, from_max: bool):
    n = len(args)
    if n > 3:
        raise CommandError(SYNTAX)
    count = -1
    if n == 3:
        count = parse_int(args[2], NOT_POSITIVE)
        if count < 0:
            raise CommandError(NOT_POSITIVE)
    db = client.db
    key = args[1]
    zs = db.get(key)
    if zs is None:
        return []
    if type(zs) is not SortedSet:
        raise CommandError(WRONGTYPE)
    if count == 0:
        return []
    if count == -1:
        # The common case: one member, a flat [member, score] reply in both protocols.
        score, member = zs.pop(1, from_max)[0]
        engine = client.engine
        if engine.notify_flags:
            engine.notify(db, "z", b"zpopmax" if from_max else b"zpopmin", key)
        db.shrunk(key, zs)
        engine.dirty += 1
        return [member, score]
    items = _pop_items(client, db, key, zs, count, from_max)
    if client.resp3:
        return [[m, s] for s, m in items]
    out = []
    for s, m in items:
        out.append(m)
        out.append(s)
    return out


@command("zpopmin", arity=-2, flags="write fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="5.0.0", summary="Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
         args="key:k0 [count:i]")
def zpopmin(client, args):
    return _zpop(client, args, False)


@command("zpopmax", arity=-2, flags="write fast", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="5.0.0", summary="Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
         args="key:k0 [count:i]")
def zpopmax(client, args):
    return _zpop(client, args, True)




def _from_max(arg: bytes) -> bool:
    """ZMPOP's MIN -> False, MAX -> True; anything else is a syntax error."""
    where = arg.lower()
    if where == b"min":
        return False
    if where == b"max":
        return True
    raise CommandError(SYNTAX)


def _pop_reply(client, db, key: bytes, zs, from_max: bool, count, nested: bool):
    """A blocking-style pop reply: [key, member, score] or [key, [[member, score] ...]]."""
    name = b"ZPOPMAX" if from_max else b"ZPOPMIN"
    engine = client.engine
    if not nested:
        items = _pop_items(client, db, key, zs, 1, from_max)
        engine.rewrite([name, key])
        score, member = items[0]
        return [key, member, score]
    items = _pop_items(client, db, key, zs, count, from_max)
    engine.rewrite([name, key, b"%d" % len(items)])
    return [key, [[m, s] for s, m in items]]


@command("zmpop", arity=-4, flags="write", keys=(0, 0, 0), getkeys=numkeys_keys(1),
         acl="sortedset", group="sorted-set", since="7.0.0",
         summary="Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
         args="numkeys:i key:k0... where(MIN|MAX) [COUNT=count:i]")
def zmpop(client, args):
    keys, from_max, count = parse_mpop(args, 1, _from_max)
    db = client.db
    for key in keys:
        zs = db.get_typed(key, SortedSet)
        if zs is not None:
            return _pop_reply(client, db, key, zs, from_max, count, True)
    return NULL_ARRAY


def _serve_zpop(waiter, key):
    db = waiter.db
    zs = db.get(key)
    if zs is None or type(zs) is not SortedSet or not zs:
        return None
    from_max, count, nested = waiter.data
    return _pop_reply(waiter.client, db, key, zs, from_max, count, nested)


def _blocking_zpop(client, keys, timeout: int, from_max: bool, count, nested: bool):
    db = client.db
    for key in keys:
        zs = db.get_typed(key, SortedSet)
        if zs is not None:
            return _pop_reply(client, db, key, zs, from_max, count, nested)
    return client.engine.blocking.block(client, keys, timeout, _serve_zpop, NULL_ARRAY,
                                        (from_max, count, nested))


@command("bzpopmin", arity=-3, flags="write noscript blocking fast", keys=(1, -2, 1), acl="sortedset",
         group="sorted-set", since="5.0.0",
         summary="Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
         args="key:k0... timeout:d")
def bzpopmin(client, args):
    timeout = parse_timeout_seconds(args[-1])
    return _blocking_zpop(client, args[1:-1], timeout, False, 1, False)


@command("bzpopmax", arity=-3, flags="write noscript blocking fast", keys=(1, -2, 1), acl="sortedset",
         group="sorted-set", since="5.0.0",
         summary="Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
         args="key:k0... timeout:d")
def bzpopmax(client, args):
    timeout = parse_timeout_seconds(args[-1])
    return _blocking_zpop(client, args[1:-1], timeout, True, 1, False)


@command("bzmpop", arity=-5, flags="write blocking", keys=(0, 0, 0), getkeys=numkeys_keys(2),
         acl="sortedset", group="sorted-set", since="7.0.0",
         summary="Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
         args="timeout:d numkeys:i key:k0... where(MIN|MAX) [COUNT=count:i]")
def bzmpop(client, args):
    keys, from_max, count = parse_mpop(args, 2, _from_max)
    timeout = parse_timeout_seconds(args[1])
    return _blocking_zpop(client, keys, timeout, from_max, count, True)


# -- ZRANDMEMBER / ZSCAN ------------------------------------------------------------------------------------

@command("zrandmember", arity=-2, flags="readonly", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="6.2.0", tips=("nondeterministic_output",),
         summary="Returns one or more random members from a sorted set.",
         args="key:k0 [options(count:i [WITHSCORES])]")
def zrandmember(client, args):
    n = len(args)
    if n == 2:
        zs = client.db.get_typed(args[1], SortedSet)
        return None if zs is None else zs.random_item()[1]
    count, withscores = parse_random_count(args, b"withscores")
    zs = client.db.get_typed(args[1], SortedSet)
    if zs is None or count == 0:
        return []
    if count < 0:
        if client.reply_over_limit(-count * (10 if withscores else 6)):      # see HRANDFIELD
            return NO_REPLY
        pick = zs.random_item
        items = [pick() for _ in range(-count)]
    elif count >= len(zs):
        # Redis walks the whole set from its tail (highest score first).
        items = zs.items_desc()
    else:
        item_at = zs.item_at
        items = [item_at(i) for i in random.sample(range(len(zs)), count)]
    if withscores:
        return _with_scores(items, client.resp3)
    return [m for _, m in items]


@command("zscan", arity=-3, flags="readonly", keys=(1, 1, 1), acl="sortedset", group="sorted-set",
         since="2.8.0", tips=("nondeterministic_output",), summary="Iterates over members and scores of a sorted set.",
         args="key:k0 cursor:i [MATCH=pattern:p] [COUNT=count:i]")
def zscan(client, args):
    cursor = parse_scan_cursor(args[2])
    zs = client.db.get_typed(args[1], SortedSet)
    if zs is None:
        return [b"0", []]
    big = zs.big
    scores = zs.data.scores if big else dict(zs.items())
    # A listpack holds integral scores within +/-LLONG_MAX/2 as integers and ZSCAN
    # prints them so; a skiplist score goes through d2string (integers below 2**52).
    limit = 4611686018427387903 if not big else 4503599627370496

    def score_text(member):
        score = scores.get(member)
        if score is None:
            return None
        if -limit <= score <= limit and score == int(score):
            return b"%d" % score
        return format_double(score)

    # A packed set is answered whole, in order (the dict was built in order).
    return scan_reply(zs.data if big else scores, cursor, args, 3, big=big, values=score_text,
                      members=scores, order=None if big else list(scores))


# -- ZUNION / ZINTER / ZDIFF -----------------------------------------------------------------------------------

UNION, INTER, DIFF = 0, 1, 2
_AGG = {b"sum": 0, b"min": 1, b"max": 2}
_OP_NAMES = {UNION: "zunion", INTER: "zinter", DIFF: "zdiff"}


def _source_items(value):
    """(member, score) of a zset or a set (score 1), iterated from the tail like zuiNext."""
    if value is None:
        return []
    if type(value) is SortedSet:
        return [(m, s) for s, m in value.items_desc()]
    return [(m, 1.0) for m in value]


def _aggregate(target: float, value: float, agg: int) -> float:
    if agg == 0:
        result = target + value
        return 0.0 if result != result else result
    if agg == 1:
        return value if value < target else target
    return value if value > target else target


def _zsetop(client, args, op: int, store_key=None, cardinality=False):
    """zunionInterDiffGenericCommand: returns the result as (score, member) pairs."""
    first = 2 if store_key is not None else 1
    name = _OP_NAMES[op] + ("store" if store_key is not None else "")
    if cardinality:
        name = "zintercard"
    setnum = parse_int(args[first])
    if setnum < 1:
        raise CommandError("ERR at least 1 input key is needed for '%s' command" % name)
    if setnum > len(args) - first - 1:
        raise CommandError(SYNTAX)
    db = client.db
    sources = []
    for key in args[first + 1:first + 1 + setnum]:
        value = db.get(key)
        if value is not None and type(value) is not SortedSet and type(value) is not Set:
            raise CommandError(WRONGTYPE)
        sources.append(value)
    weights = [1.0] * setnum
    agg = 0
    withscores = False
    limit = 0
    j = first + 1 + setnum
    n = len(args)
    while j < n:
        remaining = n - j
        opt = args[j].lower()
        if op != DIFF and not cardinality and remaining >= setnum + 1 and opt == b"weights":
            j += 1
            for i in range(setnum):
                w = parse_double(args[j])
                if w is None:
                    raise CommandError("ERR weight value is not a float")
                weights[i] = w
                j += 1
        elif op != DIFF and not cardinality and remaining >= 2 and opt == b"aggregate":
            mode = _AGG.get(args[j + 1].lower())
            if mode is None:
                raise CommandError(SYNTAX)
            agg = mode
            j += 2
        elif cardinality and remaining >= 2 and opt == b"limit":
            try:
                limit = parse_int(args[j + 1])
            except CommandError:
                raise CommandError("ERR LIMIT can't be negative") from None
            if limit < 0:
                raise CommandError("ERR LIMIT can't be negative")
            j += 2
        elif remaining >= 1 and store_key is None and not cardinality and opt == b"withscores":
            withscores = True
            j += 1
        else:
            raise CommandError(SYNTAX)
    srcs = list(zip(sources, weights))
    result: dict = {}
    if op == INTER:
        srcs.sort(key=lambda sw: len(sw[0]) if sw[0] is not None else 0)
        if srcs[0][0] is not None and len(srcs[0][0]) > 0:
            first_value, first_weight = srcs[0]
            others = srcs[1:]
            lookups = [(v, w, v.score if type(v) is SortedSet else None) for v, w in others]
            count = 0
            for member, score in _source_items(first_value):
                total = first_weight * score
                if total != total:
                    total = 0.0
                for value, weight, scores in lookups:
                    if value is None:
                        break
                    if scores is not None:
                        other = scores(member)
                    else:
                        other = 1.0 if member in value else None
                    if other is None:
                        break
                    total = _aggregate(total, other * weight, agg)
                else:
                    if cardinality:
                        count += 1
                        if limit and count >= limit:
                            break
                        continue
                    result[member] = total
            if cardinality:
                return count
        elif cardinality:
            return 0
    elif op == UNION:
        srcs.sort(key=lambda sw: len(sw[0]) if sw[0] is not None else 0)
        for value, weight in srcs:
            for member, score in _source_items(value):
                total = weight * score
                if total != total:
                    total = 0.0
                old = result.get(member)
                result[member] = total if old is None else _aggregate(old, total, agg)
    else:
        base = srcs[0][0]
        if base is not None:
            others = [v for v, _ in srcs[1:] if v is not None]
            for member, score in _source_items(base):
                if not any(member in v for v in others):
                    result[member] = score
    items = sorted((s, m) for m, s in result.items())
    if store_key is not None:
        return _store_result(client, store_key, items, (name).encode())
    if withscores:
        return _with_scores(items, client.resp3)
    return [m for _, m in items]


@command("zunion", arity=-3, flags="readonly", keys=(0, 0, 0), getkeys=numkeys_keys(1), acl="sortedset",
         group="sorted-set", since="6.2.0", summary="Returns the union of multiple sorted sets.",
         args="numkeys:i key:k0... [WEIGHTS=weight:i...] [AGGREGATE=aggregate(SUM|MIN|MAX)] "
              "[WITHSCORES]")
def zunion(client, args):
    return _zsetop(client, args, UNION)


@command("zinter", arity=-3, flags="readonly", keys=(0, 0, 0), getkeys=numkeys_keys(1), acl="sortedset",
         group="sorted-set", since="6.2.0", summary="Returns the intersect of multiple sorted sets.",
         args="numkeys:i key:k0... [WEIGHTS=weight:i...] [AGGREGATE=aggregate(SUM|MIN|MAX)] "
              "[WITHSCORES]")
def zinter(client, args):
    return _zsetop(client, args, INTER)


@command("zdiff", arity=-3, flags="readonly", keys=(0, 0, 0), getkeys=numkeys_keys(1), acl="sortedset",
         group="sorted-set", since="6.2.0", summary="Returns the difference between multiple sorted sets.",
         args="numkeys:i key:k0... [WITHSCORES]")
def zdiff(client, args):
    return _zsetop(client, args, DIFF)


@command("zunionstore", arity=-4, flags="write denyoom", keys=(1, 1, 1), getkeys=numkeys_keys(2, store_at=1),
         acl="sortedset", group="sorted-set", since="2.0.0",
         summary="Stores the union of multiple sorted sets in a key.",
         args="destination:k0 numkeys:i key:k1... [WEIGHTS=weight:i...] [AGGREGATE=aggregate(SUM|"
              "MIN|MAX)]")
def zunionstore(client, args):
    return _zsetop(client, args, UNION, store_key=args[1])


@command("zinterstore", arity=-4, flags="write denyoom", keys=(1, 1, 1), getkeys=numkeys_keys(2, store_at=1),
         acl="sortedset", group="sorted-set", since="2.0.0",
         summary="Stores the intersect of multiple sorted sets in a key.",
         args="destination:k0 numkeys:i key:k1... [WEIGHTS=weight:i...] [AGGREGATE=aggregate(SUM|"
              "MIN|MAX)]")
def zinterstore(client, args):
    return _zsetop(client, args, INTER, store_key=args[1])


@command("zdiffstore", arity=-4, flags="write denyoom", keys=(1, 1, 1), getkeys=numkeys_keys(2, store_at=1),
         acl="sortedset", group="sorted-set", since="6.2.0",
         summary="Stores the difference of multiple sorted sets in a key.",
         args="destination:k0 numkeys:i key:k1...")
def zdiffstore(client, args):
    return _zsetop(client, args, DIFF, store_key=args[1])


@command("zintercard", arity=-3, flags="readonly", keys=(0, 0, 0), getkeys=numkeys_keys(1),
         acl="sortedset", group="sorted-set", since="7.0.0",
         summary="Returns the number of members of the intersect of multiple sorted sets.",
         args="numkeys:i key:k0... [LIMIT=limit:i]")
def zintercard(client, args):
    return _zsetop(client, args, INTER, cardinality=True)

