"""Lists: LPUSH/RPUSH ... LPOS, LMOVE, LMPOP and the blocking BLPOP/BRPOP/BLMOVE/BRPOPLPUSH/BLMPOP.

Values are ``types.collections.List`` (packed while small, else a QuickList of packed
nodes: O(1) amortized at both ends; the same deque-like methods on either). A key never
holds an empty list: every command that removes elements deletes the key when
the list empties (and notifies ``del``), as Redis does.

Blocking pops use engine/blocking.py: when every key is empty the client is
parked with a serve callback; a push that creates one of its keys readies it and
the client is served after the pushing command (or EXEC/script) completes. A
blocking pop propagates as the non-blocking command it amounts to (LPOP, RPOP
with COUNT, LMOVE, RPOPLPUSH), whether it was served at once or later.
"""
from __future__ import annotations

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import ClientCore, EngineCore
from ..engine.keyspace import Database

from itertools import islice

from ..engine.blocking import parse_timeout_seconds
from ..engine.errors import NOT_POSITIVE, NO_SUCH_KEY, OUT_OF_RANGE, SYNTAX, WRONGTYPE, CommandError
from ..engine.replies import NULL_ARRAY, OK, ErrorReply
from ..engine.table import command, numkeys_keys
from ..types.collections import List, QuickList
from ._args import parse_int, parse_mpop

_LLONG_MIN = -(2**63)


# -- helpers ---------------------------------------------------------------------------------

def _removed(engine, db, key: bytes, lst, event: bytes, count: int) -> None:
    """Redis's listElementsRemoved: notify the pop, delete the key if now empty."""
    if engine.notify_flags:
        engine.notify(db, "l", event, key)
    db.shrunk(key, lst)
    engine.dirty += count


def _where(arg: bytes) -> bool:
    """LEFT -> True (head), RIGHT -> False (tail); anything else is a syntax error."""
    low = arg.lower()
    if low == b"left":
        return True
    if low == b"right":
        return False
    raise CommandError(SYNTAX)


def _pop_many(lst, count: int, left: bool) -> list:
    n = min(count, len(lst))
    pop = lst.popleft if left else lst.pop
    return [pop() for _ in range(n)]


def _push_to(client, db, key: bytes, dst, value: bytes, left: bool):
    """lmoveHandlePush: push `value` on `dst` (created when missing)."""
    engine = client.engine
    if dst is None:
        dst = List()
        dst.append(value)
        db.add(key, dst)
        engine.signal_ready(db, key)
    else:
        if left:
            dst.appendleft(value)
        else:
            dst.append(value)
        db.modified(key)
    if engine.notify_flags:
        engine.notify(db, "l", b"lpush" if left else b"rpush", key)


# -- pushes ---------------------------------------------------------------------------------

@cython.locals(client=ClientCore, db=Database, engine=EngineCore)
def _push(client, args, left: bool, event: bytes):
    db = client.db
    key = args[1]
    lst = db.get(key)
    engine = client.engine
    if lst is None:
        lst = List()
        db.add(key, lst)
        created = True
    elif type(lst) is not List:
        raise CommandError(WRONGTYPE)
    else:
        created = False
        if db.watched:
            db.modified(key)
    if len(args) == 3:
        if left:
            lst.appendleft(args[2])
        else:
            lst.append(args[2])
    elif left:
        lst.extendleft(islice(args, 2, None))
    else:
        lst.extend(islice(args, 2, None))
    engine.dirty += len(args) - 2
    if engine.notify_flags:
        engine.notify(db, "l", event, key)
    if created:
        engine.signal_ready(db, key)
    return len(lst)


@cython.cfunc
@cython.locals(db=Database)
def _list_at(db, key):
    """The list at `key`, or None when the key is missing or holds another type."""
    value = db.get(key)
    return value if type(value) is List else None


@cython.cfunc
@cython.locals(client=ClientCore, db=Database, engine=EngineCore)
def _changed_one(client, db, key, event):
    """What a one-element push or pop on a list that stays counts: a dirty change, WATCH,
    the keyspace event."""
    engine = client.engine
    engine.dirty += 1
    if db.watched:
        db.modified(key)
    if engine.notify_flags:
        engine.notify(db, "l", event, key)


@cython.cfunc
@cython.locals(client=ClientCore, db=Database, left=cython.bint, args=list,
               lst=List, ql=QuickList, n=cython.Py_ssize_t)
def _push_one(client, args, left):
    """LPUSH/RPUSH of one element on an existing list (the common case: no creation, no
    readiness to signal): the new length, or None when the key holds no list."""
    db = client.db
    lst = _list_at(db, args[1])
    if lst is None:
        return None
    data = lst.data
    if type(data) is QuickList:
        ql = data
        n = ql.push(args[2], left)
    else:
        if left:
            lst.appendleft(args[2])
        else:
            lst.append(args[2])
        n = len(lst)
    _changed_one(client, db, args[1], b"lpush" if left else b"rpush")
    return n


@command("lpush", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="list", group="list",
         summary="Prepends one or more elements to a list. Creates the key if it doesn't exist.",
         args="key:k0 element...")
def lpush(client, args):
    if len(args) == 3:
        n = _push_one(client, args, True)
        if n is not None:
            return n
    return _push(client, args, True, b"lpush")


@command("rpush", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="list", group="list",
         summary="Appends one or more elements to a list. Creates the key if it doesn't exist.",
         args="key:k0 element...")
def rpush(client, args):
    if len(args) == 3:
        n = _push_one(client, args, False)
        if n is not None:
            return n
    return _push(client, args, False, b"rpush")


def _pushx(client, args, left: bool, event: bytes):
    db = client.db
    lst = db.get_typed(args[1], List)
    if lst is None:
        return 0
    return _push(client, args, left, event)


@command("lpushx", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="list", group="list",
         since="2.2.0", summary="Prepends one or more elements to a list only when the list exists.",
         args="key:k0 element...")
def lpushx(client, args):
    return _pushx(client, args, True, b"lpush")


@command("rpushx", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="list", group="list",
         since="2.2.0", summary="Appends an element to a list only when the list exists.",
         args="key:k0 element...")
def rpushx(client, args):
    return _pushx(client, args, False, b"rpush")


# -- pops -------------------------------------------------------------------------------------

def _pop(client, args, left: bool):
    n = len(args)
    if n > 3:
        raise CommandError("ERR wrong number of arguments for '%s' command" % ("lpop" if left else "rpop"))
    count = None
    if n == 3:
        count = parse_int(args[2], NOT_POSITIVE)
        if count < 0:
            raise CommandError(NOT_POSITIVE)
    db = client.db
    key = args[1]
    lst = db.get(key)
    if lst is None:
        return None if count is None else NULL_ARRAY
    if type(lst) is not List:
        raise CommandError(WRONGTYPE)
    engine = client.engine
    event = b"lpop" if left else b"rpop"
    if count is None:
        value = lst.popleft() if left else lst.pop()
        _removed(engine, db, key, lst, event, 1)
        return value
    if count == 0:
        return []
    values = _pop_many(lst, count, left)
    _removed(engine, db, key, lst, event, len(values))
    return values


@cython.cfunc
@cython.locals(client=ClientCore, db=Database, left=cython.bint, args=list,
               lst=List, ql=QuickList)
def _pop_one(client, args, left):
    """LPOP/RPOP of one element off a list that stays non-empty (the common case: no
    deletion): the element, or None when the key holds no such list."""
    db = client.db
    lst = _list_at(db, args[1])
    if lst is None:
        return None
    data = lst.data
    if type(data) is QuickList:
        ql = data
        if ql.size < 2:
            return None
        value = ql.take(left)
    else:
        if len(lst) < 2:
            return None
        value = lst.popleft() if left else lst.pop()
    _changed_one(client, db, args[1], b"lpop" if left else b"rpop")
    return value


@command("lpop", arity=-2, flags="write fast", keys=(1, 1, 1), acl="list", group="list",
         summary="Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
         args="key:k0 [count:i@6.2.0]")
def lpop(client, args):
    if len(args) == 2:
        value = _pop_one(client, args, True)
        if value is not None:
            return value
    return _pop(client, args, True)


@command("rpop", arity=-2, flags="write fast", keys=(1, 1, 1), acl="list", group="list",
         summary="Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
         args="key:k0 [count:i@6.2.0]")
def rpop(client, args):
    if len(args) == 2:
        value = _pop_one(client, args, False)
        if value is not None:
            return value
    return _pop(client, args, False)


# -- reads -------------------------------------------------------------------------------------

@command("llen", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="list", group="list",
         summary="Returns the length of a list.",
         args="key:k0")
def llen(client, args):
    lst = client.db.get_typed(args[1], List)
    return 0 if lst is None else len(lst)


@command("lrange", arity=4, flags="readonly", keys=(1, 1, 1), acl="list", group="list",
         summary="Returns a range of elements from a list.",
         args="key:k0 start:i stop:i")
def lrange(client, args):
    start = parse_int(args[2])
    stop = parse_int(args[3])
    lst = client.db.get_typed(args[1], List)
    if lst is None:
        return []
    n = len(lst)
    if start < 0:
        start += n
        if start < 0:
            start = 0
    if stop < 0:
        stop += n
    if start > stop or start >= n:
        return []
    if stop >= n:
        stop = n - 1
    return lst.slice(start, stop)


@command("lindex", arity=3, flags="readonly", keys=(1, 1, 1), acl="list", group="list",
         summary="Returns an element from a list by its index.",
         args="key:k0 index:i")
def lindex(client, args):
    lst = client.db.get_typed(args[1], List)
    if lst is None:
        return None
    index = parse_int(args[2])
    n = len(lst)
    if index < 0:
        index += n
    if 0 <= index < n:
        return lst[index]
    return None


@command("lpos", arity=-3, flags="readonly", keys=(1, 1, 1), acl="list", group="list", since="6.0.6",
         summary="Returns the index of matching elements in a list.",
         args="key:k0 element [RANK=rank:i] [COUNT=num-matches:i] [MAXLEN=len:i]")
def lpos(client, args):
    element = args[2]
    rank, count, maxlen = 1, -1, 0
    i = 3
    n = len(args)
    while i < n:
        opt = args[i].lower()
        more = i + 1 < n
        if opt == b"rank" and more:
            rank = parse_int(args[i + 1])
            if rank == 0:
                raise CommandError("ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                                   "second ... or use negative to start from the end of the list")
        elif opt == b"count" and more:
            count = parse_int(args[i + 1], "ERR COUNT can't be negative")
            if count < 0:
                raise CommandError("ERR COUNT can't be negative")
        elif opt == b"maxlen" and more:
            maxlen = parse_int(args[i + 1], "ERR MAXLEN can't be negative")
            if maxlen < 0:
                raise CommandError("ERR MAXLEN can't be negative")
        else:
            raise CommandError(SYNTAX)
        i += 2
    from_tail = rank < 0
    if from_tail:
        # Redis negates the rank; LLONG_MIN stays negative and then matches at once.
        rank = 1 if rank == _LLONG_MIN else -rank
    lst = client.db.get_typed(args[1], List)
    if lst is None:
        return [] if count != -1 else None
    size = len(lst)
    it = reversed(lst) if from_tail else iter(lst)
    if maxlen:
        it = islice(it, maxlen)
    found = []
    matches = 0
    for index, value in enumerate(it):
        if value == element:
            matches += 1
            if matches >= rank:
                found.append(size - 1 - index if from_tail else index)
                if count == -1 or (count and matches - rank + 1 >= count):
                    break
    if count != -1:
        return found
    return found[0] if found else None


# -- in-place edits ------------------------------------------------------------------------------

@command("lset", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="list", group="list",
         summary="Sets the value of an element in a list by its index.",
         args="key:k0 index:i element")
def lset(client, args):
    db = client.db
    key = args[1]
    lst = db.get_typed(key, List)
    if lst is None:
        raise CommandError(NO_SUCH_KEY)
    index = parse_int(args[2])
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise CommandError(OUT_OF_RANGE)
    lst[index] = args[3]
    db.modified(key)
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "l", b"lset", key)
    return OK


@command("linsert", arity=5, flags="write denyoom", keys=(1, 1, 1), acl="list", group="list",
         since="2.2.0", summary="Inserts an element before or after another element in a list.",
         args="key:k0 where(BEFORE|AFTER) pivot element")
def linsert(client, args):
    where = args[2].lower()
    if where == b"after":
        after = True
    elif where == b"before":
        after = False
    else:
        raise CommandError(SYNTAX)
    db = client.db
    key = args[1]
    lst = db.get_typed(key, List)
    if lst is None:
        return 0
    try:
        index = lst.index(args[3])
    except ValueError:
        return -1
    lst.insert(index + 1 if after else index, args[4])
    db.modified(key)
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "l", b"linsert", key)
    return len(lst)


@command("lrem", arity=4, flags="write", keys=(1, 1, 1), acl="list", group="list",
         summary="Removes elements from a list. Deletes the list if the last element was removed.",
         args="key:k0 count:i element")
def lrem(client, args):
    count = parse_int(args[2])
    db = client.db
    key = args[1]
    lst = db.get_typed(key, List)
    if lst is None:
        return 0
    element = args[3]
    removed = 0
    if count == 0:
        kept = [v for v in lst if v != element]
        removed = len(lst) - len(kept)
        if removed:
            lst.clear()
            lst.extend(kept)
    else:
        limit = abs(count)
        values = list(lst) if count > 0 else list(reversed(lst))
        kept = []
        for i, v in enumerate(values):
            if v == element:
                removed += 1
                if removed == limit:
                    kept.extend(islice(values, i + 1, None))
                    break
            else:
                kept.append(v)
        if removed:
            if count < 0:
                kept.reverse()
            lst.clear()
            lst.extend(kept)
    if removed:
        engine = client.engine
        engine.dirty += removed
        if engine.notify_flags:
            engine.notify(db, "l", b"lrem", key)
        db.shrunk(key, lst)
    return removed


@command("ltrim", arity=4, flags="write", keys=(1, 1, 1), acl="list", group="list",
         summary="Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
         args="key:k0 start:i stop:i")
def ltrim(client, args):
    start = parse_int(args[2])
    stop = parse_int(args[3])
    db = client.db
    key = args[1]
    lst = db.get_typed(key, List)
    if lst is None:
        return OK
    n = len(lst)
    if start < 0:
        start += n
    if stop < 0:
        stop += n
    if start < 0:
        start = 0
    if start > stop or start >= n:
        left, right = n, 0
    else:
        if stop >= n:
            stop = n - 1
        left, right = start, n - stop - 1
    keep = n - left - right
    if keep < left + right and keep > 0:
        kept = lst.slice(left, left + keep - 1)
        lst.clear()
        lst.extend(kept)
    elif keep <= 0:
        lst.clear()
    else:
        for _ in range(left):
            lst.popleft()
        for _ in range(right):
            lst.pop()
    engine = client.engine
    if engine.notify_flags:
        engine.notify(db, "l", b"ltrim", key)
    db.shrunk(key, lst)
    engine.dirty += left + right
    return OK


# -- moves ---------------------------------------------------------------------------------------

def _move(client, src_key: bytes, dst_key: bytes, left_from: bool, left_to: bool):
    """lmoveGenericCommand; returns the element or None when the source is missing.

    Events as Redis: the push on the destination, then the pop on the source, then
    ``del`` if the source emptied. LMOVE k k on a one-element list just rotates.
    """
    db = client.db
    src = db.get_typed(src_key, List)
    if src is None:
        return None
    dst = db.get_typed(dst_key, List)
    engine = client.engine
    value = src.popleft() if left_from else src.pop()
    _push_to(client, db, dst_key, dst, value, left_to)
    if engine.notify_flags:
        engine.notify(db, "l", b"lpop" if left_from else b"rpop", src_key)
    db.shrunk(src_key, src)
    engine.dirty += 1
    return value


@command("lmove", arity=5, flags="write denyoom", keys=(1, 2, 1), acl="list", group="list",
         since="6.2.0", summary="Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
         args="source:k0 destination:k1 wherefrom(LEFT|RIGHT) whereto(LEFT|RIGHT)")
def lmove(client, args):
    return _move(client, args[1], args[2], _where(args[3]), _where(args[4]))


@command("rpoplpush", arity=3, flags="write denyoom", keys=(1, 2, 1), acl="list", group="list",
         since="1.2.0", summary="Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
         args="source:k0 destination:k1",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`LMOVE` with the `RIGHT` and `LEFT` arguments")
def rpoplpush(client, args):
    return _move(client, args[1], args[2], False, True)


def _mpop_from(client, keys, left: bool, count: int):
    """The first non-empty list among `keys`: pop up to count; None when all are empty."""
    db = client.db
    for key in keys:
        lst = db.get_typed(key, List)
        if lst is not None:
            return _pop_reply(client, db, key, lst, left, count)
    return None


@command("lmpop", arity=-4, flags="write", keys=(0, 0, 0), getkeys=numkeys_keys(1), acl="list", group="list",
         since="7.0.0", summary="Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
         args="numkeys:i key:k0... where(LEFT|RIGHT) [COUNT=count:i]")
def lmpop(client, args):
    keys, left, count = parse_mpop(args, 1, _where)
    reply = _mpop_from(client, keys, left, count)
    return NULL_ARRAY if reply is None else reply


# -- blocking ---------------------------------------------------------------------------------------

def _pop_reply(client, db, key: bytes, lst, left: bool, count):
    """Pop for a blocking command (at once or when served): [key, value] or [key, values]."""
    engine = client.engine
    event = b"lpop" if left else b"rpop"
    name = b"LPOP" if left else b"RPOP"
    if count is None:
        value = lst.popleft() if left else lst.pop()
        _removed(engine, db, key, lst, event, 1)
        engine.rewrite([name, key])
        return [key, value]
    values = _pop_many(lst, count, left)
    _removed(engine, db, key, lst, event, len(values))
    engine.rewrite([name, key, b"%d" % len(values)])
    return [key, values]


def _serve_pop(waiter, key):
    """Serve BLPOP/BRPOP/BLMPOP: pop from the ready key if it holds a list."""
    db = waiter.db
    lst = db.get(key)
    if lst is None or type(lst) is not List or not lst:
        return None
    left, count = waiter.data
    return _pop_reply(waiter.client, db, key, lst, left, count)


def _blocking_pop(client, keys, timeout: int, left: bool, count):
    db = client.db
    for key in keys:
        lst = db.get_typed(key, List)
        if lst is not None:
            return _pop_reply(client, db, key, lst, left, count)
    return client.engine.blocking.block(client, keys, timeout, _serve_pop, NULL_ARRAY, (left, count))


@command("blpop", arity=-3, flags="write noscript blocking", keys=(1, -2, 1), acl="list", group="list",
         summary="Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
         args="key:k0... timeout:d",
         since="2.0.0")
def blpop(client, args):
    timeout = parse_timeout_seconds(args[-1])
    return _blocking_pop(client, args[1:-1], timeout, True, None)


@command("brpop", arity=-3, flags="write noscript blocking", keys=(1, -2, 1), acl="list", group="list",
         summary="Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
         args="key:k0... timeout:d",
         since="2.0.0")
def brpop(client, args):
    timeout = parse_timeout_seconds(args[-1])
    return _blocking_pop(client, args[1:-1], timeout, False, None)


@command("blmpop", arity=-5, flags="write blocking", keys=(0, 0, 0), getkeys=numkeys_keys(2), acl="list",
         group="list", since="7.0.0",
         summary="Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
         args="timeout:d numkeys:i key:k0... where(LEFT|RIGHT) [COUNT=count:i]")
def blmpop(client, args):
    keys, left, count = parse_mpop(args, 2, _where)
    timeout = parse_timeout_seconds(args[1])
    return _blocking_pop(client, keys, timeout, left, count)


def _serve_move(waiter, key):
    """Serve BLMOVE/BRPOPLPUSH: pop from the source, push on the destination."""
    client = waiter.client
    db = waiter.db
    src = db.get(key)
    if src is None or type(src) is not List or not src:
        return None
    dst_key, left_from, left_to, name = waiter.data
    dst = db.get(dst_key)
    if dst is not None and type(dst) is not List:
        return ErrorReply(WRONGTYPE)       # Redis answers the error and unblocks
    value = _move(client, key, dst_key, left_from, left_to)
    # Served outside Engine.call, which measures a command's keys: the waking path
    # measures the source again, and the destination is this command's own.
    db.written(dst_key)
    _rewrite_move(client.engine, name, key, dst_key, left_from, left_to)
    return value


def _rewrite_move(engine, name, src, dst, left_from, left_to):
    if name == b"brpoplpush":
        engine.rewrite([b"RPOPLPUSH", src, dst])
    else:
        engine.rewrite([b"LMOVE", src, dst, b"LEFT" if left_from else b"RIGHT",
                        b"LEFT" if left_to else b"RIGHT"])


def _blocking_move(client, src_key, dst_key, left_from, left_to, timeout, name):
    db = client.db
    src = db.get_typed(src_key, List)
    if src is not None:
        value = _move(client, src_key, dst_key, left_from, left_to)
        _rewrite_move(client.engine, name, src_key, dst_key, left_from, left_to)
        return value
    # A timeout (or CLIENT UNBLOCK) answers a null array, as every list block does in
    # Redis 7.0; inside MULTI or a script BLMOVE answers a null bulk instead.
    return client.engine.blocking.block(client, [src_key], timeout, _serve_move, NULL_ARRAY,
                                        (dst_key, left_from, left_to, name), denied_reply=None)


@command("blmove", arity=6, flags="write denyoom noscript blocking", keys=(1, 2, 1), acl="list", group="list",
         since="6.2.0", summary="Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
         args="source:k0 destination:k1 wherefrom(LEFT|RIGHT) whereto(LEFT|RIGHT) timeout:d")
def blmove(client, args):
    left_from = _where(args[3])
    left_to = _where(args[4])
    timeout = parse_timeout_seconds(args[5])
    return _blocking_move(client, args[1], args[2], left_from, left_to, timeout, b"blmove")


@command("brpoplpush", arity=4, flags="write denyoom noscript blocking", keys=(1, 2, 1), acl="list",
         group="list", since="2.2.0", summary="Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
         args="source:k0 destination:k1 timeout:d",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`BLMOVE` with the `RIGHT` and `LEFT` arguments")
def brpoplpush(client, args):
    timeout = parse_timeout_seconds(args[3])
    return _blocking_move(client, args[1], args[2], False, True, timeout, b"brpoplpush")
