"""Sets: SADD ... SMOVE, the algebra (SINTER/SUNION/SDIFF, their STORE forms,
SINTERCARD), random reads and pops (SRANDMEMBER, SPOP) and SSCAN.

Values are ``types.collections.Set`` (packed while small; past that a sorted integer
array while Redis would keep an intset, else a SetTable).
An intset-encoded set (all members canonical integers, at most
set-max-intset-entries) is listed in ascending numeric order, as Redis's intset
is; other sets come in insertion or hash order (clients must not rely on it, and
tests compare them unordered). SPOP and SRANDMEMBER pick
uniformly through the set's RandomPool (O(1) per pick). SPOP propagates as SREM
of the popped members (or DEL when it took the whole set), as Redis does.
"""
from __future__ import annotations

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import ClientCore, EngineCore
from ..engine.keyspace import Database

from ..engine.errors import NOT_POSITIVE, SYNTAX, WRONGTYPE, CommandError
from ..engine.replies import NO_REPLY, RespSet
from ..engine.table import command, numkeys_keys
from ..types.collections import Set, is_int64, new_set
from ._collection import remove_members
from ._args import parse_random_count, parse_int, parse_numkeys
from ._scan import parse_scan_cursor, scan_reply

_LLONG_MIN = -(2**63)


def _ordered(s) -> list:
    return s.members_in_order()


# -- writes -------------------------------------------------------------------------------------

@command("sadd", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="set", group="set",
         summary="Adds one or more members to a set. Creates the key if it doesn't exist.",
         args="key:k0 member...")
@cython.locals(client=ClientCore, db=Database, engine=EngineCore)
def sadd(client, args):
    db = client.db
    key = args[1]
    s = db.get(key)
    if s is None:
        s = Set()
        db.add(key, s)
    elif type(s) is not Set:
        raise CommandError(WRONGTYPE)
    data = s.data
    if isinstance(data, set) and data.pool is None and len(data) + len(args) - 2 < data.refit_at:
        # A SetTable with room: the C set does the work (see SetTable for the refits).
        before = len(data)
        if len(args) == 3:
            data.add(args[2])
        else:
            data.update(args[2:])
        added = len(data) - before
    else:
        added = s.add_members(args[2:])
    if added:
        if not s.big:
            s.check_encoding(client.engine.config.values, args[2:])
        engine = client.engine
        engine.dirty += added
        if db.watched:
            db.modified(key)
        if engine.notify_flags:
            engine.notify(db, "s", b"sadd", key)
    return added


@command("srem", arity=-3, flags="write fast", keys=(1, 1, 1), acl="set", group="set",
         summary="Removes one or more members from a set. Deletes the set if the last member was removed.",
         args="key:k0 member...")
def srem(client, args):
    return remove_members(client, args, Set, Set.remove_member, "s", b"srem")


@command("smove", arity=4, flags="write fast", keys=(1, 2, 1), acl="set", group="set",
         summary="Moves a member from one set to another.",
         args="source:k0 destination:k1 member")
def smove(client, args):
    db = client.db
    src_key, dst_key, member = args[1], args[2], args[3]
    src = db.get(src_key)
    dst = db.get(dst_key)
    if src is None:
        return 0
    if type(src) is not Set or (dst is not None and type(dst) is not Set):
        raise CommandError(WRONGTYPE)
    if src is dst:
        return 1 if member in src else 0
    if not src.remove_member(member):
        return 0
    engine = client.engine
    if engine.notify_flags:
        engine.notify(db, "s", b"srem", src_key)
    db.shrunk(src_key, src)
    if dst is None:
        dst = Set()
        db.add(dst_key, dst)
    engine.dirty += 1
    if dst.add_member(member):
        if not dst.big:
            dst.check_encoding(engine.config.values, (member,))
        engine.dirty += 1
        db.modified(dst_key)
        if engine.notify_flags:
            engine.notify(db, "s", b"sadd", dst_key)
    return 1


@command("spop", arity=-2, flags="write fast", keys=(1, 1, 1), acl="set", group="set",
         tips=("nondeterministic_output",),
         summary="Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
         args="key:k0 [count:i@3.2.0]")
def spop(client, args):
    n = len(args)
    if n > 3:
        raise CommandError(SYNTAX)
    db = client.db
    key = args[1]
    engine = client.engine
    if n == 2:
        s = db.get_typed(key, Set)
        if s is None:
            return None
        member = s.pop_random()
        engine.dirty += 1
        if engine.notify_flags:
            engine.notify(db, "s", b"spop", key)
        db.shrunk(key, s)
        engine.rewrite([b"SREM", key, member])
        return member
    count = parse_int(args[2], NOT_POSITIVE)
    if count < 0:
        raise CommandError(NOT_POSITIVE)
    s = db.get_typed(key, Set)
    if s is None or count == 0:
        return RespSet()
    size = len(s)
    if engine.notify_flags:
        engine.notify(db, "s", b"spop", key)
    if count >= size:
        members = _ordered(s)
        db.delete(key)
        engine.dirty += size
        if engine.notify_flags:
            engine.notify(db, "g", b"del", key)
        engine.rewrite([b"DEL", key])
        return RespSet(members)
    popped = [s.pop_random() for _ in range(count)]
    engine.dirty += count
    db.modified(key)
    # Redis 7.0 propagates one SREM per member (engine.propagate wraps them in MULTI/EXEC).
    engine.rewrite(*([b"SREM", key, member] for member in popped))
    return RespSet(popped)


# -- reads ----------------------------------------------------------------------------------------

@command("smembers", arity=2, flags="readonly", keys=(1, 1, 1), acl="set", group="set",
         tips=("nondeterministic_output_order",),
         summary="Returns all members of a set.",
         args="key:k0")
def smembers(client, args):
    s = client.db.get_typed(args[1], Set)
    return RespSet() if s is None else RespSet(_ordered(s))


@command("sismember", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="set", group="set",
         summary="Determines whether a member belongs to a set.",
         args="key:k0 member")
def sismember(client, args):
    s = client.db.get_typed(args[1], Set)
    return 1 if s is not None and args[2] in s else 0


@command("smismember", arity=-3, flags="readonly fast", keys=(1, 1, 1), acl="set", group="set",
         since="6.2.0", summary="Determines whether multiple members belong to a set.",
         args="key:k0 member...")
def smismember(client, args):
    s = client.db.get_typed(args[1], Set)
    if s is None:
        return [0] * (len(args) - 2)
    return [1 if m in s else 0 for m in args[2:]]


@command("scard", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="set", group="set",
         summary="Returns the number of members in a set.",
         args="key:k0")
def scard(client, args):
    s = client.db.get_typed(args[1], Set)
    return 0 if s is None else len(s)


@command("srandmember", arity=-2, flags="readonly", keys=(1, 1, 1), acl="set", group="set",
         tips=("nondeterministic_output",), summary="Get one or multiple random members from a set",
         args="key:k0 [count:i@2.6.0]")
def srandmember(client, args):
    n = len(args)
    if n > 3:
        raise CommandError(SYNTAX)
    if n == 2:
        s = client.db.get_typed(args[1], Set)
        return None if s is None else s.random_member()
    count, _ = parse_random_count(args)
    s = client.db.get_typed(args[1], Set)
    if s is None or count == 0:
        return []
    if count < 0:
        if client.reply_over_limit(-count * 6):      # see HRANDFIELD
            return NO_REPLY
        pick = s.random_member
        return [pick() for _ in range(-count)]
    if count >= len(s):
        return _ordered(s)
    return s.random_members(count)


@command("sscan", arity=-3, flags="readonly", keys=(1, 1, 1), acl="set", group="set",
         since="2.8.0", tips=("nondeterministic_output",), summary="Iterates over members of a set.",
         args="key:k0 cursor:i [MATCH=pattern:p] [COUNT=count:i]")
def sscan(client, args):
    cursor = parse_scan_cursor(args[2])
    s = client.db.get_typed(args[1], Set)
    if s is None:
        return [b"0", []]
    if s.big and not s.packed:
        return scan_reply(s.data, cursor, args, 3, big=True)
    # Answered whole, as Redis answers an intset: a packed set is small.
    return scan_reply(s, cursor, args, 3, big=False, order=_ordered(s))


# -- algebra ----------------------------------------------------------------------------------------

def _load_sets(client, keys, write: bool = False):
    """Every key's set (None when missing); WRONGTYPE if any key holds another type."""
    db = client.db
    out = []
    for key in keys:
        value = db.get(key)
        if value is not None and type(value) is not Set:
            raise CommandError(WRONGTYPE)
        out.append(value)
    return out


def _inter(sets, limit: int = 0) -> list:
    """Members of every set, iterating the smallest (Redis's order); [] if any is missing."""
    if any(s is None for s in sets):
        return []
    sets = sorted(sets, key=len)
    first, rest = sets[0], sets[1:]
    out = []
    for m in _ordered(first):
        for other in rest:
            if m not in other:
                break
        else:
            out.append(m)
            if limit and len(out) >= limit:
                break
    return out


def _union(client, sets) -> list:
    result = set()
    for s in sets:
        if s is not None:
            result.update(s)
    return _sorted_if_intset(client, result)


def _diff(client, sets) -> list:
    first = sets[0]
    if first is None:
        return []
    result = set(first)
    for s in sets[1:]:
        if s is not None:
            if s is first:
                return []
            result.difference_update(s)
            if not result:
                break
    return _sorted_if_intset(client, result)


def _sorted_if_intset(client, members) -> list:
    """Redis builds union/diff results in a new set: an intset (sorted) when it can be."""
    members = list(members)
    if len(members) <= client.engine.config.values["set-max-intset-entries"] and \
            all(is_int64(m) for m in members):
        return sorted(members, key=int)
    return members


def _store(client, dst_key: bytes, members, event: bytes) -> int:
    db = client.db
    engine = client.engine
    if members:
        s = new_set(engine.config.values, members)
        db.set(dst_key, s)
        engine.dirty += 1
        if engine.notify_flags:
            engine.notify(db, "s", event, dst_key)
        return len(s)
    if db.delete(dst_key):
        engine.dirty += 1
        if engine.notify_flags:
            engine.notify(db, "g", b"del", dst_key)
    return 0


@command("sinter", arity=-2, flags="readonly", keys=(1, -1, 1), acl="set", group="set",
         tips=("nondeterministic_output_order",), summary="Returns the intersect of multiple sets.",
         args="key:k0...")
def sinter(client, args):
    return RespSet(_inter(_load_sets(client, args[1:])))


@command("sinterstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), acl="set", group="set",
         summary="Stores the intersect of multiple sets in a key.",
         args="destination:k0 key:k1...")
def sinterstore(client, args):
    return _store(client, args[1], _inter(_load_sets(client, args[2:], True)), b"sinterstore")


@command("sunion", arity=-2, flags="readonly", keys=(1, -1, 1), acl="set", group="set",
         tips=("nondeterministic_output_order",), summary="Returns the union of multiple sets.",
         args="key:k0...")
def sunion(client, args):
    return RespSet(_union(client, _load_sets(client, args[1:])))


@command("sunionstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), acl="set", group="set",
         summary="Stores the union of multiple sets in a key.",
         args="destination:k0 key:k1...")
def sunionstore(client, args):
    return _store(client, args[1], _union(client, _load_sets(client, args[2:], True)), b"sunionstore")


@command("sdiff", arity=-2, flags="readonly", keys=(1, -1, 1), acl="set", group="set",
         tips=("nondeterministic_output_order",), summary="Returns the difference of multiple sets.",
         args="key:k0...")
def sdiff(client, args):
    return RespSet(_diff(client, _load_sets(client, args[1:])))


@command("sdiffstore", arity=-3, flags="write denyoom", keys=(1, -1, 1), acl="set", group="set",
         summary="Stores the difference of multiple sets in a key.",
         args="destination:k0 key:k1...")
def sdiffstore(client, args):
    return _store(client, args[1], _diff(client, _load_sets(client, args[2:], True)), b"sdiffstore")


def parse_card_args(args):
    """SINTERCARD/ZINTERCARD: numkeys key... [LIMIT n] -> (keys, limit)."""
    numkeys = parse_numkeys(args[1])
    if numkeys > len(args) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    while j < len(args):
        if args[j].lower() == b"limit" and j + 1 < len(args):
            try:
                limit = parse_int(args[j + 1])
            except CommandError:
                raise CommandError("ERR LIMIT can't be negative") from None
            if limit < 0:
                raise CommandError("ERR LIMIT can't be negative")
            j += 2
        else:
            raise CommandError(SYNTAX)
    return args[2:2 + numkeys], limit


@command("sintercard", arity=-3, flags="readonly", keys=(0, 0, 0), getkeys=numkeys_keys(1), acl="set",
         group="set", since="7.0.0", summary="Returns the number of members of the intersect of multiple sets.",
         args="numkeys:i key:k0... [LIMIT=limit:i]")
def sintercard(client, args):
    keys, limit = parse_card_args(args)
    sets = _load_sets(client, keys)
    if any(s is None for s in sets):
        return 0
    sets = sorted(sets, key=len)
    first, rest = sets[0], sets[1:]
    count = 0
    for m in first:
        for other in rest:
            if m not in other:
                break
        else:
            count += 1
            if limit and count >= limit:
                break
    return count

