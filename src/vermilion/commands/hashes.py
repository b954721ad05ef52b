"""Hashes: HSET ... HRANDFIELD and HSCAN.

Values are ``types.collections.Hash``: packed bytes while small (Redis's listpack), a
dict once converted; both keep insertion order, which is the order of a Redis listpack
hash, so small hashes answer HGETALL/HKEYS/HSCAN in Redis's exact order. A key never
holds an empty hash.
"""
from __future__ import annotations

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import ClientCore, EngineCore
from ..engine.keyspace import Database

from ..engine.errors import NAN_OR_INF, NOT_FLOAT, OVERFLOW, WRONGTYPE, CommandError, wrong_arity
from ..engine.replies import NO_REPLY, OK
from ..engine.table import command
from ..types.collections import Hash
from ..types import longdouble
from ._collection import remove_members
from ._args import parse_random_count, parse_int
from ._scan import parse_scan_cursor, scan_reply

_LONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)


def _hash_for_write(client, key: bytes):
    """The hash at `key`, created (and stored) when missing."""
    db = client.db
    h = db.get(key)
    if h is None:
        h = Hash()
        db.add(key, h)
        return h
    if type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    if db.watched:
        db.modified(key)
    return h


# -- writes -----------------------------------------------------------------------------------

@command("hset", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Creates or modifies the value of a field in a hash.",
         args="key:k0 field_value(field value)...")
@cython.locals(client=ClientCore, db=Database, engine=EngineCore)
def hset(client, args):
    n = len(args)
    if n == 4:
        # The common case: one field of an existing hash, straight through.
        db = client.db
        h = db.get(args[1])
        if type(h) is Hash:
            field = args[2]
            engine = client.engine
            data = h.data
            if type(data) is bytes:
                added = h.set_small(field, args[3], engine.config.values)
            elif data.pool is None:
                # The size tells whether the field is new: one dict lookup, not two.
                before = len(data)
                data[field] = args[3]
                added = len(data) != before
            else:
                added = h.set_field(field, args[3])
            engine.dirty += 1
            if db.watched:
                db.modified(args[1])
            if engine.notify_flags:
                engine.notify(db, "h", b"hset", args[1])
            return 1 if added else 0
    elif n & 1:
        raise wrong_arity("hset")
    h = _hash_for_write(client, args[1])
    engine = client.engine
    added = h.set_pairs(args, 2, engine.config.values)
    engine.dirty += (n - 2) >> 1
    if engine.notify_flags:
        engine.notify(client.db, "h", b"hset", args[1])
    return added


@command("hmset", arity=-4, flags="write denyoom fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Sets the values of multiple fields.",
         args="key:k0 field_value(field value)...",
         doc_flags="deprecated",
         deprecated_since="4.0.0",
         replaced_by="`HSET` with multiple field-value pairs")
def hmset(client, args):
    if len(args) & 1:
        raise wrong_arity("hmset")
    hset(client, args)
    return OK




@command("hsetnx", arity=4, flags="write denyoom fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Sets the value of a field in a hash only when the field doesn't exist.",
         args="key:k0 field value")
def hsetnx(client, args):
    db = client.db
    h = db.get_typed(args[1], Hash)
    if h is not None and args[2] in h:
        return 0
    if h is None:
        h = Hash()
        db.add(args[1], h)
    else:
        db.modified(args[1])
    h.set_field(args[2], args[3])
    if not h.big:
        h.check_encoding(client.engine.config.values, args[2], args[3])
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "h", b"hset", args[1])
    return 1


@command("hdel", arity=-3, flags="write fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
         args="key:k0 field...")
def hdel(client, args):
    return remove_members(client, args, Hash, Hash.del_field, "h", b"hdel")


@command("hincrby", arity=4, flags="write denyoom fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
         args="key:k0 field increment:i")
def hincrby(client, args):
    incr = parse_int(args[3])
    db = client.db
    h = db.get_typed(args[1], Hash)
    field = args[2]
    current = h.get(field) if h is not None else None
    if current is None:
        value = 0
    else:
        try:
            value = parse_int(current)
        except CommandError:
            raise CommandError("ERR hash value is not an integer") from None
    result = value + incr
    if not _LLONG_MIN <= result <= _LONG_MAX:
        raise CommandError(OVERFLOW)
    if h is None:
        h = Hash()
        db.add(args[1], h)
    else:
        db.modified(args[1])
    text = b"%d" % result
    h.set_field(field, text)
    if not h.big:
        h.check_encoding(client.engine.config.values, field, text)
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "h", b"hincrby", args[1])
    return result


@command("hincrbyfloat", arity=4, flags="write denyoom fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.6.0", summary="Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
         args="key:k0 field increment:d")
def hincrbyfloat(client, args):
    incr = longdouble.parse(args[3])
    if incr is None:
        raise CommandError(NOT_FLOAT)
    if longdouble.is_inf(incr):          # NaN never parses
        raise CommandError("ERR value is NaN or Infinity")
    db = client.db
    h = db.get_typed(args[1], Hash)
    field = args[2]
    current = h.get(field) if h is not None else None
    if current is None:
        value = (0, 0)
    else:
        value = longdouble.parse(current)
        if value is None:
            raise CommandError("ERR hash value is not a float")
    result = longdouble.add(value, incr)
    if result is None or longdouble.is_inf(result):
        raise CommandError(NAN_OR_INF)
    text = longdouble.format_human(result)
    if h is None:
        h = Hash()
        db.add(args[1], h)
    else:
        db.modified(args[1])
    h.set_field(field, text)
    if not h.big:
        h.check_encoding(client.engine.config.values, field, text)
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "h", b"hincrbyfloat", args[1])
    # Propagated as HSET with the result, so replicas never redo the float math.
    engine.rewrite([b"HSET", args[1], field, text])
    return text


# -- reads --------------------------------------------------------------------------------------

@command("hget", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Returns the value of a field in a hash.",
         args="key:k0 field")
def hget(client, args):
    h = client.db.get(args[1])
    if h is None:
        return None
    if type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    data = h.data
    if type(data) is bytes:
        return h.get(args[2])
    return data.get(args[2])


@command("hmget", arity=-3, flags="readonly fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Returns the values of all fields in a hash.",
         args="key:k0 field...")
def hmget(client, args):
    h = client.db.get_typed(args[1], Hash)
    if h is None:
        return [None] * (len(args) - 2)
    get = h.get
    return [get(f) for f in args[2:]]


@command("hgetall", arity=2, flags="readonly", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", tips=("nondeterministic_output_order",),
         summary="Returns all fields and values in a hash.",
         args="key:k0")
def hgetall(client, args):
    h = client.db.get_typed(args[1], Hash)
    if h is None:
        return {}
    return h.as_dict()


@command("hkeys", arity=2, flags="readonly", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", tips=("nondeterministic_output_order",),
         summary="Returns all fields in a hash.",
         args="key:k0")
def hkeys(client, args):
    h = client.db.get_typed(args[1], Hash)
    return [] if h is None else list(h)


@command("hvals", arity=2, flags="readonly", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", tips=("nondeterministic_output_order",),
         summary="Returns all values in a hash.",
         args="key:k0")
def hvals(client, args):
    h = client.db.get_typed(args[1], Hash)
    return [] if h is None else list(h.values())


@command("hlen", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Returns the number of fields in a hash.",
         args="key:k0")
def hlen(client, args):
    h = client.db.get_typed(args[1], Hash)
    return 0 if h is None else len(h)


@command("hexists", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.0.0", summary="Determines whether a field exists in a hash.",
         args="key:k0 field")
def hexists(client, args):
    h = client.db.get_typed(args[1], Hash)
    return 1 if h is not None and args[2] in h else 0


@command("hstrlen", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="hash", group="hash",
         since="3.2.0", summary="Returns the length of the value of a field.",
         args="key:k0 field")
def hstrlen(client, args):
    h = client.db.get_typed(args[1], Hash)
    if h is None:
        return 0
    value = h.get(args[2])
    return 0 if value is None else len(value)


@command("hrandfield", arity=-2, flags="readonly", keys=(1, 1, 1), acl="hash", group="hash",
         since="6.2.0", tips=("nondeterministic_output",),
         summary="Returns one or more random fields from a hash.",
         args="key:k0 [options(count:i [WITHVALUES])]")
def hrandfield(client, args):
    n = len(args)
    if n == 2:
        h = client.db.get_typed(args[1], Hash)
        if h is None:
            return None
        return h.random_field()
    count, withvalues = parse_random_count(args, b"withvalues")
    h = client.db.get_typed(args[1], Hash)
    if h is None or count == 0:
        return []
    resp3 = client.resp3
    if count < 0:
        # With repetitions: every pick independent. A count whose reply could not
        # fit the client's output limit closes the client before building it.
        if client.reply_over_limit(-count * (12 if withvalues else 6)):
            return NO_REPLY
        pick = h.random_field
        fields = [pick() for _ in range(-count)]
    elif count >= len(h):
        fields = list(h)
    else:
        fields = h.random_fields(count)
    if not withvalues:
        return fields
    values = h.data if h.big else h.as_dict()
    if resp3:
        return [[f, values[f]] for f in fields]
    out = []
    for f in fields:
        out.append(f)
        out.append(values[f])
    return out


@command("hscan", arity=-3, flags="readonly", keys=(1, 1, 1), acl="hash", group="hash",
         since="2.8.0", tips=("nondeterministic_output",),
         summary="Iterates over fields and values of a hash.",
         args="key:k0 cursor:i [MATCH=pattern:p] [COUNT=count:i]")
def hscan(client, args):
    cursor = parse_scan_cursor(args[2])
    h = client.db.get_typed(args[1], Hash)
    if h is None:
        return [b"0", []]
    if h.big:
        return scan_reply(h.data, cursor, args, 3, big=True, values=h.data.get)
    values = h.as_dict()
    return scan_reply(values, cursor, args, 3, big=False, values=values.get)

