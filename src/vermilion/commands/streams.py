"""Streams: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XREAD, XREADGROUP, XGROUP,
XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO and XSETID, as Redis 7.0 (t_stream.c).

The data structure and its algorithms live in ``types/stream.py`` (entries,
macro nodes, trimming, groups, PELs); this module parses arguments in Redis's
order (so that the *first* error Redis would report is the one we report),
calls the type, shapes replies for RESP2/RESP3, and does what every write must
(docs/architecture.md): dirty, keyspace events, WATCH, effects, readiness.

Guarantees a user relies on, and where they come from:

* An entry delivered by XREADGROUP (without NOACK) stays in the group's PEL,
  owned by one consumer, until XACK -- or until XCLAIM/XAUTOCLAIM find the
  entry deleted from the stream, or its consumer/group is deleted. Its
  delivery count only grows (history re-reads, XCLAIM, XAUTOCLAIM), except
  that XCLAIM RETRYCOUNT sets it.
* A ``>`` read that finds nothing new creates no consumer and changes nothing
  (Redis serves it only when the stream's last live ID is past the group's
  last-delivered-id); a history read is always served.

Effects (what is propagated to AOF/replicas, ``engine.rewrite``) are Redis 7.0.15's,
so that replaying them rebuilds the same stream, and the groups and PELs as far as
7.0's effects carry them:

* XADD: the concrete ID; an approximate trim (``~``) becomes the exact trim it
  amounted to (``MAXLEN = <length after>`` / ``MINID = <first ID after>``,
  LIMIT dropped), as Redis rewrites it. XTRIM ``~`` likewise.
* XREADGROUP, XCLAIM, XAUTOCLAIM: byte for byte what Redis 7.0.15 propagates
  (streamPropagateXCLAIM and friends), so a Vermilion primary and a Redis
  primary feed their replicas and AOFs the same commands. One ``XCLAIM key
  group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`` per entry
  whose PEL state changed (or that left the PEL because the entry is gone);
  a ``>`` read without NOACK names, in each XCLAIM, the group's last ID as it
  was once that entry was read. A NOACK read propagates ``XGROUP
  CREATECONSUMER`` when it created the consumer and ``XGROUP SETID key group
  id ENTRIESREAD n`` when it moved the group's last ID; a history read
  propagates nothing. What 7.0 leaves out follows from that: a replica does not
  learn the group's entries-read from XCLAIMs, nor a consumer created by a
  history read, nor the delivery counts of history reads (Redis 7.2
  changed some of this).
  Several effects of one command go out as one MULTI/EXEC (engine.propagate).
* Everything else is deterministic and propagates as sent.

Blocking XREAD/XREADGROUP use engine/blocking.py: the client waits on its keys;
XADD signals the key; the serve callbacks below answer it after the writing
command. A blocked XREADGROUP also asks to be woken when its key is deleted or
replaced (``watch_changes``) and XGROUP DESTROY signals the key, so that it is
answered with Redis's errors (``UNBLOCKED the stream key no longer exists`` /
``NOGROUP the consumer group this client was blocked on no longer exists``).
"""
from __future__ import annotations

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.clock import Clock
from ..engine.core import ClientCore, EngineCore
from ..engine.keyspace import Database

from ..engine.errors import SYNTAX, WRONGTYPE, CommandError, subcommand_syntax, wrong_arity
from ..engine.replies import NULL_ARRAY, OK, ErrorReply
from ..engine.table import command, container
from ..engine.blocking import Blocking, parse_timeout_ms
from ..types.stream import (
    ERR_DOLLAR_XREADGROUP, ERR_ENTRIES_ADDED_NEG, ERR_ENTRIESREAD, ERR_GT_ID_XREAD,
    ERR_LIMIT_NO_APPROX, ERR_XADD_ID_ZERO, ERR_XGROUP_NOKEY, ERR_XSETID_MAXDEL, MAX_ID, MIN_ID,
    NEW_ENTRIES, Stream, StreamError, StreamGroup, StreamID, default_trim_limit, id_bytes,
    id_key, parse_id, parse_range_end, parse_range_start, parse_strict_id, parse_xadd_id,
)
from ._args import parse_int
from ._help import help_reply

_tuple_new = tuple.__new__
_LONG_MAX = 2**63 - 1

XREAD_BLOCKED_DEFAULT_COUNT = 1000      # entries given to a blocked XREAD without COUNT

ERR_TRIM_BOTH = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
ERR_LIMIT_NO_STRATEGY = "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
ERR_XTRIM_NO_STRATEGY = "ERR syntax error, XTRIM must be called with a trimming strategy"
ERR_MAXLEN_NEG = "ERR The MAXLEN argument must be >= 0."
ERR_LIMIT_NEG = "ERR The LIMIT argument must be >= 0."
ERR_NO_SUCH_KEY = "ERR no such key"
ERR_UNBLOCKED_NOKEY = "UNBLOCKED the stream key no longer exists"
ERR_UNBLOCKED_NOGROUP = "NOGROUP the consumer group this client was blocked on no longer exists"
ERR_AUTOCLAIM_COUNT = "ERR COUNT must be > 0"
_AUTOCLAIM_MAX_COUNT = _LONG_MAX // 16   # LONG_MAX / max(sizeof(streamID), attempts factor)

STREAM_TIPS = ("nondeterministic_output",)


# -- helpers --------------------------------------------------------------------------------


def _strict(arg: bytes) -> StreamID:
    """An explicit ID (``-``/``+`` refused): a digits-only fast path, then the
    type's full parser (Redis's strtoull leniency: spaces, signs, NUL ...)."""
    ms, sep, seq = arg.partition(b"-")
    if ms.isdigit() and len(ms) < 20:
        if not sep:
            return _tuple_new(StreamID, (int(ms), 0))
        if seq.isdigit() and len(seq) < 20:
            return _tuple_new(StreamID, (int(ms), int(seq)))
    try:
        return parse_strict_id(arg)
    except StreamError as err:
        raise CommandError(str(err)) from None


def _strict_all(args, start: int) -> list:
    """The IDs args[start:] as (ms, seq) tuples, all parsed before anything is done
    (XACK and XDEL are all-or-nothing); the common ``ms-seq`` form is parsed inline."""
    out = []
    append = out.append
    for i in range(start, len(args)):
        arg = args[i]
        try:
            ms, seq = arg.split(b"-")
        except ValueError:
            append(_strict(arg))
            continue
        if ms.isdigit() and seq.isdigit() and len(ms) < 20 and len(seq) < 20:
            append((int(ms), int(seq)))
        else:
            append(_strict(arg))
    return out


def _strict_keys(args, start: int) -> list:
    """:func:`_strict_all` as ID keys (``StreamID.key``), for XACK."""
    out = []
    for i in range(start, len(args)):
        k = id_key(args[i])
        if k is None:
            ms, seq = _strict(args[i])
            k = (ms << 64) | seq
        out.append(k)
    return out


def _call(fn, *args):
    """Run a type parser/method, turning StreamError into the command's error."""
    try:
        return fn(*args)
    except StreamError as err:
        raise CommandError(str(err)) from None


def _entries(entries: list) -> list:
    """Entries as Redis replies them: [id, [field, value, ...]] (a deleted entry
    in a consumer's history: [id, null array])."""
    out = []
    null = NULL_ARRAY
    for entry in entries:
        pair = entry
        first = pair[0]
        fields = pair[1]
        if isinstance(first, tuple):         # a StreamID: its items read as a tuple's
            sid = cython.cast(tuple, first)
            reply = id_bytes(sid[0], sid[1])
        else:
            reply = id_bytes(first[0], first[1])
        out.append((reply, null if fields is None else fields))
    return out


def _c(arg: bytes) -> bytes:
    """A client's argument as Redis's "%s" prints it in an error: up to a NUL byte."""
    return arg.split(b"\0", 1)[0]


def _nogroup(key: bytes, group: bytes, command: str = "") -> CommandError:
    """The NOGROUP errors: XREADGROUP's, XGROUP/XINFO's, and the others'."""
    if command == "XREADGROUP":
        text = b"NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP option"
    elif command == "XGROUP":
        return CommandError(b"NOGROUP No such consumer group '%s' for key name '%s'"
                            % (_c(group), _c(key)))
    else:
        text = b"NOGROUP No such key '%s' or consumer group '%s'"
    return CommandError(text % (_c(key), _c(group)))


def _id_bytes(sid) -> bytes:
    return id_bytes(sid[0], sid[1])


def _claim_effect(key: bytes, last_id, gname: bytes, owner: bytes, sid, time: int,
                  count: int) -> list:
    """streamPropagateXCLAIM: the idempotent XCLAIM that recreates one PEL entry
    (or, for an entry no longer in the stream, removes it on replay): `sid` is the ID
    as propagated, `time` and `count` the entry's delivery time and count, `last_id`
    the group's last-delivered ID to name in LASTID."""
    return [b"XCLAIM", key, gname, owner, b"0", sid if type(sid) is bytes else _id_bytes(sid),
            b"TIME", b"%d" % time, b"RETRYCOUNT", b"%d" % count, b"FORCE", b"JUSTID", b"LASTID",
            _id_bytes(last_id)]


def _setid_effect(key: bytes, group, gname: bytes) -> list:
    """streamPropagateGroupID: last-delivered-id and entries-read of the group."""
    return [b"XGROUP", b"SETID", key, gname, _id_bytes(group.last_id), b"ENTRIESREAD",
            b"%d" % group.entries_read]


def _consumer_created(engine, db, key: bytes) -> None:
    """streamCreateConsumer's side effects: a change, and its keyspace event."""
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "t", b"xgroup-createconsumer", key)


# -- XADD / XTRIM ---------------------------------------------------------------------------


class _Trim:
    """Parsed trimming options (streamAddTrimArgs) and where they sit in argv,
    so that an approximate trim can be rewritten as the exact one it became."""

    __slots__ = ("strategy", "threshold", "approx", "limit", "marker", "arg", "limit_at")

    def __init__(self):
        self.strategy = None      # "maxlen" / "minid"
        self.threshold = None     # int (MAXLEN) or StreamID (MINID)
        self.approx = False
        self.limit = 0
        self.marker = -1          # index of "~"
        self.arg = -1             # index of the threshold
        self.limit_at = -1        # index of LIMIT

    @cython.locals(stream=Stream)
    def apply(self, stream: Stream) -> int:
        return stream.trim(self.strategy, self.threshold, self.approx, self.limit)

    def rewritten(self, argv: list, stream: Stream) -> list:
        """streamRewriteApproxSpecifier + streamRewriteTrimArgument: ``~`` becomes
        ``=`` and the threshold what the trim left (LIMIT is dropped: an exact trim
        to that threshold removes exactly what the approximate one removed)."""
        argv = list(argv)
        argv[self.marker] = b"="
        if self.strategy == "maxlen":
            argv[self.arg] = b"%d" % stream.length
        else:
            first = stream.first_entry_id(tombstones=True)
            argv[self.arg] = _id_bytes(first if first is not None else MAX_ID)
        if self.limit_at >= 0:
            del argv[self.limit_at:self.limit_at + 2]
        return argv


def _parse_add_trim(args: list, xadd: bool, engine):
    """streamParseAddOrTrimArgsOrReply. Returns (trim or None, index of the ID
    argument (XADD) or len(args), nomkstream, id spec, 0-0 was given)."""
    trim = _Trim()
    n = len(args)
    i = 2
    nomkstream = False
    limit_given = False
    id_spec = None
    zero = False
    while i < n:
        more = n - 1 - i
        opt = args[i]
        if xadd and opt == b"*":
            break
        low = opt.lower()
        if (low == b"maxlen" or low == b"minid") and more:
            if trim.strategy is not None:
                raise CommandError(ERR_TRIM_BOTH)
            trim.approx = False
            nxt = args[i + 1]
            if more >= 2 and nxt == b"~":
                trim.approx = True
                trim.marker = i + 1
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            if low == b"maxlen":
                maxlen = parse_int(args[i + 1])
                if maxlen < 0:
                    raise CommandError(ERR_MAXLEN_NEG)
                trim.threshold = maxlen
                trim.strategy = "maxlen"
            else:
                trim.threshold = _strict(args[i + 1])
                trim.strategy = "minid"
            i += 1
            trim.arg = i
        elif low == b"limit" and more:
            limit = parse_int(args[i + 1])
            if limit < 0:
                raise CommandError(ERR_LIMIT_NEG)
            trim.limit = limit
            trim.limit_at = i
            limit_given = True
            i += 1
        elif xadd and low == b"nomkstream":
            nomkstream = True
        elif xadd:
            try:
                id_spec = parse_xadd_id(opt)
            except StreamError as err:
                if str(err) != ERR_XADD_ID_ZERO:
                    raise CommandError(str(err)) from None
                zero = True   # reported after the arity check, as Redis does
            break
        else:
            raise CommandError(SYNTAX)
        i += 1
    if trim.limit and trim.strategy is None:
        raise CommandError(ERR_LIMIT_NO_STRATEGY)
    if not xadd and trim.strategy is None:
        raise CommandError(ERR_XTRIM_NO_STRATEGY)
    if limit_given:
        if not trim.approx:
            raise CommandError(ERR_LIMIT_NO_APPROX)
    elif trim.approx:
        trim.limit = default_trim_limit(engine.config.values["stream-node-max-entries"])
    else:
        trim.limit = 0
    return (trim if trim.strategy is not None else None), i, nomkstream, id_spec, zero


@command("xadd", arity=-5, flags="write denyoom fast", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", tips=STREAM_TIPS, summary="Appends a new entry to a stream",
         complexity="O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
         args="key:k0 [NOMKSTREAM@6.2.0] [trim(strategy(MAXLEN|MINID@6.2.0) [operator('='=equal:-|"
              "'~'=approximately:-)] threshold [LIMIT=count:i@6.2.0])] id_or_auto(*=auto_id:-|id) "
              "field_value(field value)...")
@cython.locals(client=ClientCore, db=Database, engine=EngineCore, args=list, s=Stream,
               clock=Clock, now="long long", idpos="Py_ssize_t", nfields="Py_ssize_t", trim=_Trim,
               sidt=tuple, blocking=Blocking)
def xadd(client, args):
    engine = client.engine
    values = engine.config.values
    max_entries = values["stream-node-max-entries"]
    if args[2] == b"*":                       # the common form: no options
        trim = None
        idpos = 2
        nomkstream = zero = False
        id_spec = None
    else:
        trim, idpos, nomkstream, id_spec, zero = _xadd_options(args, engine, max_entries)
    nfields = len(args) - idpos - 1
    if nfields < 2 or nfields & 1:
        raise wrong_arity("xadd")
    if zero:
        raise CommandError(ERR_XADD_ID_ZERO)
    db = client.db
    key = args[1]
    value = db.get(key)
    if value is None:
        if nomkstream:
            return None
        value = Stream()
        db.add(key, value)                    # Redis creates the key before appending
    elif type(value) is not Stream:
        raise CommandError(WRONGTYPE)
    s = value
    max_bytes = values["stream-node-max-bytes"]
    clock = engine.clock
    now = clock.ms()
    reply = None
    if nfields == 2 and id_spec is None:      # the type's in-place append, when it applies
        reply = s.add_pair(args[idpos + 1], args[idpos + 2], now, max_entries, max_bytes)
    if reply is None:
        try:
            sid = s.add(args[idpos + 1:], id_spec, now, node_max_entries=max_entries,
                        node_max_bytes=max_bytes)
        except StreamError as err:
            raise CommandError(str(err)) from None
        sidt = cython.cast(tuple, sid)        # a StreamID: its items read as a tuple's
        reply = id_bytes(sidt[0], sidt[1])
    if db.watched:
        db.modified(key)
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "t", b"xadd", key)
    if trim is not None and s.trim(trim.strategy, trim.threshold, trim.approx, trim.limit) \
            and engine.notify_flags:
        engine.notify(db, "t", b"xtrim", key)
    if engine.sinks:
        argv = list(args)
        argv[idpos] = reply
        if trim is not None and trim.approx:
            argv = trim.rewritten(argv, s)
        engine.rewrite(argv)
    blocking = engine.blocking
    if blocking is not None and blocking.waiting:   # (engine.signal_ready, inlined)
        blocking.signal(db, key)
    return reply


_OPTIONS_CACHE: dict = {}
# The last options served: [the arguments from the first option to the "*" ID,
# stream-node-max-entries then, what they parsed to]. A client that repeats its
# XADD's options finds them here with a few bytes comparisons.
_XADD_MEMO: list = [(), -1, None]


def _xadd_options(args: list, engine, max_entries):
    """XADD's options, parsed once per distinct option list ending with ``*``
    (``XADD key MAXLEN ~ 1000 * ...`` sent over and over is parsed once)."""
    memo = _XADD_MEMO
    opts = memo[0]
    n = len(opts)
    if n and len(args) > n + 2 and memo[1] == max_entries:
        i = 0
        while i < n:
            a = args[i + 2]
            b = opts[i]
            # Two bytes objects (the usual case) are compared as such: compiled, an inline
            # length and memcmp test instead of a generic rich comparison.
            if type(a) is bytes and type(b) is bytes:
                if cython.cast(bytes, a) != cython.cast(bytes, b):
                    break
            elif a != b:
                break
            i += 1
        if i == n:
            return memo[2]
    try:
        star = args.index(b"*", 3)
    except ValueError:
        return _parse_add_trim(args, True, engine)
    cache_key = (max_entries, *args[2:star])
    parsed = _OPTIONS_CACHE.get(cache_key)
    if parsed is None:
        parsed = _parse_add_trim(args, True, engine)
        if parsed[1] != star:                 # the "*" found is not the ID: not cached
            return parsed
        if len(_OPTIONS_CACHE) >= 256:
            _OPTIONS_CACHE.clear()
        _OPTIONS_CACHE[cache_key] = parsed
    memo[0] = tuple(args[2:star + 1])
    memo[1] = max_entries
    memo[2] = parsed
    return parsed


@command("xtrim", arity=-4, flags="write", keys=(1, 1, 1), acl="stream", group="stream", since="5.0.0",
         tips=STREAM_TIPS, summary="Trims the stream to (approximately if '~' is passed) a certain size",
         complexity="O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
         args="key:k0 trim(strategy(MAXLEN|MINID@6.2.0) [operator('='=equal:-|"
              "'~'=approximately:-)] threshold [LIMIT=count:i@6.2.0])")
def xtrim(client, args):
    engine = client.engine
    trim = _parse_add_trim(args, False, engine)[0]
    db = client.db
    key = args[1]
    s = db.get_typed(key, Stream)
    if s is None:
        return 0
    deleted = trim.apply(s)
    if deleted:
        if engine.notify_flags:
            engine.notify(db, "t", b"xtrim", key)
        if trim.approx and engine.sinks:
            engine.rewrite(trim.rewritten(args, s))
        db.modified(key)
        engine.dirty += deleted
    return deleted


# -- XLEN / XRANGE / XREVRANGE / XDEL ----------------------------------------------------------


@command("xlen", arity=2, flags="readonly fast", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", summary="Return the number of entries in a stream", complexity="O(1)",
         args="key:k0")
def xlen(client, args):
    s = client.db.get_typed(args[1], Stream)
    return 0 if s is None else s.length


def _range(client, args, rev: bool):
    try:
        start = parse_range_start(args[3] if rev else args[2])
        end = parse_range_end(args[2] if rev else args[3])
    except StreamError as err:
        raise CommandError(str(err)) from None
    count = -1
    n = len(args)
    j = 4
    while j < n:
        if args[j].lower() == b"count" and j + 1 < n:
            count = parse_int(args[j + 1])
            if count < 0:
                count = 0
            j += 2
        else:
            raise CommandError(SYNTAX)
    s = client.db.get_typed(args[1], Stream)
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    return _entries(s.range(start, end, count if count > 0 else None, rev))


@command("xrange", arity=-4, flags="readonly", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", summary="Return a range of elements in a stream, with IDs matching the specified IDs interval",
         complexity="O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
         args="key:k0 start end [COUNT=count:i]")
def xrange(client, args):
    return _range(client, args, False)


@command("xrevrange", arity=-4, flags="readonly", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", summary="Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
         complexity="O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
         args="key:k0 end start [COUNT=count:i]")
def xrevrange(client, args):
    return _range(client, args, True)


@command("xdel", arity=-3, flags="write fast", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", summary="Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
         complexity="O(1) for each single item to delete in the stream, regardless of the stream size.",
         args="key:k0 id...")
def xdel(client, args):
    db = client.db
    key = args[1]
    s = db.get_typed(key, Stream)
    if s is None:
        return 0
    ids = _strict_all(args, 2)               # all or nothing: parse every ID first
    deleted = s.delete(ids)
    if deleted:
        db.modified(key)
        engine = client.engine
        if engine.notify_flags:
            engine.notify(db, "t", b"xdel", key)
        engine.dirty += deleted
    return deleted


# -- XREAD / XREADGROUP ---------------------------------------------------------------------------


def _stream_keys(startfrom: int):
    """Key positions as Redis 7.0's key spec gives them (COMMAND GETKEYS, ACL):
    search for the STREAMS keyword from `startfrom`, then the first half of what
    follows it."""
    def keys(args) -> list:
        n = len(args)
        for pos in range(startfrom, n):
            if args[pos].lower() == b"streams":
                return list(range(pos + 1, pos + 1 + (n - pos - 1) // 2))
        return []
    return keys


class _ReadArgs:
    __slots__ = ("count", "timeout", "noack", "group", "consumer", "first", "nkeys")


def _parse_read(client, args, group_cmd: bool) -> _ReadArgs:
    """xreadCommand's option loop, errors in Redis's order."""
    opts = _ReadArgs()
    opts.count = 0
    opts.timeout = -1
    opts.noack = False
    opts.group = opts.consumer = None
    opts.first = opts.nkeys = 0
    n = len(args)
    i = 1
    while i < n:
        more = n - i - 1
        low = args[i].lower()
        if low == b"block" and more:
            if client.kind == "script":
                raise CommandError(b"ERR %s command is not allowed with BLOCK option from scripts"
                                   % _c(args[0]))
            i += 1
            opts.timeout = parse_timeout_ms(args[i])
        elif low == b"count" and more:
            i += 1
            count = parse_int(args[i])
            opts.count = count if count > 0 else 0
        elif low == b"streams" and more:
            opts.first = i + 1
            rest = n - opts.first
            if rest % 2:
                raise CommandError("ERR Unbalanced XREAD list of streams: for each stream key an ID "
                                   "or '$' must be specified.")   # (XREADGROUP too, in 7.0)
            opts.nkeys = rest // 2
            break
        elif low == b"group" and more >= 2:
            if not group_cmd:
                raise CommandError("ERR The GROUP option is only supported by XREADGROUP. "
                                   "You called XREAD instead.")
            opts.group = args[i + 1]
            opts.consumer = args[i + 2]
            i += 2
        elif low == b"noack":
            if not group_cmd:
                raise CommandError("ERR The NOACK option is only supported by XREADGROUP. "
                                   "You called XREAD instead.")
            opts.noack = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    if not opts.first:
        raise CommandError(SYNTAX)
    if group_cmd and opts.group is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    return opts


def _read_reply(client, parts: list):
    """XREAD/XREADGROUP's reply: RESP3 a map key -> entries, RESP2 [[key, entries] ...].
    (A RESP3 map cannot repeat a key here, where Redis's can: XREAD STREAMS k k.)"""
    if client.resp3:
        return dict(parts)
    return [[k, e] for k, e in parts]


def _group_read(client, db, key: bytes, s: Stream, group, opts, start, count, now: int,
                effects: list | None) -> list:
    """Serve one stream of an XREADGROUP (at once or when unblocked): read, then
    account for the write (dirty, consumer creation) and collect its effects."""
    engine = client.engine
    gname = opts.group
    name = opts.consumer
    created = name not in group.consumers
    old_last = group.last_id
    entries = s.read_group(group, name, start, count or None, opts.noack, now)
    engine.dirty += 1
    if created:
        _consumer_created(engine, db, key)
    if effects is not None and start == NEW_ENTRIES:
        if opts.noack:
            if created:
                effects.append([b"XGROUP", b"CREATECONSUMER", key, gname, name])
            if group.last_id != old_last:
                effects.append(_setid_effect(key, group, gname))
        else:
            # Each entry read moved the group's last ID to its own ID (a ">" read only
            # returns entries past it), and Redis propagates each XCLAIM at that moment.
            pel = group.pel._d
            for sid, _ in entries:
                nack = pel[(sid[0] << 64) | sid[1]]
                effects.append(_claim_effect(key, sid, gname, name, sid, nack.delivery_time,
                                             nack.delivery_count))
    return _entries(entries)


def _xread_generic(client, args, group_cmd: bool):
    opts = _parse_read(client, args, group_cmd)
    db = client.db
    first, nkeys = opts.first, opts.nkeys
    gname = opts.group
    ids: list = []
    groups: list = []
    # Resolve every key's type, group and ID before serving anything.
    for j in range(nkeys):
        key = args[first + j]
        arg = args[first + nkeys + j]
        s = db.get_typed(key, Stream)
        group = None
        if gname is not None:
            if s is None or (group := s.groups.get(gname)) is None:
                raise _nogroup(key, gname, "XREADGROUP")
            groups.append(group)
        if arg == b"$":
            if group_cmd:
                raise CommandError(ERR_DOLLAR_XREADGROUP)
            ids.append(s.last_id if s is not None else MIN_ID)
        elif arg == b">":
            if not group_cmd:
                raise CommandError(ERR_GT_ID_XREAD)
            ids.append(NEW_ENTRIES)
        else:
            ids.append(_strict(arg))

    engine = client.engine
    count = opts.count
    parts = []
    effects = [] if engine.sinks and group_cmd else None
    now = engine.clock.ms() if group_cmd else 0
    for j in range(nkeys):
        key = args[first + j]
        s = db.get(key)
        if s is None:
            continue
        gt = ids[j]
        if group_cmd:
            group = groups[j]
            if gt != NEW_ENTRIES:
                parts.append((key, _group_read(client, db, key, s, group, opts, gt, count, now,
                                               effects)))
            elif s.has_entries_after(group.last_id):
                parts.append((key, _group_read(client, db, key, s, group, opts, NEW_ENTRIES, count,
                                               now, effects)))
        elif s.has_entries_after(gt):
            parts.append((key, _entries(s.read_after(gt, count or None))))
    if effects is not None:
        engine.rewrite(*effects)              # [] keeps XREADGROUP itself from propagating
    if parts:
        return _read_reply(client, parts)
    if opts.timeout == -1:
        return NULL_ARRAY
    blocking = engine.blocking
    if blocking is None:
        return NULL_ARRAY
    keys = args[first:first + nkeys]
    if group_cmd:
        return blocking.block(client, keys, opts.timeout, _serve_group, NULL_ARRAY, opts,
                              watch_changes=True)
    wanted: dict = {}
    for key, gt in zip(keys, ids):
        wanted.setdefault(key, gt)            # a repeated key waits for its first ID
    return blocking.block(client, keys, opts.timeout, _serve_read, NULL_ARRAY,
                          (wanted, count or XREAD_BLOCKED_DEFAULT_COUNT))


def _serve_read(waiter, key: bytes):
    """A key a blocked XREAD waits on was signalled: answer if it has new entries."""
    s = waiter.db.get(key)
    if s is None or type(s) is not Stream:
        return None
    wanted, count = waiter.data
    gt = wanted[key]
    # Unlike the synchronous check (last *live* entry), Redis 7.0 serves a blocked
    # reader when the last generated ID moved past its ID, even if that entry was
    # deleted since (XADD + XDEL in one transaction): the reply is then empty.
    if s.last_id <= gt:
        return None
    return _read_reply(waiter.client, [(key, _entries(s.read_after(gt, count)))])


def _serve_group(waiter, key: bytes):
    """A key a blocked XREADGROUP waits on was signalled (new entries, or the key or
    its group went away: then Redis answers with an error)."""
    db = waiter.db
    s = db.get(key)
    if s is None or type(s) is not Stream:
        return ErrorReply(ERR_UNBLOCKED_NOKEY)
    opts = waiter.data
    group = s.groups.get(opts.group)
    if group is None:
        return ErrorReply(ERR_UNBLOCKED_NOGROUP)
    if s.last_id <= group.last_id:        # (last generated ID: see _serve_read)
        return None
    client = waiter.client
    engine = client.engine
    effects = [] if engine.sinks else None
    entries = _group_read(client, db, key, s, group, opts, NEW_ENTRIES,
                          opts.count or XREAD_BLOCKED_DEFAULT_COUNT, engine.clock.ms(), effects)
    if effects is not None:
        engine.rewrite(*effects)
    return _read_reply(client, [(key, entries)])


@command("xread", arity=-4, flags="readonly blocking", getkeys=_stream_keys(1), acl="stream",
         group="stream", since="5.0.0",
         summary="Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
         complexity="For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
         args="[COUNT=count:i] [BLOCK=milliseconds:i] STREAMS=streams(key:k0... id...)")
def xread(client, args):
    return _xread_generic(client, args, False)


@command("xreadgroup", arity=-7, flags="write blocking", getkeys=_stream_keys(4), acl="stream",
         group="stream", since="5.0.0",
         summary="Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
         complexity="For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
         args="GROUP=group_consumer(group consumer) [COUNT=count:i] [BLOCK=milliseconds:i] "
              "[NOACK] STREAMS=streams(key:k0... id...)")
def xreadgroup(client, args):
    return _xread_generic(client, args, True)


# -- XGROUP -------------------------------------------------------------------------------------

container("xgroup", arity=-2, group="stream", since="5.0.0",
          summary="A container for consumer groups commands")


def _xgroup_options(args, create: bool):
    """The options after <id>: MKSTREAM (CREATE only) and ENTRIESREAD n, parsed
    before the key is looked up, as Redis does."""
    mkstream = False
    entries_read = None
    n = len(args)
    i = 5
    while i < n:
        low = args[i].lower()
        if create and low == b"mkstream":
            mkstream = True
            i += 1
        elif low == b"entriesread" and i + 1 < n:
            entries_read = parse_int(args[i + 1])
            if entries_read < 0 and entries_read != -1:
                raise CommandError(ERR_ENTRIESREAD)
            i += 2
        else:
            raise subcommand_syntax(args)
    return mkstream, entries_read


def _xgroup_target(client, args, need_group: bool, mkstream: bool = False):
    """The stream and group XGROUP <sub> <key> <group> works on, with Redis's errors."""
    s = client.db.get_typed(args[2], Stream)
    group = None
    if not mkstream:
        if s is None:
            raise CommandError(ERR_XGROUP_NOKEY)
        group = s.groups.get(args[3])
        if group is None and need_group:
            raise _nogroup(args[2], args[3], "XGROUP")
    return s, group


@command("xgroup|create", arity=-5, flags="write denyoom", keys=(2, 2, 1), acl="stream",
         since="5.0.0", summary="Create a consumer group.", complexity="O(1)",
         args="key:k0 groupname id(id|$=new_id:-) [MKSTREAM] [ENTRIESREAD=entries_read:i]")
def xgroup_create(client, args):
    mkstream, entries_read = _xgroup_options(args, True) if len(args) >= 6 else (False, None)
    s, _ = _xgroup_target(client, args, False, mkstream)
    if len(args) > 8:
        raise subcommand_syntax(args)
    if args[4] == b"$":
        last = s.last_id if s is not None else MIN_ID
    else:
        last = _strict(args[4])
    db = client.db
    key = args[2]
    if s is None:
        s = Stream()
        db.add(key, s)
    _call(s.create_group, args[3], last, entries_read)
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "t", b"xgroup-create", key)
    return OK


@command("xgroup|setid", arity=-5, flags="write", keys=(2, 2, 1), acl="stream", since="5.0.0",
         summary="Set a consumer group to an arbitrary last delivered ID value.", complexity="O(1)",
         args="key:k0 groupname id(id|$=new_id:-) [ENTRIESREAD=entries_read:i]")
def xgroup_setid(client, args):
    entries_read = _xgroup_options(args, False)[1] if len(args) >= 6 else None
    s, group = _xgroup_target(client, args, True)
    if len(args) not in (5, 7):
        raise subcommand_syntax(args)
    if args[4] == b"$":
        last = s.last_id
    else:
        last = _call(parse_id, args[4])
    group.set_id(last, entries_read)
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(client.db, "t", b"xgroup-setid", args[2])
    return OK


@command("xgroup|destroy", arity=4, flags="write", keys=(2, 2, 1), acl="stream", since="5.0.0",
         summary="Destroy a consumer group.",
         complexity="O(N) where N is the number of entries in the group's pending entries list (PEL).",
         args="key:k0 groupname")
def xgroup_destroy(client, args):
    s, group = _xgroup_target(client, args, False)
    if group is None:
        return 0
    s.destroy_group(args[3])
    engine = client.engine
    db = client.db
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "t", b"xgroup-destroy", args[2])
    engine.signal_ready(db, args[2])         # blocked XREADGROUPs get -NOGROUP
    return 1


@command("xgroup|createconsumer", arity=5, flags="write denyoom", keys=(2, 2, 1), acl="stream",
         since="6.2.0", summary="Create a consumer in a consumer group.", complexity="O(1)",
         args="key:k0 groupname consumername")
def xgroup_createconsumer(client, args):
    _, group = _xgroup_target(client, args, True)
    engine = client.engine
    if not group.create_consumer(args[4], engine.clock.ms()):
        return 0
    _consumer_created(engine, client.db, args[2])
    return 1


@command("xgroup|delconsumer", arity=5, flags="write", keys=(2, 2, 1), acl="stream", since="5.0.0",
         summary="Delete a consumer from a consumer group.", complexity="O(1)",
         args="key:k0 groupname consumername")
def xgroup_delconsumer(client, args):
    _, group = _xgroup_target(client, args, True)
    if args[4] not in group.consumers:
        return 0
    pending = group.delete_consumer(args[4])
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(client.db, "t", b"xgroup-delconsumer", args[2])
    return pending


_XGROUP_HELP = [
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
]


@command("xgroup|help", arity=2, flags="loading stale", acl="stream", since="5.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def xgroup_help(client, args):
    return help_reply("XGROUP", _XGROUP_HELP)


# -- XACK / XPENDING / XCLAIM / XAUTOCLAIM --------------------------------------------------------


def _existing_group(client, key: bytes, gname: bytes):
    """Stream and group of XPENDING/XCLAIM/XAUTOCLAIM: both must exist."""
    s = client.db.get_typed(key, Stream)
    group = s.groups.get(gname) if s is not None else None
    if group is None:
        raise _nogroup(key, gname)
    return s, group


@command("xack", arity=-4, flags="write fast", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", summary="Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
         complexity="O(1) for each message ID processed.",
         args="key:k0 group id...")
@cython.locals(group=StreamGroup)
def xack(client, args):
    s = client.db.get_typed(args[1], Stream)
    group = s.groups.get(args[2]) if s is not None else None
    if group is None:
        return 0
    # All or nothing: every ID is parsed before any is acknowledged.
    acked = group.ack_keys(_strict_keys(args, 3))
    client.engine.dirty += acked
    return acked


@command("xpending", arity=-3, flags="readonly", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", tips=STREAM_TIPS,
         summary="Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
         complexity="O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
         args="key:k0 group [filters([IDLE=min-idle-time:i@6.2.0] start end count:i [consumer])]")
def xpending(client, args):
    n = len(args)
    if n != 3 and (n < 6 or n > 9):
        raise CommandError(SYNTAX)
    consumer = None
    if n >= 6:
        at = 3
        min_idle = 0
        if args[3].lower() == b"idle":
            min_idle = parse_int(args[4])
            if n < 8:
                raise CommandError(SYNTAX)
            at = 5
        count = parse_int(args[at + 2])
        if count < 0:
            count = 0
        try:
            start = parse_range_start(args[at])
            end = parse_range_end(args[at + 1])
        except StreamError as err:
            raise CommandError(str(err)) from None
        if at + 3 < n:
            consumer = args[at + 3]
    s, group = _existing_group(client, args[1], args[2])
    if n == 3:
        total, lo, hi, owners = group.pending_summary()
        if not total:
            return [0, None, None, NULL_ARRAY]
        return [total, _id_bytes(lo), _id_bytes(hi), [[name, b"%d" % c] for name, c in owners]]
    rows = group.pending(start, end, count, consumer, min_idle, client.engine.clock.ms())
    return [[_id_bytes(sid), name, idle, deliveries] for sid, name, idle, deliveries in rows]


def _claim_options(args, now: int):
    """XCLAIM: the IDs (as many leading arguments as parse as IDs), then options."""
    n = len(args)
    ids = []
    j = 5
    while j < n:
        try:
            ids.append(_strict(args[j]))
        except CommandError:
            break
        j += 1
    delivery = None
    retry = None
    force = justid = False
    last_id = MIN_ID
    while j < n:
        more = n - 1 - j
        low = args[j].lower()
        if low == b"force":
            force = True
        elif low == b"justid":
            justid = True
        elif low == b"idle" and more:
            j += 1
            delivery = now - parse_int(args[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif low == b"time" and more:
            j += 1
            delivery = parse_int(args[j], "ERR Invalid TIME option argument for XCLAIM")
        elif low == b"retrycount" and more:
            j += 1
            retry = parse_int(args[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif low == b"lastid" and more:
            j += 1
            last_id = _strict(args[j])
        else:
            raise CommandError(b"ERR Unrecognized XCLAIM option '%s'" % _c(args[j]))
        j += 1
    if retry is not None and retry < 0:
        retry = None                          # RETRYCOUNT < 0 is "not given"
    return ids, delivery, retry, force, justid, last_id


@command("xclaim", arity=-6, flags="write fast", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", tips=STREAM_TIPS,
         summary="Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
         complexity="O(log N) with N being the number of messages in the PEL of the consumer group.",
         args="key:k0 group consumer min-idle-time id... [IDLE=ms:i] "
              "[TIME=unix-time-milliseconds:t] [RETRYCOUNT=count:i] [FORCE] [JUSTID] [LASTID=id]")
def xclaim(client, args):
    key, gname, name = args[1], args[2], args[3]
    s, group = _existing_group(client, key, gname)
    min_idle = parse_int(args[4], "ERR Invalid min-idle-time argument for XCLAIM")
    engine = client.engine
    now = engine.clock.ms()
    ids, delivery, retry, force, justid, last_id = _claim_options(args, now)
    db = client.db
    created = name not in group.consumers
    old_last = group.last_id
    log = [] if engine.sinks else None
    claimed, dropped = s.claim(group, name, ids, min_idle, now, delivery_time=delivery,
                               retry_count=retry, force=force, justid=justid, last_id=last_id,
                               log=log)
    changes = len(claimed) + len(dropped)
    if created and name in group.consumers:
        _consumer_created(engine, db, key)
    moved = group.last_id != old_last
    engine.dirty += changes + (1 if moved and not changes else 0)
    if log is not None:
        # Redis names each ID as the client wrote it, and a dropped entry by its
        # former owner and state.
        last = group.last_id
        effects = [_claim_effect(key, last, gname, owner, args[5 + j], time, count)
                   for j, owner, time, count in log]
        if moved and not changes:
            effects.append(_setid_effect(key, group, gname))
        engine.rewrite(*effects)
    if justid:
        return [_id_bytes(sid) for sid in claimed]
    return _entries(claimed)


@command("xautoclaim", arity=-6, flags="write fast", keys=(1, 1, 1), acl="stream", group="stream",
         since="6.2.0", tips=STREAM_TIPS,
         summary="Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
         complexity="O(1) if COUNT is small.",
         args="key:k0 group consumer min-idle-time start [COUNT=count:i] [JUSTID]")
def xautoclaim(client, args):
    min_idle = parse_int(args[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")
    start = _call(parse_range_start, args[5])
    count = 100
    justid = False
    n = len(args)
    j = 6
    while j < n:
        low = args[j].lower()
        if low == b"count" and j + 1 < n:
            count = parse_int(args[j + 1], ERR_AUTOCLAIM_COUNT)
            if not 1 <= count <= _AUTOCLAIM_MAX_COUNT:
                raise CommandError(ERR_AUTOCLAIM_COUNT)
            j += 1
        elif low == b"justid":
            justid = True
        else:
            raise CommandError(SYNTAX)
        j += 1
    key, gname, name = args[1], args[2], args[3]
    s, group = _existing_group(client, key, gname)
    engine = client.engine
    now = engine.clock.ms()
    created = name not in group.consumers
    log = [] if engine.sinks else None
    cursor, claimed, deleted = s.autoclaim(group, name, min_idle, start, count, justid, now, log)
    if created and name in group.consumers:
        _consumer_created(engine, client.db, key)
    changes = len(claimed) + len(deleted)
    engine.dirty += changes
    if log:
        last = group.last_id
        engine.rewrite(*[_claim_effect(key, last, gname, owner, sid, time, count)
                         for sid, owner, time, count in log])
    found = [_id_bytes(sid) for sid in claimed] if justid else _entries(claimed)
    return [_id_bytes(cursor), found, [_id_bytes(sid) for sid in deleted]]


# -- XINFO ----------------------------------------------------------------------------------------

container("xinfo", arity=-2, group="stream", since="5.0.0",
          summary="A container for stream introspection commands")


def _info_target(client, key: bytes) -> Stream:
    s = client.db.get_typed(key, Stream)
    if s is None:
        raise CommandError(ERR_NO_SUCH_KEY)
    return s


@command("xinfo|stream", arity=-3, flags="readonly", keys=(2, 2, 1), acl="stream", since="5.0.0",
         summary="Get information about a stream", complexity="O(1)",
         args="key:k0 [FULL=full([COUNT=count:i])]")
def xinfo_stream(client, args):
    s = _info_target(client, args[2])
    n = len(args)
    if n == 3:
        return s.info()
    if args[3].lower() != b"full" or n not in (4, 6):
        raise subcommand_syntax(args)
    count = 10
    if n == 6:
        if args[4].lower() != b"count":
            raise subcommand_syntax(args)
        count = parse_int(args[5])
        if count < 0:
            count = 10
    return s.info_full(count)


@command("xinfo|groups", arity=3, flags="readonly", keys=(2, 2, 1), acl="stream", since="5.0.0",
         summary="List the consumer groups of a stream", complexity="O(1)",
         args="key:k0")
def xinfo_groups(client, args):
    return _info_target(client, args[2]).info_groups()


@command("xinfo|consumers", arity=4, flags="readonly", keys=(2, 2, 1), acl="stream", since="5.0.0",
         tips=STREAM_TIPS, summary="List the consumers in a consumer group", complexity="O(1)",
         args="key:k0 groupname")
def xinfo_consumers(client, args):
    s = _info_target(client, args[2])
    group = s.groups.get(args[3])
    if group is None:
        raise _nogroup(args[2], args[3], "XGROUP")
    return Stream.info_consumers(group, client.engine.clock.ms())


_XINFO_HELP = [
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
]


@command("xinfo|help", arity=2, flags="loading stale", acl="stream", since="5.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def xinfo_help(client, args):
    return help_reply("XINFO", _XINFO_HELP)


# -- XSETID ---------------------------------------------------------------------------------------


@command("xsetid", arity=-3, flags="write denyoom fast", keys=(1, 1, 1), acl="stream", group="stream",
         since="5.0.0", summary="An internal command for replicating stream values", complexity="O(1)",
         args="key:k0 last-id [ENTRIESADDED=entries_added:i@7.0.0] "
              "[MAXDELETEDID=max_deleted_entry_id@7.0.0]")
def xsetid(client, args):
    last = _strict(args[2])
    entries_added = None
    max_deleted = None
    n = len(args)
    i = 3
    while i < n:
        more = n - 1 - i
        low = args[i].lower()
        if low == b"entriesadded" and more:
            entries_added = parse_int(args[i + 1])
            if entries_added < 0:
                raise CommandError(ERR_ENTRIES_ADDED_NEG)
        elif low == b"maxdeletedid" and more:
            max_deleted = _strict(args[i + 1])
            if last < max_deleted:
                raise CommandError(ERR_XSETID_MAXDEL)
        else:
            raise CommandError(SYNTAX)
        i += 2
    db = client.db
    s = db.get_typed(args[1], Stream)
    if s is None:
        raise CommandError(ERR_NO_SUCH_KEY)
    _call(s.set_id, last, entries_added, max_deleted)
    engine = client.engine
    engine.dirty += 1
    if engine.notify_flags:
        engine.notify(db, "t", b"xsetid", args[1])
    return OK

