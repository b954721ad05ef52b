"""String commands: SET and GET and their variants, counters, ranges and LCS.

Values are ``bytes`` as the client sent them; a value changed in place (APPEND,
SETRANGE, and SETBIT/BITFIELD in bits.py) becomes a ``bytearray``, which is what
OBJECT ENCODING reports as ``raw``. Counters store the decimal digits as ``bytes``.
Replies never hand out a stored ``bytearray``: a reply may be encoded after later
commands ran (EXEC, scripts), so it gets a ``bytes`` copy.

Propagation follows Redis 7.0 (checked against its AOF): SET/SETEX/PSETEX with an
expiry become ``SET key value PXAT <ms>`` (no other flag survives), SET ... GET
drops its GET arguments, GETSET becomes SET, GETDEL becomes DEL, GETEX becomes
PEXPIREAT / PERSIST / DEL, and INCRBYFLOAT becomes ``SET key <result> KEEPTTL``.
"""
from __future__ import annotations

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import ClientCore, EngineCore
from ..engine.keyspace import Database
from ..engine.errors import (
    INVALID_EXPIRE, NAN_OR_INF, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE,
    CommandError, wrong_arity,
)
from ..engine.replies import OK
from ..engine.table import command
from ..types import longdouble
from ..types.lcs import LcsTable, lcs_walk
from ._args import parse_int

_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)

TOO_BIG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


def _string_or_none(value):
    """A stored value as a reply: bytes (copied if mutable), None, or WRONGTYPE."""
    if value is None or type(value) is bytes:
        return value
    if type(value) is bytearray:
        return bytes(value)
    raise CommandError(WRONGTYPE)


def c_string(arg: bytes) -> bytes:
    """What C's strcasecmp sees: the argument up to its first NUL byte."""
    nul = arg.find(b"\0")
    return arg if nul < 0 else arg[:nul]


def check_length(client, size: int, append: int) -> None:
    """Redis's checkStringLength: a string may not outgrow proto-max-bulk-len."""
    if size + append > client.engine.config["proto-max-bulk-len"]:
        raise CommandError(TOO_BIG)


# -- SET and GET ----------------------------------------------------------------------------

# Option bits of SET and GETEX (Redis's OBJ_SET_* / OBJ_* flags).
_NX, _XX, _GET, _KEEPTTL, _PERSIST = 1, 2, 4, 8, 16
_EX, _PX, _EXAT, _PXAT = 32, 64, 128, 256
_EXPIRES = _EX | _PX | _EXAT | _PXAT


def _option_table(spec: dict) -> dict:
    # name -> (flag, flags it conflicts with, takes a value); the spellings
    # clients send are precomputed so that parsing is one dict lookup per option.
    table = {}
    for name, entry in spec.items():
        for spelling in (name, name.lower(), name.capitalize()):
            table[spelling] = entry
    return table


# Each option is refused when a conflicting one came before it (Redis checks them
# in this order too); repeating an option is allowed and the last value wins.
_SET_OPTIONS = _option_table({
    b"NX": (_NX, _XX, False),
    b"XX": (_XX, _NX, False),
    b"GET": (_GET, 0, False),
    b"KEEPTTL": (_KEEPTTL, _PERSIST | _EXPIRES, False),
    b"EX": (_EX, _KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT, True),
    b"PX": (_PX, _KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT, True),
    b"EXAT": (_EXAT, _KEEPTTL | _PERSIST | _EX | _PX | _PXAT, True),
    b"PXAT": (_PXAT, _KEEPTTL | _PERSIST | _EX | _EXAT | _PX, True),
})
_GETEX_OPTIONS = _option_table({
    b"PERSIST": (_PERSIST, _EXPIRES | _KEEPTTL, False),
    b"EX": (_EX, _KEEPTTL | _PERSIST | _EXAT | _PX | _PXAT, True),
    b"PX": (_PX, _KEEPTTL | _PERSIST | _EX | _EXAT | _PXAT, True),
    b"EXAT": (_EXAT, _KEEPTTL | _PERSIST | _EX | _PX | _PXAT, True),
    b"PXAT": (_PXAT, _KEEPTTL | _PERSIST | _EX | _EXAT | _PX, True),
})


def _parse_options(args: list, start: int, table: dict):
    """Redis's parseExtendedStringArgumentsOrReply: (flags, expiry argument or None)."""
    flags = 0
    expire = None
    j, n = start, len(args)
    while j < n:
        spec = table.get(args[j])
        if spec is None:
            spec = table.get(c_string(args[j]).upper())
        if spec is None or flags & spec[1]:
            raise CommandError(SYNTAX)
        if spec[2]:
            j += 1
            if j == n:
                raise CommandError(SYNTAX)
            expire = args[j]
        flags |= spec[0]
        j += 1
    return flags, expire


def expire_at_ms(client, arg: bytes, seconds: bool, relative: bool, name: str) -> int:
    """Redis's getExpireMillisecondsOrReply: the absolute expiry in ms, or the error.

    Zero and negative values are refused, and so is anything that would overflow
    a signed 64-bit millisecond count once scaled and added to the current time.
    """
    ms = parse_int(arg)
    if ms <= 0 or (seconds and ms > _LLONG_MAX // 1000):
        raise CommandError(INVALID_EXPIRE.format(name))
    if seconds:
        ms *= 1000
    if relative:
        ms += client.engine.clock.ms()
        if ms > _LLONG_MAX:
            raise CommandError(INVALID_EXPIRE.format(name))
    return ms


@command("set", arity=-3, flags="write denyoom", keys=(1, 1, 1), acl="string", group="string",
         since="1.0.0", summary="Set the string value of a key", complexity="O(1)",
         args="key:k0 value [condition(NX|XX)@2.6.12] [GET@6.2.0] [expiration(EX=seconds:i@2.6.12|"
              "PX=milliseconds:i@2.6.12|EXAT=unix-time-seconds:t@6.2.0|"
              "PXAT=unix-time-milliseconds:t@6.2.0|KEEPTTL@6.0.0)]")
@cython.locals(client=ClientCore, db=Database, engine=EngineCore)
def set_(client, args):
    if len(args) == 3:
        # The hot path: no options, nothing to parse or rewrite.
        db = client.db
        key = args[1]
        db.set(key, args[2])
        engine = client.engine
        engine.dirty += 1
        if engine.notify_flags:         # notify()'s own first test, inlined
            engine.notify(db, "$", b"set", key)
        return OK
    flags, expire = _parse_options(args, 3, _SET_OPTIONS)
    return _set_generic(client, args, args[1], args[2], flags, expire, "set")


def _set_generic(client, args, key, value, flags, expire, name):
    """setGenericCommand: the checks in Redis's order, then the write and its effects."""
    when = 0
    if expire is not None:
        when = expire_at_ms(client, expire, bool(flags & (_EX | _EXAT)),
                            bool(flags & (_EX | _PX)), name)
    db = client.db
    old = None
    if flags & _GET:
        old = _string_or_none(db.get(key))
        found = old is not None
    elif flags & (_NX | _XX):
        found = db.get(key) is not None
    else:
        found = False
    if (flags & _NX and found) or (flags & _XX and not found):
        return old if flags & _GET else None
    db.set(key, value, keep_ttl=bool(flags & _KEEPTTL))
    engine = client.engine
    engine.dirty += 1
    notify = engine.notify_flags        # notify()'s own first test, inlined (hot path)
    if notify:
        engine.notify(db, "$", b"set", key)
    if expire is not None:
        db.set_expire(key, when)
        engine.rewrite([b"SET", key, value, b"PXAT", b"%d" % when])
        if notify:
            engine.notify(db, "g", b"expire", key)
    elif flags & _GET:
        # Replicas must not see GET (it may be repeated); the other options stay.
        engine.rewrite([a for i, a in enumerate(args) if i < 3 or c_string(a).upper() != b"GET"])
    return old if flags & _GET else OK


@command("get", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="string", group="string",
         since="1.0.0", summary="Get the value of a key", complexity="O(1)",
         args="key:k0")
@cython.locals(client=ClientCore, db=Database)
def get(client, args):
    db = client.db
    value = db.get(args[1])
    if value is None or type(value) is bytes:
        return value
    if type(value) is bytearray:
        return bytes(value)
    raise CommandError(WRONGTYPE)


@command("getset", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="string",
         group="string", since="1.0.0", complexity="O(1)",
         summary="Set the string value of a key and return its old value",
         args="key:k0 value",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`SET` with the `!GET` argument")
def getset(client, args):
    db = client.db
    key, value = args[1], args[2]
    old = _string_or_none(db.get(key))
    db.set(key, value)
    engine = client.engine
    engine.notify(db, "$", b"set", key)
    engine.dirty += 1
    engine.rewrite([b"SET", key, value])
    return old


@command("getdel", arity=2, flags="write fast", keys=(1, 1, 1), acl="string", group="string",
         since="6.2.0", summary="Get the value of a key and delete the key", complexity="O(1)",
         args="key:k0")
def getdel(client, args):
    db = client.db
    key = args[1]
    old = _string_or_none(db.get(key))
    if old is not None and db.delete(key):
        engine = client.engine
        engine.rewrite([b"UNLINK" if engine.config["lazyfree-lazy-user-del"] else b"DEL", key])
        engine.notify(db, "g", b"del", key)
        engine.dirty += 1
    return old


@command("getex", arity=-2, flags="write fast", keys=(1, 1, 1), acl="string", group="string",
         since="6.2.0", summary="Get the value of a key and optionally set its expiration",
         complexity="O(1)",
         args="key:k0 [expiration(EX=seconds:i|PX=milliseconds:i|EXAT=unix-time-seconds:t|"
              "PXAT=unix-time-milliseconds:t|PERSIST)]")
def getex(client, args):
    flags, expire = _parse_options(args, 2, _GETEX_OPTIONS)
    db = client.db
    key = args[1]
    value = _string_or_none(db.get(key))
    if value is None:
        return None          # a missing key never reaches the expiry checks
    when = 0
    if expire is not None:
        when = expire_at_ms(client, expire, bool(flags & (_EX | _EXAT)),
                            bool(flags & (_EX | _PX)), "getex")
    engine = client.engine
    if flags & (_EXAT | _PXAT) and when <= engine.clock.ms():
        # An absolute time already past deletes the key (propagated as DEL).
        db.delete(key)
        engine.rewrite([b"UNLINK" if engine.config["lazyfree-lazy-expire"] else b"DEL", key])
        engine.notify(db, "g", b"del", key)
        engine.dirty += 1
    elif expire is not None:
        db.set_expire(key, when)
        engine.rewrite([b"PEXPIREAT", key, b"%d" % when])
        engine.notify(db, "g", b"expire", key)
        engine.dirty += 1
    elif flags & _PERSIST and db.persist(key):
        engine.rewrite([b"PERSIST", key])
        engine.notify(db, "g", b"persist", key)
        engine.dirty += 1
    return value


@command("setnx", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="string",
         group="string", since="1.0.0", complexity="O(1)",
         summary="Set the value of a key, only if the key does not exist",
         args="key:k0 value")
def setnx(client, args):
    db = client.db
    key = args[1]
    if db.get(key) is not None:
        return 0
    db.set(key, args[2])
    engine = client.engine
    engine.dirty += 1
    engine.notify(db, "$", b"set", key)
    return 1


@command("setex", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="string", group="string",
         since="2.0.0", summary="Set the value and expiration of a key", complexity="O(1)",
         args="key:k0 seconds:i value")
def setex(client, args):
    return _set_generic(client, args, args[1], args[3], _EX, args[2], "setex")


@command("psetex", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="string", group="string",
         since="2.6.0", summary="Set the value and expiration in milliseconds of a key",
         complexity="O(1)",
         args="key:k0 milliseconds:i value")
def psetex(client, args):
    return _set_generic(client, args, args[1], args[3], _PX, args[2], "psetex")


# -- MSET / MSETNX / MGET ------------------------------------------------------------------------


@command("mset", arity=-3, flags="write denyoom", keys=(1, -1, 2), acl="string", group="string",
         since="1.0.1", summary="Set multiple keys to multiple values",
         complexity="O(N) where N is the number of keys to set.",
         tips=("request_policy:multi_shard", "response_policy:all_succeeded"),
         args="key_value(key:k0 value)...")
def mset(client, args):
    if len(args) % 2 == 0:
        raise wrong_arity("mset")
    _mset(client, args)
    return OK


@command("msetnx", arity=-3, flags="write denyoom", keys=(1, -1, 2), acl="string", group="string",
         since="1.0.1", summary="Set multiple keys to multiple values, only if none of the keys exist",
         complexity="O(N) where N is the number of keys to set.",
         tips=("request_policy:multi_shard", "response_policy:agg_min"),
         args="key_value(key:k0 value)...")
def msetnx(client, args):
    if len(args) % 2 == 0:
        raise wrong_arity("msetnx")
    get = client.db.get
    for i in range(1, len(args), 2):
        if get(args[i]) is not None:
            return 0
    _mset(client, args)
    return 1


def _mset(client, args) -> None:
    db = client.db
    notify = client.engine.notify
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
        notify(db, "$", b"set", args[i])
    client.engine.dirty += (len(args) - 1) // 2


@command("mget", arity=-2, flags="readonly fast", keys=(1, -1, 1), acl="string", group="string",
         since="1.0.0", summary="Get the values of all the given keys",
         complexity="O(N) where N is the number of keys to retrieve.",
         tips=("request_policy:multi_shard",),
         args="key:k0...")
def mget(client, args):
    get = client.db.get
    out = []
    for key in args[1:]:
        value = get(key)
        cls = type(value)
        out.append(value if cls is bytes else bytes(value) if cls is bytearray else None)
    return out


# -- APPEND / STRLEN / GETRANGE / SETRANGE ------------------------------------------------------


@command("append", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="string",
         group="string", since="2.0.0", summary="Append a value to a key",
         complexity="O(1). The amortized time complexity is O(1) assuming the appended value is "
                    "small and the already present value is of any size, since the dynamic string "
                    "library used by Redis will double the free space available on every reallocation.",
         args="key:k0 value")
def append(client, args):
    db = client.db
    key, extra = args[1], args[2]
    value = db.get(key)
    if value is None:
        db.add(key, extra)
        total = len(extra)
    else:
        cls = type(value)
        if cls is bytearray:
            check_length(client, len(value), len(extra))
            value += extra
            db.grew(len(value) - len(extra), len(value))
            db.modified(key)
        elif cls is bytes:
            check_length(client, len(value), len(extra))
            value = bytearray(value)
            value += extra
            db.set(key, value, keep_ttl=True)
        else:
            raise CommandError(WRONGTYPE)
        total = len(value)
    engine = client.engine
    engine.notify(db, "$", b"append", key)
    engine.dirty += 1
    return total


@command("strlen", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="string", group="string",
         since="2.2.0", summary="Get the length of the value stored in a key", complexity="O(1)",
         args="key:k0")
def strlen(client, args):
    value = client.db.get(args[1])
    if value is None:
        return 0
    if type(value) is bytes or type(value) is bytearray:
        return len(value)
    raise CommandError(WRONGTYPE)


_RANGE_COMPLEXITY = (
    "O(N) where N is the length of the returned string. The complexity is ultimately determined "
    "by the returned length, but because creating a substring from an existing string is very "
    "cheap, it can be considered O(1) for small strings.")


@command("getrange", arity=4, flags="readonly", keys=(1, 1, 1), acl="string", group="string",
         since="2.4.0", summary="Get a substring of the string stored at a key",
         complexity=_RANGE_COMPLEXITY,
         args="key:k0 start:i end:i")
def getrange(client, args):
    start = parse_int(args[2])
    end = parse_int(args[3])
    value = client.db.get(args[1])
    if value is None:
        return b""
    if type(value) is not bytes and type(value) is not bytearray:
        raise CommandError(WRONGTYPE)
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(size + start, 0)
    if end < 0:
        end = max(size + end, 0)
    if end >= size:
        end = size - 1
    if start > end or size == 0:
        return b""
    return bytes(value[start:end + 1])


@command("substr", arity=4, flags="readonly", keys=(1, 1, 1), acl="string", group="string",
         since="1.0.0", summary="Get a substring of the string stored at a key",
         complexity=_RANGE_COMPLEXITY,
         args="key:k0 start:i end:i",
         doc_flags="deprecated",
         deprecated_since="2.0.0",
         replaced_by="`GETRANGE`")
def substr(client, args):
    return getrange(client, args)


@command("setrange", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="string", group="string",
         since="2.2.0", summary="Overwrite part of a string at key starting at the specified offset",
         complexity="O(1), not counting the time taken to copy the new string in place. Usually, "
                    "this string is very small so the amortized complexity is O(1). Otherwise, "
                    "complexity is O(M) with M being the length of the value argument.",
         args="key:k0 offset:i value")
def setrange(client, args):
    offset = parse_int(args[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    db = client.db
    key, patch = args[1], args[3]
    value = db.get(key)
    if value is None:
        if not patch:
            return 0
        check_length(client, offset, len(patch))
        value = bytearray(offset)
        value += patch
        db.add(key, value)
    else:
        cls = type(value)
        if cls is not bytes and cls is not bytearray:
            raise CommandError(WRONGTYPE)
        if not patch:
            return len(value)
        check_length(client, offset, len(patch))
        if cls is bytes:
            value = bytearray(value)
            db.set(key, value, keep_ttl=True)
        else:
            db.modified(key)
        before = len(value)
        if len(value) < offset:
            value.extend(bytes(offset - len(value)))
        value[offset:offset + len(patch)] = patch
        db.grew(before, len(value))
    engine = client.engine
    engine.notify(db, "$", b"setrange", key)
    engine.dirty += 1
    return len(value)


# -- counters ------------------------------------------------------------------------------------


def _stored_integer(value) -> int:
    """Redis's string2ll on a stored value: the canonical decimal of a 64-bit integer only."""
    if len(value) <= 20:
        try:
            n = int(value)
        except ValueError:
            raise CommandError(NOT_INTEGER) from None
        # int() also takes spaces, '+', '_' and leading zeros; string2ll takes none.
        if _LLONG_MIN <= n <= _LLONG_MAX and b"%d" % n == value:
            return n
    raise CommandError(NOT_INTEGER)


def _small_counter(value: bytes) -> int:
    """The common stored counter: a canonical non-negative decimal of 1 to 18 digits
    (exact in a C long long), as its value; -1 for anything else (string2ll decides)."""
    n = len(value)
    if n == 0 or n > 18 or (value[0] == 48 and n > 1):
        return -1
    if cython.compiled:
        r = 0
        for i in range(n):
            c = value[i]
            if c < 48 or c > 57:
                return -1
            r = r * 10 + (c - 48)
        return r
    return int(value) if value.isdigit() else -1


@command("incr", arity=2, flags="write denyoom fast", keys=(1, 1, 1), acl="string", group="string",
         since="1.0.0", summary="Increment the integer value of a key by one", complexity="O(1)",
         args="key:k0")
@cython.locals(client=ClientCore, db=Database, engine=EngineCore, small="long long",
               stored="long long")
def incr(client, args, delta: int = 1) -> int:
    """INCR, and the body of DECR/INCRBY/DECRBY (which pass their delta): INCR is the
    hot one, so it runs here without a second call."""
    key = args[1]
    db = client.db
    value = db.get(key)
    if value is None:
        result = delta
    else:
        cls = type(value)
        small = _small_counter(value) if cls is bytes else -1
        if small >= 0:
            result = small + delta
        elif cls is bytes or cls is bytearray:
            result = _stored_integer(value) + delta
        else:
            raise CommandError(WRONGTYPE)
        if not _LLONG_MIN <= result <= _LLONG_MAX:
            raise CommandError(OVERFLOW)
    # In range: compiled, a C integer, formatted without an int object.
    stored = result
    digits = f"{stored}".encode("ascii")
    if value is None:
        db.add(key, digits)
    else:
        db.set(key, digits, True)
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:             # notify()'s own first test, inlined
        engine.notify(db, "$", b"incrby", key)
    return result


@command("decr", arity=2, flags="write denyoom fast", keys=(1, 1, 1), acl="string", group="string",
         since="1.0.0", summary="Decrement the integer value of a key by one", complexity="O(1)",
         args="key:k0")
def decr(client, args):
    return incr(client, args, -1)


@command("incrby", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="string",
         group="string", since="1.0.0", complexity="O(1)",
         summary="Increment the integer value of a key by the given amount",
         args="key:k0 increment:i")
def incrby(client, args):
    return incr(client, args, parse_int(args[2]))


@command("decrby", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="string",
         group="string", since="1.0.0", complexity="O(1)",
         summary="Decrement the integer value of a key by the given number",
         args="key:k0 decrement:i")
def decrby(client, args):
    delta = parse_int(args[2])
    if delta == _LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return incr(client, args, -delta)


@command("incrbyfloat", arity=3, flags="write denyoom fast", keys=(1, 1, 1), acl="string",
         group="string", since="2.6.0", complexity="O(1)",
         summary="Increment the float value of a key by the given amount",
         args="key:k0 increment:d")
def incrbyfloat(client, args):
    db = client.db
    key = args[1]
    value = db.get(key)
    if value is None:
        current = (0, 0)
    elif type(value) is bytes or type(value) is bytearray:
        current = longdouble.parse(bytes(value))
    else:
        raise CommandError(WRONGTYPE)
    increment = longdouble.parse(args[2])
    if current is None or increment is None:
        raise CommandError(NOT_FLOAT)
    total = longdouble.add(current, increment)
    if total is None or longdouble.is_inf(total):
        raise CommandError(NAN_OR_INF)
    text = longdouble.format_human(total)
    if value is None:
        db.add(key, text)
    else:
        db.set(key, text, keep_ttl=True)
    engine = client.engine
    engine.dirty += 1
    engine.notify(db, "$", b"incrbyfloat", key)
    # The sum as Redis printed it, so replicas and the AOF never redo float arithmetic.
    engine.rewrite([b"SET", key, text, b"KEEPTTL"])
    return text


# -- LCS -------------------------------------------------------------------------------------------


@command("lcs", arity=-3, flags="readonly", keys=(1, 2, 1), acl="string", group="string",
         since="7.0.0", summary="Find longest common substring",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
         args="key1:k0 key2:k0 [LEN] [IDX] [MINMATCHLEN=len:i] [WITHMATCHLEN]")
def lcs(client, args):
    db = client.db
    a, b = db.get(args[1]), db.get(args[2])
    for value in (a, b):
        if value is not None and type(value) is not bytes and type(value) is not bytearray:
            raise CommandError("ERR The specified keys must contain string values")
    a = bytes(a) if a is not None else b""
    b = bytes(b) if b is not None else b""
    want_idx = want_len = with_len = False
    min_len = 0
    j = 3
    while j < len(args):
        opt = c_string(args[j]).upper()
        if opt == b"IDX":
            want_idx = True
        elif opt == b"LEN":
            want_len = True
        elif opt == b"WITHMATCHLEN":
            with_len = True
        elif opt == b"MINMATCHLEN" and j + 1 < len(args):
            min_len = max(parse_int(args[j + 1]), 0)
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if want_idx and want_len:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    if (len(a) + 1) * (len(b) + 1) * 4 > client.engine.config["proto-max-bulk-len"]:
        raise CommandError("ERR Insufficient memory, transient memory for LCS exceeds "
                           "proto-max-bulk-len")
    table = LcsTable(a, b)
    if want_len:
        return table.length(len(a), len(b))
    return lcs_walk(a, b, table, want_idx, min_len, with_len)
