"""Generic key commands: DEL, EXISTS, TYPE, the EXPIRE family, TTLs, KEYS, SCAN,
RENAME, COPY, MOVE, SWAPDB, TOUCH, RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL and OBJECT.

These work on any value type. Where they need something from a type, they ask
the value (see docs/architecture.md, "What a value type provides"):

* ``value.type_name``      TYPE and SCAN TYPE ("list", "hash", "set", "zset", "stream")
* ``value.encoding(config)``  OBJECT ENCODING ("listpack", "quicklist", "intset", ...)
* ``value.copy()``         COPY (a deep copy: the two keys must not share state)

Strings are ``bytes`` (or ``bytearray`` once mutated in place) and are handled here.

Lookups follow Redis: TYPE, EXISTS, TTL and OBJECT do not count as an access
(``db.peek``); TOUCH, RENAME, COPY's source and MOVE do (``db.get``). Both expire
a due key first, which propagates DEL and notifies ``expired``.
"""
from __future__ import annotations

from ..engine.errors import (
    INVALID_DB, INVALID_EXPIRE, NO_SUCH_KEY, NOT_INTEGER, SYNTAX, CommandError,
)
from ..engine.keyspace import TRACK_LFU, TRACK_LRU
from ..engine.replies import OK, Status
from ..engine.table import command, container
from ..types.glob import compile_glob, matches_everything
from ._args import parse_int
from ._help import help_reply
from ._scan import parse_scan_cursor, parse_scan_options

_LLONG_MAX = 2**63 - 1
_INT_MAX = 2**31 - 1
_INT_MIN = -(2**31)

SAME_OBJECT = "ERR source and destination objects are the same"
SHARED_REFCOUNT = 2147483647    # Redis's OBJ_SHARED_REFCOUNT for the shared integers 0..9999
OBJ_SHARED_INTEGERS = 10000
EMBSTR_LIMIT = 44               # OBJ_ENCODING_EMBSTR_SIZE_LIMIT

STATUS_NONE = Status(b"none")
STATUS_STRING = Status(b"string")

# COMMAND INFO / DOCS tips, as Redis 7.0 declares them.
MULTI_SHARD_SUM = ("request_policy:multi_shard", "response_policy:agg_sum")
NONDETERMINISTIC = ("nondeterministic_output",)
ALL_SHARDS_UNORDERED = ("request_policy:all_shards", "nondeterministic_output_order")
SCAN_TIPS = ("nondeterministic_output", "request_policy:special")
ALL_SHARDS_NONDETERMINISTIC = ("request_policy:all_shards", "nondeterministic_output")
ALL_SHARDS_SUM = ("request_policy:all_shards", "response_policy:agg_sum")
ALL_SHARDS_ALL_SUCCEEDED = ("request_policy:all_shards", "response_policy:all_succeeded")


# -- helpers shared with other families ------------------------------------------------------


def type_name(value) -> bytes:
    """The TYPE of a stored value: b"string" or the value's own ``type_name``."""
    cls = type(value)
    if cls is bytes or cls is bytearray:
        return b"string"
    name = value.type_name
    return name.encode() if isinstance(name, str) else name


def _is_int_encodable(value: bytes) -> bool:
    """Redis's tryObjectEncoding: canonical 64-bit integers (string2l) are stored as int."""
    if len(value) > 20:
        return False
    try:
        parse_int(value)
    except CommandError:
        return False
    return True


def object_encoding_of(value, config) -> bytes:
    """What OBJECT ENCODING reports for `value` (DEBUG OBJECT uses it too)."""
    cls = type(value)
    if cls is bytes:
        if _is_int_encodable(value):
            return b"int"
        return b"embstr" if len(value) <= EMBSTR_LIMIT else b"raw"
    if cls is bytearray:
        return b"raw"   # mutated in place (APPEND, SETRANGE, SETBIT ...): an sds, not embedded
    enc = value.encoding(config)
    return enc.encode() if isinstance(enc, str) else enc


def _shared_integers_allowed(config) -> bool:
    # Redis stops sharing integer objects when maxmemory evicts by LRU/LFU, since
    # every object then needs its own access time.
    policy = config["maxmemory-policy"]
    return config["maxmemory"] == 0 or not ("lru" in policy or "lfu" in policy)


def _refcount(value, config) -> int:
    if type(value) is bytes and _is_int_encodable(value) and \
            0 <= int(value) < OBJ_SHARED_INTEGERS and _shared_integers_allowed(config):
        return SHARED_REFCOUNT
    return 1


def copy_value(value):
    """A copy of `value` that shares no mutable state with it (COPY)."""
    cls = type(value)
    if cls is bytes:
        return value
    if cls is bytearray:
        return bytearray(value)
    return value.copy()


def _parse_db_index(client, arg: bytes):
    """getIntFromObjectOrReply + selectDb: the database `arg` names (MOVE, COPY DB)."""
    try:
        index = parse_int(arg)
    except CommandError:
        raise CommandError(NOT_INTEGER) from None
    if not _INT_MIN <= index <= _INT_MAX:
        raise CommandError("ERR value is out of range, value must between "
                           "-2147483648 and 2147483647")
    dbs = client.engine.dbs
    if not 0 <= index < len(dbs):
        raise CommandError(INVALID_DB)
    return dbs[index]


def _signal_value_moved(engine, db, key, value) -> None:
    # A list/zset/stream appearing at a key may serve clients blocked on it (dbAdd).
    cls = type(value)
    if cls is not bytes and cls is not bytearray:
        engine.signal_ready(db, key)


# -- DEL / UNLINK / EXISTS / TYPE / TOUCH -----------------------------------------------------


def _delete_keys(client, args, lazy: bool):
    db = client.db
    engine = client.engine
    deleted = 0
    for key in args[1:]:
        if db.peek(key) is None:
            continue
        if lazy:
            value = db.pop(key)
            if value is None:
                continue
            engine.memory.lazyfree.free(value)
        elif not db.delete(key):
            continue
        deleted += 1
        engine.notify(db, "g", b"del", key)
    engine.dirty += deleted
    return deleted


@command("del", arity=-2, flags="write", keys=(1, -1, 1), acl="keyspace", tips=MULTI_SHARD_SUM, since="1.0.0",
         summary="Deletes one or more keys.",
         args="key:k0...")
def del_(client, args):
    return _delete_keys(client, args, client.engine.config["lazyfree-lazy-user-del"])


@command("unlink", arity=-2, flags="write fast", keys=(1, -1, 1), acl="keyspace",
         tips=MULTI_SHARD_SUM, since="4.0.0",
         summary="Asynchronously deletes one or more keys.",
         args="key:k0...")
def unlink(client, args):
    return _delete_keys(client, args, True)


@command("exists", arity=-2, flags="readonly fast", keys=(1, -1, 1), acl="keyspace",
         tips=MULTI_SHARD_SUM, since="1.0.0",
         summary="Determines whether one or more keys exist.",
         args="key:k0...")
def exists(client, args):
    db = client.db
    count = 0
    for key in args[1:]:
        if db.peek(key) is not None:
            count += 1
    return count


@command("type", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="keyspace", since="1.0.0",
         summary="Determines the type of value stored at a key.",
         args="key:k0")
def type_(client, args):
    value = client.db.peek(args[1])
    if value is None:
        return STATUS_NONE
    cls = type(value)
    if cls is bytes or cls is bytearray:
        return STATUS_STRING
    return Status(type_name(value))


@command("touch", arity=-2, flags="readonly fast", keys=(1, -1, 1), acl="keyspace",
         tips=MULTI_SHARD_SUM, since="3.2.1",
         summary="Returns the number of existing keys out of those specified after updating "
                 "the time they were last accessed.",
         args="key:k0...")
def touch(client, args):
    db = client.db
    count = 0
    for key in args[1:]:
        if db.get(key) is not None:
            count += 1
    return count


# -- EXPIRE family ----------------------------------------------------------------------------

_NX, _XX, _GT, _LT = 1, 2, 4, 8


def _expire_flags(args) -> int:
    flags = 0
    for opt in args[3:]:
        low = opt.lower()
        if low == b"nx":
            flags |= _NX
        elif low == b"xx":
            flags |= _XX
        elif low == b"gt":
            flags |= _GT
        elif low == b"lt":
            flags |= _LT
        else:
            raise CommandError(b"ERR Unsupported option " + opt)
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if flags & _GT and flags & _LT:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    return flags


def _expire_generic(client, args, name: str, relative: bool, seconds: bool):
    """expireGenericCommand: compute the absolute ms time, check the flags, apply.

    The effect propagates as PEXPIREAT <abs ms> (keeping the flags), or as DEL
    when the time is already past and the key is deleted right away.
    """
    flags = _expire_flags(args) if len(args) > 3 else 0
    when = parse_int(args[2])
    if seconds:
        if when > _LLONG_MAX // 1000 or when < -(_LLONG_MAX // 1000):
            raise CommandError(INVALID_EXPIRE.format(name))
        when *= 1000
    engine = client.engine
    now = engine.clock.ms()
    if relative:
        if when > _LLONG_MAX - now:
            raise CommandError(INVALID_EXPIRE.format(name))
        when += now
    db = client.db
    key = args[1]
    if db.get(key) is None:
        return 0
    if flags:
        current = db.ttl_ms(key)
        if flags & _NX and current is not None:
            return 0
        if flags & _XX and current is None:
            return 0
        if flags & _GT and (current is None or when <= current):
            return 0
        if flags & _LT and current is not None and when >= current:
            return 0
    if when <= now:
        db.delete(key)
        engine.dirty += 1
        engine.rewrite([b"DEL", key])
        engine.notify(db, "g", b"del", key)
        return 1
    db.set_expire(key, when)
    engine.dirty += 1
    if name != "pexpireat" and engine.sinks:     # only propagation reads the effects
        engine.rewrite([b"PEXPIREAT", key, b"%d" % when, *args[3:]])
    if engine.notify_flags:
        engine.notify(db, "g", b"expire", key)
    return 1


@command("expire", arity=-3, flags="write fast", keys=(1, 1, 1), acl="keyspace", since="1.0.0",
         summary="Sets the expiration time of a key in seconds.",
         args="key:k0 seconds:i [condition(NX|XX|GT|LT)@7.0.0]")
def expire(client, args):
    return _expire_generic(client, args, "expire", True, True)




@command("pexpire", arity=-3, flags="write fast", keys=(1, 1, 1), acl="keyspace", since="2.6.0",
         summary="Sets the expiration time of a key in milliseconds.",
         args="key:k0 milliseconds:i [condition(NX|XX|GT|LT)@7.0.0]")
def pexpire(client, args):
    return _expire_generic(client, args, "pexpire", True, False)


@command("expireat", arity=-3, flags="write fast", keys=(1, 1, 1), acl="keyspace", since="1.2.0",
         summary="Sets the expiration time of a key to a Unix timestamp.",
         args="key:k0 unix-time-seconds:t [condition(NX|XX|GT|LT)@7.0.0]")
def expireat(client, args):
    return _expire_generic(client, args, "expireat", False, True)


@command("pexpireat", arity=-3, flags="write fast", keys=(1, 1, 1), acl="keyspace", since="2.6.0",
         summary="Sets the expiration time of a key to a Unix milliseconds timestamp.",
         args="key:k0 unix-time-milliseconds:t [condition(NX|XX|GT|LT)@7.0.0]")
def pexpireat(client, args):
    return _expire_generic(client, args, "pexpireat", False, False)


def _ttl_generic(client, key: bytes, ms: bool, absolute: bool) -> int:
    db = client.db
    if db.peek(key) is None:
        return -2
    when = db.ttl_ms(key)
    if when is None:
        return -1
    ttl = when if absolute else when - client.engine.clock.ms()
    if ttl < 0:
        ttl = 0
    return ttl if ms else (ttl + 500) // 1000


@command("ttl", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="keyspace",
         tips=NONDETERMINISTIC, since="1.0.0",
         summary="Returns the expiration time in seconds of a key.",
         args="key:k0")
def ttl(client, args):
    return _ttl_generic(client, args[1], False, False)


@command("pttl", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="keyspace",
         tips=NONDETERMINISTIC, since="2.6.0",
         summary="Returns the expiration time in milliseconds of a key.",
         args="key:k0")
def pttl(client, args):
    return _ttl_generic(client, args[1], True, False)


@command("expiretime", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="keyspace", since="7.0.0",
         summary="Returns the expiration time of a key as a Unix timestamp.",
         args="key:k0")
def expiretime(client, args):
    return _ttl_generic(client, args[1], False, True)


@command("pexpiretime", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="keyspace", since="7.0.0",
         summary="Returns the expiration time of a key as a Unix milliseconds timestamp.",
         args="key:k0")
def pexpiretime(client, args):
    return _ttl_generic(client, args[1], True, True)


@command("persist", arity=2, flags="write fast", keys=(1, 1, 1), acl="keyspace", since="2.2.0",
         summary="Removes the expiration time of a key.",
         args="key:k0")
def persist(client, args):
    db = client.db
    key = args[1]
    if db.get(key) is None or not db.persist(key):
        return 0
    engine = client.engine
    engine.dirty += 1
    engine.notify(db, "g", b"persist", key)
    return 1


# -- KEYS / SCAN / RANDOMKEY / DBSIZE ---------------------------------------------------------


@command("keys", arity=2, flags="readonly", acl="keyspace dangerous",
         tips=ALL_SHARDS_UNORDERED, since="1.0.0",
         summary="Returns all key names that match a pattern.",
         args="pattern:p")
def keys(client, args):
    db = client.db
    now = client.engine.clock.ms()
    expires = db.expires
    pattern = args[1]
    # Expired keys are skipped but not deleted here, like Redis's keyIsExpired().
    if matches_everything(pattern):
        if not expires:
            return list(db.data)
        return [k for k in db.data if not db.is_expired(k, now)]
    match = compile_glob(pattern)
    if not expires:
        return [k for k in db.data if match(k)]
    return [k for k in db.data if match(k) and not db.is_expired(k, now)]


@command("scan", arity=-2, flags="readonly", acl="keyspace", tips=SCAN_TIPS, since="2.8.0",
         summary="Iterates over the key names in the database.",
         args="cursor:i [MATCH=pattern:p] [COUNT=count:i] [TYPE=type@6.0.0]")
def scan(client, args):
    cursor = parse_scan_cursor(args[1])
    count, match, wanted_type = parse_scan_options(args, 2, with_type=True)
    db = client.db
    cursor, found = db.scan(cursor, count)
    out = []
    for key in found:
        if match is not None and not match(key):
            continue
        # peek() expires a due key (propagating DEL), as Redis's SCAN does.
        value = db.peek(key)
        if value is None:
            continue
        if wanted_type is not None and type_name(value) != wanted_type:
            continue
        out.append(key)
    return [b"%d" % cursor, out]


@command("randomkey", arity=1, flags="readonly", acl="keyspace",
         tips=ALL_SHARDS_NONDETERMINISTIC, since="1.0.0",
         summary="Returns a random key name from the database.")
def randomkey(client, args):
    db = client.db
    now = client.engine.clock.ms()
    tries = 0
    while True:
        key = db.random_key()
        tries += 1
        if client.engine.expiry_suspended and tries > 100:
            # Due keys cannot be freed during CLIENT PAUSE: give up on an all-due db.
            return None
        if key is None:
            return None
        if not db.is_expired(key, now):
            return key
        # Found a due key: free every due key at once (Redis deletes the ones it
        # happens to pick), so the next pick is live and the loop stays short.
        db.expire_now(key)
        while db.active_expire(now, 1 << 30):
            pass


@command("dbsize", arity=1, flags="readonly fast", acl="keyspace", tips=ALL_SHARDS_SUM, since="1.0.0",
         summary="Returns the number of keys in the database.",
         group="server")
def dbsize(client, args):
    return len(client.db.data)


# -- RENAME / RENAMENX / COPY / MOVE / SWAPDB ---------------------------------------------------


def _rename_generic(client, args, nx: bool):
    db = client.db
    src, dst = args[1], args[2]
    value = db.get(src)
    if value is None:
        raise CommandError(NO_SUCH_KEY)
    if src == dst:
        return 0 if nx else OK
    if db.get(dst) is not None:
        if nx:
            return 0
        db.delete(dst)
    db.transfer(src, db, dst)
    engine = client.engine
    engine.dirty += 1
    engine.notify(db, "g", b"rename_from", src)
    engine.notify(db, "g", b"rename_to", dst)
    _signal_value_moved(engine, db, dst, value)
    return 1 if nx else OK


@command("rename", arity=3, flags="write", keys=(1, 2, 1), acl="keyspace", since="1.0.0",
         summary="Renames a key and overwrites the destination.",
         args="key:k0 newkey:k1")
def rename(client, args):
    return _rename_generic(client, args, False)


@command("renamenx", arity=3, flags="write fast", keys=(1, 2, 1), acl="keyspace", since="1.0.0",
         summary="Renames a key only when the target key name doesn't exist.",
         args="key:k0 newkey:k1")
def renamenx(client, args):
    return _rename_generic(client, args, True)


@command("copy", arity=-3, flags="write denyoom", keys=(1, 2, 1), acl="keyspace", since="6.2.0",
         summary="Copies the value of a key to a new key.",
         args="source:k0 destination:k1 [DB=destination-db:i] [REPLACE]")
def copy(client, args):
    src_db = dst_db = client.db
    replace = False
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < len(args):
            dst_db = _parse_db_index(client, args[i + 1])
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    key, new_key = args[1], args[2]
    if src_db is dst_db and key == new_key:
        raise CommandError(SAME_OBJECT)
    value = src_db.get(key)
    if value is None:
        return 0
    when = src_db.ttl_ms(key)
    if dst_db.get(new_key) is not None:
        if not replace:
            return 0
        dst_db.delete(new_key)
    dst_db.add(new_key, copy_value(value))
    if when is not None:
        dst_db.set_expire(new_key, when)
    engine = client.engine
    engine.dirty += 1
    engine.notify(dst_db, "g", b"copy_to", new_key)
    _signal_value_moved(engine, dst_db, new_key, value)
    return 1


@command("move", arity=3, flags="write fast", keys=(1, 1, 1), acl="keyspace", since="1.0.0",
         summary="Moves a key to another database.",
         args="key:k0 db:i")
def move(client, args):
    src_db = client.db
    dst_db = _parse_db_index(client, args[2])
    if src_db is dst_db:
        raise CommandError(SAME_OBJECT)
    key = args[1]
    value = src_db.get(key)
    if value is None:
        return 0
    if dst_db.get(key) is not None:
        return 0
    src_db.transfer(key, dst_db, key)
    engine = client.engine
    engine.dirty += 1
    engine.notify(src_db, "g", b"move_from", key)
    engine.notify(dst_db, "g", b"move_to", key)
    _signal_value_moved(engine, dst_db, key, value)
    return 1


@command("swapdb", arity=3, flags="write fast", acl="keyspace dangerous", since="4.0.0",
         summary="Swaps two Redis databases.",
         args="index1:i index2:i",
         group="server")
def swapdb(client, args):
    first = _db_number(args[1], "ERR invalid first DB index")
    second = _db_number(args[2], "ERR invalid second DB index")
    engine = client.engine
    dbs = engine.dbs
    if not (0 <= first < len(dbs) and 0 <= second < len(dbs)):
        raise CommandError(INVALID_DB)
    if first != second:
        with client.engine.tracking.flush():
            dbs[first].swap(dbs[second])
        _signal_waited_keys(engine, (dbs[first], dbs[second]))
    engine.dirty += 1
    return OK


def _signal_waited_keys(engine, swapped) -> None:
    """Clients blocked on keys of a swapped database may now be served.

    Redis's scanDatabaseForReadyKeys: walk the keys someone waits on (few), not
    the database; the blocking family checks types when it serves.
    """
    blocking = engine.blocking
    waiting = getattr(blocking, "waiting", None)
    if not waiting:
        return
    by_index = {db.index: db for db in swapped}
    for index, key in list(waiting):
        db = by_index.get(index)
        if db is not None and key in db.data:
            engine.signal_ready(db, key)


def _db_number(arg: bytes, error: str) -> int:
    try:
        index = parse_int(arg)
    except CommandError:
        raise CommandError(error) from None
    if not _INT_MIN <= index <= _INT_MAX:
        raise CommandError(error)
    return index


# -- FLUSHDB / FLUSHALL -----------------------------------------------------------------------


def _flush_async(client, args) -> bool:
    """getFlushCommandFlags: [ASYNC|SYNC], by default lazyfree-lazy-user-flush."""
    if len(args) == 2:
        mode = args[1].lower()
        if mode not in (b"sync", b"async"):
            raise CommandError(SYNTAX)
        return mode == b"async"
    if len(args) > 2:
        raise CommandError(SYNTAX)
    return client.engine.config["lazyfree-lazy-user-flush"]


def _clear(engine, db, lazy: bool) -> int:
    data = db.data
    removed = db.clear()
    if lazy:
        engine.memory.lazyfree.free_database(data)
    return removed


@command("flushdb", arity=-1, flags="write", acl="keyspace dangerous",
         tips=ALL_SHARDS_ALL_SUCCEEDED, since="1.0.0",
         summary="Removes all keys from the current database.",
         args="[async(ASYNC@4.0.0|SYNC@6.2.0)]",
         group="server")
def flushdb(client, args):
    lazy = _flush_async(client, args)
    engine = client.engine
    with engine.tracking.flush():
        removed = _clear(engine, client.db, lazy)
    engine.dirty += removed
    if not removed and engine.sinks:
        # Redis propagates FLUSHDB even when the database was already empty
        # (forceCommandPropagation) without counting a change.
        engine.propagate(client.db.index, (args,))
    return OK


@command("flushall", arity=-1, flags="write", acl="keyspace dangerous",
         tips=ALL_SHARDS_ALL_SUCCEEDED, since="1.0.0",
         summary="Removes all keys from all databases.",
         args="[async(ASYNC@4.0.0|SYNC@6.2.0)]",
         group="server")
def flushall(client, args):
    lazy = _flush_async(client, args)
    engine = client.engine
    removed = 0
    with engine.tracking.flush():
        for db in engine.dbs:
            removed += _clear(engine, db, lazy)
    engine.dirty += removed + 1
    for hook in getattr(engine, "flushall_hooks", ()):
        hook()      # persistence: Redis rewrites the RDB after FLUSHALL when saving is on
    return OK


# -- OBJECT -----------------------------------------------------------------------------------

# Declared in the order Redis lists the subcommands in COMMAND INFO.
container("object", arity=-2, acl="slow", since="2.2.3",
          summary="A container for object introspection commands.")

_OBJECT_HELP = [
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
]

_LFU_SELECTED = ("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that "
                 "when switching between policies at runtime LRU and LFU data will take some time "
                 "to adjust.")
_LFU_NOT_SELECTED = ("ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                     "Please note that when switching between policies at runtime LRU and LFU data "
                     "will take some time to adjust.")


@command("object|help", arity=2, flags="loading stale", acl="keyspace", since="6.2.0",
         summary="Returns helpful text about the different subcommands.")
def object_help(client, args):
    return help_reply("OBJECT", _OBJECT_HELP)


@command("object|idletime", arity=3, flags="readonly", keys=(2, 2, 1), acl="keyspace",
         tips=NONDETERMINISTIC, since="2.2.3",
         summary="Returns the time since the last access to a Redis object.",
         args="key:k0")
def object_idletime(client, args):
    db = client.db
    if db.peek(args[2]) is None:
        return None
    if db.track == TRACK_LFU:
        raise CommandError(_LFU_SELECTED)
    if db.track != TRACK_LRU:
        # First request: start tracking accesses from now on (see keyspace.py).
        client.engine.access_policy.request_lru()
    return db.idle_ms(args[2]) // 1000


@command("object|encoding", arity=3, flags="readonly", keys=(2, 2, 1), acl="keyspace",
         tips=NONDETERMINISTIC, since="2.2.3",
         summary="Returns the internal encoding of a Redis object.",
         args="key:k0")
def object_encoding(client, args):
    value = client.db.peek(args[2])
    if value is None:
        return None
    return object_encoding_of(value, client.engine.config)


@command("object|refcount", arity=3, flags="readonly", keys=(2, 2, 1), acl="keyspace",
         tips=NONDETERMINISTIC, since="2.2.3",
         summary="Returns the reference count of a value of a key.",
         args="key:k0")
def object_refcount(client, args):
    value = client.db.peek(args[2])
    if value is None:
        return None
    return _refcount(value, client.engine.config)


@command("object|freq", arity=3, flags="readonly", keys=(2, 2, 1), acl="keyspace",
         tips=NONDETERMINISTIC, since="4.0.0",
         summary="Returns the logarithmic access frequency counter of a Redis object.",
         args="key:k0")
def object_freq(client, args):
    db = client.db
    if db.peek(args[2]) is None:
        return None
    if db.track != TRACK_LFU:
        raise CommandError(_LFU_NOT_SELECTED)
    return db.lfu_counter(args[2])
