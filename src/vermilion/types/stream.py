"""The Stream data type: an append-only log of field/value entries with
consumer groups, as in Redis 7.0 (t_stream.c).  Pure data structure: no I/O,
no imports from the server, engine or command layers.

Identifiers
-----------
An entry ID is ``<ms>-<seq>``, two unsigned 64-bit integers, ordered first by
``ms`` then by ``seq`` (:class:`StreamID` is a ``NamedTuple`` so tuple order is
ID order).  IDs only grow: every new entry has an ID greater than
``last_id``, the greatest ID ever generated (even if that entry has since been
deleted).  Internally IDs are also used as single ints ``ms << 64 | seq``
(``StreamID.key``), which sort the same way and are cheap dict/bisect keys.

Storage layout (and why)
------------------------
Redis keeps entries in listpacks ("macro nodes") indexed by a radix tree on
the ID of each node's first entry (the *master* ID).  A node stops receiving
entries once it holds ``stream-node-max-entries`` entries (live + deleted) or
once its listpack byte size plus the raw size of the new entry's fields and
values reaches ``stream-node-max-bytes``.  Approximate trimming (``~``) only
ever drops whole nodes, so to give the same XLEN as Redis after
``XADD ... MAXLEN ~ N`` we must cut nodes at exactly the same places.  Each
:class:`_Node` therefore tracks ``lpbytes``: the byte size Redis's listpack
for that node would have (header, master entry, per-entry flags / ID deltas /
fields / values / back-length, integer-looking strings stored as integers,
with listpack's exact encoding sizes).

Our own representation of a node is compact rather than a listpack: ID deltas
and blob offsets in ``array`` objects (4 bytes each while they fit), one flag
byte per entry, and all field/value strings length-prefixed in a single blob
(values only, when the entry has the same field names as the node's master
entry -- the same trick Redis uses).  ``XADD s * f v`` a million times grows
a process by ~21 MB here, against ~13 MB for redis-server 7.0.  XINFO's
``radix-tree-nodes`` is computed from the master IDs as the node count of
Redis's compressed radix tree (:meth:`Stream.rax_nodes`).

Nodes live in a Python list with a parallel list of master-ID keys, so a
lookup is a bisect over nodes plus a bisect inside one node
(O(log n + node size)), a range scan is O(log n + returned), and trimming the
head drops whole nodes by advancing ``_head`` (amortised O(removed)).

Deletion (XDEL, exact trimming) only flags an entry as deleted, like Redis:
deleted entries still count towards the node's size limits and still define
the node's last ID (which MINID trimming looks at), and a node goes away only
when XDEL removes its last live entry or trimming drops it whole.  Exact
MINID trimming can therefore leave a node with no live entries at the head,
exactly as Redis does (XINFO shows it in ``radix-tree-keys``).

Consumer groups and the PEL
---------------------------
A group has ``last_id`` (last-delivered-id), ``entries_read`` (logical read
counter, -1 when unknown), its consumers, and a Pending Entries List: every
entry delivered to a consumer with XREADGROUP (without NOACK) or claimed is
in the PEL until it is acknowledged with XACK.  Invariants:

* An entry stays in the PEL until XACK (or until the entry is found to be
  deleted from the stream by XCLAIM/XAUTOCLAIM, or its consumer or group is
  deleted).  Being in the PEL does not keep the entry itself alive: XDEL and
  trimming may remove it, and readers then see the ID with no fields.
* Each pending entry has exactly one owner consumer, and appears both in the
  group PEL and in that consumer's PEL (both :class:`PendingList`, iterated
  in ID order).
* The delivery count starts at 1 and only grows (history re-reads, XCLAIM,
  XAUTOCLAIM), with Redis's exceptions: XCLAIM RETRYCOUNT sets it, XCLAIM
  FORCE of an entry that was not pending starts it at 2 (1 with JUSTID), and
  a ``>`` read of an entry that is still pending (after XGROUP SETID moved
  the group back) re-assigns it with count 1.  JUSTID claims do not count as
  a delivery.
* ``delivery_time`` is the last time (ms) the entry was delivered or claimed;
  XPENDING/XCLAIM idle times are ``now - delivery_time``.
* A consumer's ``seen_time`` is refreshed by XREADGROUP and by any XCLAIM /
  XAUTOCLAIM that actually claims something for it (Redis 7.0 has no
  ``active-time``; that arrived in 7.2).

Lag (XINFO GROUPS) follows Redis 7.0.15 exactly, including its estimate when
``entries_read`` is unknown and its ``None`` ("nil") when the stream has
tombstones that make the count unknowable.

All times are passed in (``now_ms``): nothing here reads a clock.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from typing import Iterable, Iterator, NamedTuple, Sequence

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython


__all__ = [
    "StreamID", "MIN_ID", "MAX_ID", "NEW_ENTRIES", "U64_MAX",
    "StreamError", "Stream", "StreamGroup", "StreamConsumer", "PendingEntry", "PendingList",
    "parse_id", "parse_strict_id", "parse_xadd_id", "parse_interval_id",
    "parse_range_start", "parse_range_end", "parse_read_id", "parse_group_id",
    "incr_id", "decr_id", "default_trim_limit", "nogroup_error", "id_bytes",
    "ERR_INVALID_ID", "ERR_XADD_ID_ZERO", "ERR_XADD_ID_SMALL", "ERR_EXHAUSTED",
    "ERR_TOO_LARGE", "ERR_START_ID", "ERR_END_ID", "ERR_GT_ID_XREAD", "ERR_DOLLAR_XREADGROUP",
    "ERR_BUSYGROUP", "ERR_XSETID_SMALL", "ERR_XSETID_ENTRIES_ADDED", "ERR_XSETID_MAXDEL",
    "ERR_ENTRIES_ADDED_NEG", "ERR_ENTRIESREAD", "ERR_XGROUP_NOKEY", "ERR_LIMIT_NO_APPROX",
]

U64_MAX = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


class StreamID(NamedTuple):
    """A stream entry ID; tuple ordering is ID ordering."""

    ms: int
    seq: int

    def __bytes__(self) -> bytes:
        return b"%d-%d" % (self.ms, self.seq)

    def __str__(self) -> str:
        return "%d-%d" % (self.ms, self.seq)

    def encode(self) -> bytes:
        """The ``ms-seq`` bytes form used in replies."""
        return b"%d-%d" % (self.ms, self.seq)

    @property
    def key(self) -> int:
        """The ID as one 128-bit int (same order as the ID)."""
        return (self.ms << 64) | self.seq

    @classmethod
    def from_key(cls, key: int) -> "StreamID":
        return new_id(key >> 64, key & U64_MAX)


def id_bytes(ms: int, seq: int) -> bytes:
    """The ``ms-seq`` bytes of an ID (replies, XADD's rewritten ID argument).

    Compiled (stream.pxd), the two unsigned 64-bit halves are formatted in C, with
    no int objects on the way: XADD's reply is the hot use."""
    if cython.compiled:
        # Digits written backwards into a C buffer (printf's machinery costs more
        # than the whole append).
        i = 48
        while True:
            i -= 1
            buf[i] = 48 + seq % 10  # noqa: F821 (buf: stream.pxd)
            seq //= 10
            if not seq:
                break
        i -= 1
        buf[i] = 45  # noqa: F821
        while True:
            i -= 1
            buf[i] = 48 + ms % 10  # noqa: F821
            ms //= 10
            if not ms:
                break
        return PyBytes_FromStringAndSize(cython.address(buf[i]), 48 - i)  # noqa: F821
    return b"%d-%d" % (ms, seq)


def new_id(ms: int, seq: int) -> StreamID:
    """``StreamID(ms, seq)`` for the hot paths (every append, every entry read).

    The named tuple's own constructor is a Python-level ``__new__`` and
    ``tuple.__new__(StreamID, ...)`` a generic call with an argument tuple; compiled,
    the instance is allocated by the type's generic allocator (as tuple's subclass
    constructor does) and its two slots filled in C."""
    if cython.compiled:
        t = PyType_GenericAlloc(_ID_TYPE, 2)  # noqa: F821 (stream.pxd)
        Py_INCREF(ms)  # noqa: F821 (PyTuple_SET_ITEM steals the reference)
        PyTuple_SET_ITEM(t, 0, ms)  # noqa: F821
        Py_INCREF(seq)  # noqa: F821
        PyTuple_SET_ITEM(t, 1, seq)  # noqa: F821
        return t
    return _tuple_new(StreamID, (ms, seq))


_ID_TYPE = StreamID
MIN_ID = StreamID(0, 0)
MAX_ID = StreamID(U64_MAX, U64_MAX)
# XREADGROUP's ">" is represented, as in Redis, by the maximum ID: an explicit
# history read from 18446744073709551615-18446744073709551615 is therefore a
# ">" read too (a Redis quirk kept on purpose).
NEW_ENTRIES = MAX_ID

Entry = tuple  # (StreamID, list[bytes] of field, value, field, value ...) or (StreamID, None)


# ---------------------------------------------------------------------------
# Errors: str(exc) is Redis's exact reply text, error code included.

class StreamError(ValueError):
    """A stream error carrying Redis's exact error reply text (``str(exc)``)."""


ERR_INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
ERR_XADD_ID_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
ERR_XADD_ID_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
ERR_EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
ERR_TOO_LARGE = "ERR Elements are too large to be stored"
ERR_START_ID = "ERR invalid start ID for the interval"
ERR_END_ID = "ERR invalid end ID for the interval"
ERR_GT_ID_XREAD = ("ERR The > ID can be specified only when calling XREADGROUP using the "
                   "GROUP <group> <consumer> option.")
ERR_DOLLAR_XREADGROUP = (
    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history "
    "of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID "
    "would just return an empty result set.")
ERR_BUSYGROUP = "BUSYGROUP Consumer Group name already exists"
ERR_XSETID_SMALL = "ERR The ID specified in XSETID is smaller than the target stream top item"
ERR_XSETID_ENTRIES_ADDED = ("ERR The entries_added specified in XSETID is smaller than the "
                            "target stream length")
ERR_XSETID_MAXDEL = ("ERR The ID specified in XSETID is smaller than the provided "
                     "max_deleted_entry_id")
ERR_ENTRIES_ADDED_NEG = "ERR entries_added must be positive"
ERR_ENTRIESREAD = "ERR value for ENTRIESREAD must be positive or -1"
ERR_XGROUP_NOKEY = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE "
                    "you may want to use the MKSTREAM option to create an empty stream "
                    "automatically.")
ERR_LIMIT_NO_APPROX = "ERR syntax error, LIMIT cannot be used without the special ~ option"


def nogroup_error(key: bytes, group: bytes, command: str = "") -> str:
    """Redis's NOGROUP texts.

    ``command="XREADGROUP"`` gives the XREADGROUP variant; ``command="XGROUP"``
    (SETID, CREATECONSUMER, DELCONSUMER) and ``"XINFO"`` (CONSUMERS) give the
    "No such consumer group ... for key name ..." variant; anything else
    (XPENDING, XCLAIM, XAUTOCLAIM) the plain one.
    """
    k = key.decode("utf-8", "replace")
    g = group.decode("utf-8", "replace")
    if command.upper() == "XREADGROUP":
        return f"NOGROUP No such key '{k}' or consumer group '{g}' in XREADGROUP with GROUP option"
    if command.upper() in ("XGROUP", "XINFO"):
        return f"NOGROUP No such consumer group '{g}' for key name '{k}'"
    return f"NOGROUP No such key '{k}' or consumer group '{g}'"


# ---------------------------------------------------------------------------
# ID parsing.  Redis copies the argument into a 128-byte C buffer and parses
# the C string: longer arguments are invalid, anything after a NUL byte is
# ignored.  Each half goes through string2ull(): a strict integer parse, then
# (if that fails) strtoull(), which accepts leading whitespace, a sign and
# leading zeros -- "1- 5", "+3", "007" and even "5- -1" (= 5-18446744073709551615)
# are valid IDs, while "5--1" is not (the strict parse sees a negative number).

_FAST_ID = re.compile(rb"(0|[1-9][0-9]{0,18})(?:-(0|[1-9][0-9]{0,18}))?\Z")
_STRICT_NEG = re.compile(rb"-[1-9][0-9]*\Z")
_DIGITS = re.compile(rb"[0-9]+\Z")
_C_SPACE = b" \t\n\v\f\r"


def _string2ull(s: bytes) -> int | None:
    if len(s) <= 20 and _STRICT_NEG.match(s) and int(s) >= _INT64_MIN:
        return None  # string2ll() accepted it, and it is negative
    i = 0
    n = len(s)
    while i < n and s[i] in _C_SPACE:
        i += 1
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 0x2D
        i += 1
    digits = s[i:]
    if not _DIGITS.match(digits):
        return None
    v = int(digits)
    if v > U64_MAX:
        return None  # ERANGE
    return (-v) & U64_MAX if neg else v


def _parse_generic(arg: bytes, missing_seq: int, strict: bool,
                   seq_wildcard: bool = False) -> tuple[StreamID, bool]:
    """streamGenericParseIDOrReply: returns (id, seq_given)."""
    m = _FAST_ID.match(arg)
    if m is not None:
        seq = m.group(2)
        return StreamID(int(m.group(1)), int(seq) if seq is not None else missing_seq), True
    if len(arg) > 127:
        raise StreamError(ERR_INVALID_ID)
    nul = arg.find(b"\0")
    if nul >= 0:
        arg = arg[:nul]
    if arg == b"-" or arg == b"+":
        if strict:
            raise StreamError(ERR_INVALID_ID)
        return (MIN_ID if arg == b"-" else MAX_ID), True
    dash = arg.find(b"-")
    ms = _string2ull(arg if dash < 0 else arg[:dash])
    if ms is None:
        raise StreamError(ERR_INVALID_ID)
    if dash < 0:
        return StreamID(ms, missing_seq), True
    tail = arg[dash + 1:]
    if seq_wildcard and tail == b"*":
        return StreamID(ms, 0), False
    seq = _string2ull(tail)
    if seq is None:
        raise StreamError(ERR_INVALID_ID)
    return StreamID(ms, seq), True


def id_key(arg) -> int | None:
    """The ID key (``StreamID.key``) of an argument in the plain form ``ms-seq`` or
    ``ms`` (ASCII digits, each part shorter than 20 digits, so it fits 64 bits), else
    None: the caller then uses the full parser, which decides what is an error.
    The per-ID parse of XACK; compiled, a C loop with no intermediate objects."""
    if type(arg) is not bytes:
        return None
    b = cython.cast(bytes, arg)
    n = len(b)
    i = 0
    ms = 0
    while i < n and b[i] != 45:
        ch = b[i]
        if ch < 48 or ch > 57:
            return None
        ms = ms * 10 + (ch - 48)
        i += 1
    if i == 0 or i >= 20:
        return None
    seq = 0
    if i < n:
        i += 1
        start = i
        while i < n:
            ch = b[i]
            if ch < 48 or ch > 57:
                return None
            seq = seq * 10 + (ch - 48)
            i += 1
        if i == start or i - start >= 20:
            return None
    high = ms
    return (high << 64) | seq


def parse_id(arg: bytes, missing_seq: int = 0) -> StreamID:
    """Any ID, ``-`` and ``+`` included (Redis's streamParseIDOrReply)."""
    return _parse_generic(arg, missing_seq, False)[0]


def parse_strict_id(arg: bytes, missing_seq: int = 0) -> StreamID:
    """An explicit ID, ``-``/``+`` rejected: XDEL, XACK, XCLAIM, XSETID, MINID,
    XGROUP CREATE/SETID, XREAD IDs (streamParseStrictIDOrReply)."""
    return _parse_generic(arg, missing_seq, True)[0]


def parse_xadd_id(arg: bytes) -> tuple[int, int | None] | None:
    """The ID argument of XADD.

    Returns None for ``*`` (fully automatic), ``(ms, None)`` for ``ms-*``
    (automatic sequence) and ``(ms, seq)`` for an explicit ID (``ms`` alone means
    ``ms-0``).  Raises the 0-0 error for an explicit ``0-0``, as XADD does
    before it even looks the key up.
    """
    if arg == b"*":
        return None
    sid, seq_given = _parse_generic(arg, 0, True, seq_wildcard=True)
    if not seq_given:
        return (sid.ms, None)
    if sid.ms == 0 and sid.seq == 0:
        raise StreamError(ERR_XADD_ID_ZERO)
    return (sid.ms, sid.seq)


def parse_interval_id(arg: bytes, missing_seq: int) -> tuple[StreamID, bool]:
    """A range bound: returns (id, exclusive).  ``(`` makes it exclusive and is
    followed by a strict ID (so ``(-`` and ``(+`` are invalid)."""
    if len(arg) > 1 and arg[0] == 0x28:  # '('
        return _parse_generic(arg[1:], missing_seq, True)[0], True
    return _parse_generic(arg, missing_seq, False)[0], False


def parse_range_start(arg: bytes) -> StreamID:
    """Start of XRANGE/XREVRANGE/XPENDING/XAUTOCLAIM, exclusivity applied."""
    sid, excl = parse_interval_id(arg, 0)
    if excl:
        nxt = incr_id(sid)
        if nxt is None:
            raise StreamError(ERR_START_ID)
        return nxt
    return sid


def parse_range_end(arg: bytes) -> StreamID:
    """End of XRANGE/XREVRANGE/XPENDING (missing sequence = max), exclusivity applied."""
    sid, excl = parse_interval_id(arg, U64_MAX)
    if excl:
        prv = decr_id(sid)
        if prv is None:
            raise StreamError(ERR_END_ID)
        return prv
    return sid


def parse_read_id(arg: bytes, *, group: bool, last_id: StreamID | None = None) -> StreamID:
    """An ID of XREAD (``group=False``) or XREADGROUP (``group=True``).

    ``$`` is the stream's last ID (``last_id``, 0-0 when the key does not exist)
    for XREAD and an error for XREADGROUP; ``>`` is :data:`NEW_ENTRIES` for
    XREADGROUP and an error for XREAD.
    """
    if arg == b"$":
        if group:
            raise StreamError(ERR_DOLLAR_XREADGROUP)
        return last_id if last_id is not None else MIN_ID
    if arg == b">":
        if not group:
            raise StreamError(ERR_GT_ID_XREAD)
        return NEW_ENTRIES
    return parse_strict_id(arg)


def parse_group_id(arg: bytes, last_id: StreamID | None = None) -> StreamID:
    """The ID of XGROUP CREATE / SETID: ``$`` is the stream's last ID."""
    if arg == b"$":
        return last_id if last_id is not None else MIN_ID
    return parse_strict_id(arg)


def incr_id(sid: StreamID) -> StreamID | None:
    """The next ID, or None after the maximum ID."""
    ms, seq = sid
    if seq == U64_MAX:
        if ms == U64_MAX:
            return None
        return StreamID(ms + 1, 0)
    return StreamID(ms, seq + 1)


def decr_id(sid: StreamID) -> StreamID | None:
    """The previous ID, or None before 0-0."""
    ms, seq = sid
    if seq == 0:
        if ms == 0:
            return None
        return StreamID(ms - 1, U64_MAX)
    return StreamID(ms, seq - 1)


def default_trim_limit(node_max_entries: int = 100) -> int:
    """LIMIT used by ``MAXLEN ~`` / ``MINID ~`` when none is given (0 for exact
    trimming means "no limit"): 100 nodes' worth of entries, at least 10000
    when nodes are unbounded, at most 1000000."""
    limit = 100 * node_max_entries
    if limit <= 0:
        limit = 10000
    return min(limit, 1000000)


# ---------------------------------------------------------------------------
# Listpack size model (what Redis's lpBytes() would say about a node).

_LP_MAX_SIZE = 1 << 30  # STREAM_LISTPACK_MAX_SIZE
_LP_INT = re.compile(rb"(?:0|-?[1-9][0-9]*)\Z")
_NUM_START = frozenset(b"-0123456789")
_FLAG_DELETED = 1
_FLAG_SAMEFIELDS = 2
# The same flags for the hot paths: compiled, C constants (stream.pxd), not module lookups.
_SAMEFIELDS = _FLAG_SAMEFIELDS
_DELETED = _FLAG_DELETED


def _lp_int_size(v: int) -> int:
    """Bytes of an integer listpack element, back-length included."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def _lp_str_size(s: bytes) -> int:
    """Bytes of a string element; strings that look like an int64 are stored as ints."""
    n = len(s)
    if n <= 20 and n and _LP_INT.match(s):
        v = int(s)
        if _INT64_MIN <= v <= _INT64_MAX:
            return _lp_int_size(v)
    if n < 64:
        return n + 2
    enc = n + 2 if n < 4096 else n + 5
    if enc <= 127:
        return enc + 1
    if enc < 16383:
        return enc + 2
    if enc < 2097151:
        return enc + 3
    if enc < 268435455:
        return enc + 4
    return enc + 5


def _s64(v: int) -> int:
    """Wrap an unsigned 64-bit difference to int64, as Redis's lpAppendInteger sees it."""
    v &= U64_MAX
    return v - (1 << 64) if v > _INT64_MAX else v


# ---------------------------------------------------------------------------
# Nodes

def _push(arr: array, v: int) -> array:
    try:
        arr.append(v)
    except OverflowError:  # outgrew 32 bits: widen this node's array once
        arr = array("Q", arr)
        arr.append(v)
    return arr


def _put_len(buf: bytearray, n: int) -> None:
    while n >= 0x80:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


class _Node:
    """One macro node.  Entry i has ID (ms + msd[i], sq[i]), flags[i], and its
    strings at blob[offs[i]:]: each string is a varint length then the bytes;
    SAMEFIELDS entries store values only (names are ``fields``), others store
    a varint field count then name, value, name, value..."""

    __slots__ = ("ms", "seq", "fields", "msd", "sq", "offs", "flags", "blob",
                 "live", "dead", "lpbytes")

    def __init__(self, sid: StreamID, fields: tuple):
        self.ms, self.seq = sid
        self.fields = fields
        self.msd = array("I")
        self.sq = array("I")
        self.offs = array("I")
        self.flags = bytearray()
        self.blob: bytearray | bytes = bytearray()
        self.live = 0
        self.dead = 0
        # Listpack header + terminator, then the master entry:
        # count, deleted, num-fields, the field names, and a 0 terminator.
        # (count is accounted for with 0 here and adjusted on each append.)
        self.lpbytes = 7 + _lp_int_size(0) + _lp_int_size(0) + _lp_int_size(len(fields)) + \
            sum(_lp_str_size(f) for f in fields) + _lp_int_size(0)

    def __len__(self) -> int:
        return len(self.flags)

    def id_at(self, i: int) -> StreamID:
        return StreamID(self.ms + self.msd[i], self.sq[i])

    def key_at(self, i: int) -> int:
        return ((self.ms + self.msd[i]) << 64) | self.sq[i]

    def last_key(self) -> int:
        return self.key_at(len(self.flags) - 1)

    def bisect(self, sid: StreamID) -> int:
        """Index of the first entry (deleted or not) with ID >= sid."""
        d = sid[0] - self.ms
        if d < 0:
            return 0
        # IDs ascend, so msd does too, and sq ascends within a run of equal msd: two
        # C bisections instead of a Python loop.
        msd = self.msd
        lo = bisect_left(msd, d)
        if lo < len(msd) and msd[lo] == d:
            return bisect_left(self.sq, sid[1], lo, bisect_right(msd, d, lo))
        return lo

    def find(self, sid: StreamID) -> int:
        """Index of the entry with exactly this ID, deleted or not, else -1."""
        i = self.bisect(sid)
        if i < len(self.msd) and self.msd[i] == sid[0] - self.ms and self.sq[i] == sid[1]:
            return i
        return -1

    def set_counts(self, live: int, dead: int) -> None:
        self.lpbytes += (_lp_int_size(live) - _lp_int_size(self.live)
                         + _lp_int_size(dead) - _lp_int_size(self.dead))
        self.live = live
        self.dead = dead

    def seal(self) -> None:
        """The node will (normally) not grow again: drop over-allocation."""
        if type(self.blob) is not bytes:
            self.blob = bytes(self.blob)

    def fields_at(self, data: bytes, i: int) -> list[bytes]:
        """Decode entry i's flat [field, value, ...] from ``data`` (the node blob as bytes)."""
        p = self.offs[i]
        out: list[bytes] = []
        if self.flags[i] & _FLAG_SAMEFIELDS:
            for f in self.fields:
                n = data[p]
                p += 1
                if n >= 0x80:
                    n, p = _get_len_slow(data, p, n)
                out.append(f)
                out.append(data[p:p + n])
                p += n
            if type(data) is memoryview:
                out[1::2] = [bytes(v) for v in out[1::2]]
            return out
        count = data[p]
        p += 1
        if count >= 0x80:
            count, p = _get_len_slow(data, p, count)
        for _ in range(2 * count):
            n = data[p]
            p += 1
            if n >= 0x80:
                n, p = _get_len_slow(data, p, n)
            out.append(data[p:p + n])
            p += n
        if type(data) is memoryview:
            out = [bytes(v) for v in out]
        return out

    def copy(self) -> "_Node":
        new = _Node.__new__(_Node)
        new.ms, new.seq, new.fields = self.ms, self.seq, self.fields
        new.msd, new.sq, new.offs = array(self.msd.typecode, self.msd), \
            array(self.sq.typecode, self.sq), array(self.offs.typecode, self.offs)
        new.flags = bytearray(self.flags)
        # A sealed node's blob is immutable bytes and can be shared.
        new.blob = self.blob if type(self.blob) is bytes else bytearray(self.blob)
        new.live, new.dead, new.lpbytes = self.live, self.dead, self.lpbytes
        return new

    def data(self) -> bytes | memoryview:
        """The blob in a form that slices cheaply: sealed nodes hold bytes; the
        open tail node's bytearray is copied when small, and viewed (no copy)
        when large -- slices of a view must then be turned into bytes."""
        blob = self.blob
        if type(blob) is bytes:
            return blob
        if len(blob) <= 16384:
            return bytes(blob)
        return memoryview(blob)


def _get_len_slow(data: bytes, p: int, first: int) -> tuple[int, int]:
    n = first & 0x7F
    shift = 7
    while True:
        b = data[p]
        p += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, p
        shift += 7


_tuple_new = tuple.__new__
# The unbound method: compiled, a direct call, with no method lookup or bound method.
_array_append = array.append


def _emit(node: _Node, lo: int, hi: int, out: list, limit: int, rev: bool) -> bool:
    """Append node entries lo..hi-1 (reversed with ``rev``) that are live to out as
    (StreamID, fields); True once ``len(out) == limit``."""
    if lo >= hi:
        return False
    flags, msd, sq, base, offs = node.flags, node.msd, node.sq, node.ms, node.offs
    data = node.data()
    names = node.fields
    single = names[0] if len(names) == 1 and type(data) is bytes else None
    b = cython.cast(bytes, data) if single is not None else b""
    count = hi - lo
    step = -1 if rev else 1
    i = hi - 1 if rev else lo
    while count:
        count -= 1
        fl = flags[i]
        if not fl & _DELETED:
            if single is not None and fl == _SAMEFIELDS:
                p = offs[i]
                n = b[p]
                if n < 0x80:
                    if cython.compiled:
                        value = PyBytes_FromStringAndSize(  # noqa: F821 (stream.pxd)
                            cython.cast(cython.p_char, b) + (p + 1), n)
                    else:
                        value = b[p + 1:p + 1 + n]
                    fields = [single, value]
                else:
                    fields = node.fields_at(data, i)
            else:
                fields = node.fields_at(data, i)
            out.append((new_id(base + msd[i], sq[i]), fields))
            if len(out) == limit:
                return True
        i += step
    return False


# ---------------------------------------------------------------------------
# Consumer groups

def _id_key(sid) -> int:
    """``sid.key`` for an ID known to be a StreamID (or a 2-tuple): compiled, its two
    items are read as a tuple's, not through the subclass's generic indexing."""
    if isinstance(sid, tuple):
        t = cython.cast(tuple, sid)
        return (t[0] << 64) | t[1]
    return (sid[0] << 64) | sid[1]


def _new_pending(consumer: "StreamConsumer", now_ms: int) -> "PendingEntry":
    """A first delivery's PEL entry (XREADGROUP ``>``), without the ``__init__`` call."""
    nack = PendingEntry.__new__(PendingEntry)
    nack.consumer = consumer
    nack.delivery_time = now_ms
    nack.delivery_count = 1
    return nack


class PendingEntry:
    """A PEL entry (Redis's streamNACK): owner, last delivery time, delivery count."""

    __slots__ = ("consumer", "delivery_time", "delivery_count")

    def __init__(self, consumer: "StreamConsumer | None", delivery_time: int, delivery_count: int = 1):
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count

    def __repr__(self) -> str:
        owner = self.consumer.name if self.consumer is not None else None
        return f"PendingEntry({owner!r}, time={self.delivery_time}, count={self.delivery_count})"


class PendingList:
    """A PEL: ID key (``StreamID.key``) -> :class:`PendingEntry`, iterated in ID order.

    Built for the hot path (XREADGROUP adds, XACK removes): a dict holds the
    entries, and a sorted list of keys -- allowed to still contain keys that
    were removed since -- serves ordered queries with a bisect.  New IDs
    almost always arrive in increasing order and are simply appended; an
    out-of-order arrival (XCLAIM of an older entry, re-delivery after XGROUP
    SETID) is inserted in place, or, in a very large PEL, makes the next
    ordered query re-sort once.  Stale keys are purged when they outnumber the
    live ones, so every operation is O(1) or O(log n) amortised, plus what it
    returns.
    """

    __slots__ = ("_d", "_keys", "_valid")

    _INSERT_LIMIT = 8192

    def __init__(self) -> None:
        self._d: dict[int, PendingEntry] = {}
        self._keys: list[int] = []  # ascending; superset of _d's keys when _valid
        self._valid = True

    def __len__(self) -> int:
        return len(self._d)

    def __bool__(self) -> bool:
        return bool(self._d)

    def __contains__(self, key: int) -> bool:
        return key in self._d

    def __getitem__(self, key: int) -> "PendingEntry":
        return self._d[key]

    def get(self, key: int, default=None):
        return self._d.get(key, default)

    def __setitem__(self, key: int, value: "PendingEntry") -> None:
        d = self._d
        if key not in d and self._valid:
            keys = self._keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                i = bisect_left(keys, key)
                if i == len(keys) or keys[i] != key:  # (else: a stale key comes back)
                    if len(keys) <= self._INSERT_LIMIT:
                        keys.insert(i, key)
                    else:
                        self._valid = False
                        self._keys = []
        d[key] = value

    def extend(self, items: list[tuple[int, "PendingEntry"]]) -> None:
        """Add new keys given in ascending order (the XREADGROUP fast path)."""
        if items and self._valid:
            keys = self._keys
            if not keys or items[0][0] > keys[-1]:
                d = self._d
                for item in items:
                    pair = item
                    k = pair[0]
                    keys.append(k)
                    d[k] = pair[1]
                return
        for k, v in items:
            self[k] = v

    def _removed(self) -> None:
        if self._valid and len(self._keys) > 2 * len(self._d) + 64:
            d = self._d
            self._keys = [k for k in self._keys if k in d]

    def __delitem__(self, key: int) -> None:
        del self._d[key]
        self._removed()

    def pop(self, key: int, default=None):
        value = self._d.pop(key, default)
        if value is not default:
            self._removed()
        return value

    def _sorted(self) -> list[int]:
        if not self._valid:
            self._keys = sorted(self._d)
            self._valid = True
        return self._keys

    def keys_from(self, start: int = 0, end: int | None = None, limit: int = 0) -> list[int]:
        """Keys >= start (and <= end), ascending, at most ``limit`` (0: all).
        Returns a new list, so the PEL may be changed while walking it."""
        keys = self._sorted()
        d = self._d
        out: list[int] = []
        for i in range(bisect_left(keys, start), len(keys)):
            k = keys[i]
            if end is not None and k > end:
                break
            if k in d:
                out.append(k)
                if len(out) == limit:
                    break
        return out

    def iter_keys(self, start: int = 0, end: int | None = None) -> Iterator[int]:
        """Lazily yield keys in [start, end] ascending.  The PEL must not change
        while this runs (use :meth:`keys_from` for that)."""
        keys = self._sorted()
        d = self._d
        for i in range(bisect_left(keys, start), len(keys)):
            k = keys[i]
            if end is not None and k > end:
                return
            if k in d:
                yield k

    def __iter__(self) -> Iterator[int]:
        return iter(self.keys_from())

    def items(self, limit: int = 0) -> list[tuple[int, "PendingEntry"]]:
        d = self._d
        return [(k, d[k]) for k in self.keys_from(limit=limit)]

    def first_key(self) -> int | None:
        d = self._d
        for k in self._sorted():
            if k in d:
                return k
        return None

    def last_key(self) -> int | None:
        d = self._d
        for k in reversed(self._sorted()):
            if k in d:
                return k
        return None

    def unordered_keys(self) -> list[int]:
        return list(self._d)


class StreamConsumer:
    """A consumer: its name, seen-time (ms), and its own PEL (ID key -> PendingEntry)."""

    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name: bytes, seen_time: int):
        self.name = name
        self.seen_time = seen_time
        self.pel = PendingList()

    def __repr__(self) -> str:
        return f"StreamConsumer({self.name!r}, seen={self.seen_time}, pending={len(self.pel)})"


class StreamGroup:
    """A consumer group.

    ``last_id`` is the last-delivered-id; ``entries_read`` is the group's logical
    read counter or -1 when unknown (``XINFO`` shows nil); ``pel`` maps ID keys
    (``StreamID.key``) to :class:`PendingEntry` in ID order; ``consumers`` maps
    names to :class:`StreamConsumer`.
    """

    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers")

    def __init__(self, name: bytes, last_id: StreamID, entries_read: int = -1):
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = PendingList()
        self.consumers: dict[bytes, StreamConsumer] = {}

    def __repr__(self) -> str:
        return (f"StreamGroup({self.name!r}, last_id={self.last_id}, "
                f"entries_read={self.entries_read}, pending={len(self.pel)})")

    # -- consumers ---------------------------------------------------------

    def consumer(self, name: bytes) -> StreamConsumer | None:
        """Look a consumer up without creating it or touching its seen-time."""
        return self.consumers.get(name)

    def _touch_consumer(self, name: bytes, now_ms: int) -> StreamConsumer:
        c = self.consumers.get(name)
        if c is None:
            c = self.consumers[name] = StreamConsumer(name, now_ms)
        c.seen_time = now_ms
        return c

    def create_consumer(self, name: bytes, now_ms: int) -> bool:
        """XGROUP CREATECONSUMER: True if created, False if it already existed."""
        if name in self.consumers:
            return False
        self.consumers[name] = StreamConsumer(name, now_ms)
        return True

    def delete_consumer(self, name: bytes) -> int:
        """XGROUP DELCONSUMER: drop the consumer and its pending entries from the
        group PEL (they are simply forgotten, not re-assigned).  Returns how many
        entries it had pending (0 if it did not exist)."""
        c = self.consumers.pop(name, None)
        if c is None:
            return 0
        pel = self.pel
        for k in c.pel.unordered_keys():
            del pel[k]
        return len(c.pel)

    def copy(self) -> "StreamGroup":
        """A deep copy: consumers, and one new PendingEntry per pending ID shared
        by the copied group PEL and the copied owner's PEL."""
        new = StreamGroup(self.name, self.last_id, self.entries_read)
        consumers = new.consumers
        for name, c in self.consumers.items():
            consumers[name] = StreamConsumer(name, c.seen_time)
        items = self.pel.items()
        copied = [(k, PendingEntry(consumers[n.consumer.name], n.delivery_time, n.delivery_count))
                  for k, n in items]
        new.pel.extend(copied)
        for k, n in copied:
            n.consumer.pel[k] = n
        return new

    def set_id(self, last_id: StreamID, entries_read: int | None = None) -> None:
        """XGROUP SETID: also resets entries_read (to unknown unless given).
        Pending entries stay pending; entries after the new ID will be delivered
        again by ``>`` reads (and re-assigned if still pending)."""
        self.last_id = StreamID(*last_id)
        self.entries_read = -1 if entries_read is None else entries_read

    # -- PEL -----------------------------------------------------------------

    def ack(self, ids: Iterable[StreamID]) -> int:
        """XACK: remove IDs from the PEL; returns how many were pending."""
        return self.ack_keys([(sid[0] << 64) | sid[1] for sid in ids])

    def ack_keys(self, keys: Iterable[int]) -> int:
        """:meth:`ack` by ID keys (``StreamID.key``)."""
        gd = self.pel._d
        n = 0
        owners = []
        last = None
        for k in keys:
            nack = gd.pop(k, None)
            if nack is not None:
                owner = nack.consumer
                del owner.pel._d[k]
                if owner is not last:     # (acks come in runs of one owner's entries)
                    owners.append(owner)
                    last = owner
                n += 1
        if n:
            self.pel._removed()
            for owner in (set(owners) if len(owners) > 1 else owners):
                owner.pel._removed()
        return n

    def pending_summary(self) -> tuple[int, StreamID | None, StreamID | None, list[tuple[bytes, int]]]:
        """XPENDING key group: (count, smallest ID, greatest ID, [(consumer, count)])
        with consumers sorted by name and only those that have pending entries."""
        pel = self.pel
        if not pel:
            return 0, None, None, []
        owners = [(name, len(c.pel)) for name, c in sorted(self.consumers.items()) if c.pel]
        return len(pel), StreamID.from_key(pel.first_key()), StreamID.from_key(pel.last_key()), owners

    def pending(self, start: StreamID = MIN_ID, end: StreamID = MAX_ID, count: int = 0,
                consumer: bytes | None = None, min_idle: int = 0, now_ms: int = 0
                ) -> list[tuple[StreamID, bytes, int, int]]:
        """XPENDING extended form: [(id, consumer, idle ms, delivery count)] for IDs in
        [start, end], at most ``count`` of them (count <= 0 gives nothing), only those
        idle for at least ``min_idle`` ms.  An unknown consumer gives []."""
        if count <= 0:
            return []
        if consumer is not None:
            c = self.consumers.get(consumer)
            if c is None:
                return []
            pel = c.pel
        else:
            pel = self.pel
        out = []
        for k in pel.iter_keys(start.key, end.key):
            nack = pel[k]
            idle = now_ms - nack.delivery_time
            if min_idle and idle < min_idle:
                continue
            out.append((StreamID.from_key(k), nack.consumer.name, max(idle, 0), nack.delivery_count))
            if len(out) >= count:
                break
        return out


# ---------------------------------------------------------------------------
# The stream

class Stream:
    """A Redis stream.  See the module docstring for the model and invariants.

    Public state: ``length`` (live entries), ``last_id``, ``first_id`` (first live
    entry, 0-0 when empty: XINFO's recorded-first-entry-id), ``max_deleted_id``,
    ``entries_added``, ``groups`` (name -> :class:`StreamGroup`).
    """

    __slots__ = ("_nodes", "_keys", "_head", "length", "_last_ms", "_last_seq", "_last",
                 "first_id", "max_deleted_id", "entries_added", "groups", "_fields_cache", "mem",
                 "unit", "_rax_memo")

    def __init__(self) -> None:
        self.mem = self.unit = 0    # memory accounting (engine/memory.py)
        self._nodes: list[_Node] = []
        self._keys: list[int] = []  # master-ID key of each node, for bisect
        self._head = 0  # nodes before _head were trimmed away (compacted lazily)
        self.length = 0
        self.last_id = MIN_ID
        self.first_id = MIN_ID
        self.max_deleted_id = MIN_ID
        self.entries_added = 0
        self.groups: dict[bytes, StreamGroup] = {}
        self._fields_cache: dict[tuple, tuple] = {}

    def __len__(self) -> int:
        return self.length

    # The greatest ID ever generated is kept as its two integers (compiled: C fields,
    # stream.pxd), which is all the append path reads and writes; the StreamID is made
    # when something reads ``last_id`` (and kept until the next append), so
    # ``XADD key * f v`` makes no StreamID at all.
    @property
    def last_id(self) -> StreamID:
        last = self._last
        if last is None:
            last = self._last = new_id(self._last_ms, self._last_seq)
        return last

    @last_id.setter
    def last_id(self, sid: StreamID) -> None:
        ms, seq = sid
        self._last_ms = ms
        self._last_seq = seq
        self._last = sid if type(sid) is _ID_TYPE else new_id(ms, seq)

    def __repr__(self) -> str:
        return (f"Stream(length={self.length}, last_id={self.last_id}, nodes={self.node_count}, "
                f"groups={len(self.groups)})")

    # -- what every stored value class provides (docs/architecture.md) ---------

    type_name = "stream"

    def encoding(self, config) -> str:
        """OBJECT ENCODING: a stream is always ``stream``."""
        return "stream"

    def copy(self) -> "Stream":
        """A deep copy (COPY): same nodes (so the same future trimming), same
        groups, consumers and PELs, sharing no mutable state with this stream.
        A pending entry appears in its group PEL and its consumer's PEL as one
        object, in the copy too."""
        new = Stream()
        new._nodes = [node.copy() for node in self._nodes[self._head:]]
        new._keys = self._keys[self._head:]
        new.length = self.length
        new.last_id = self.last_id
        new.first_id = self.first_id
        new.max_deleted_id = self.max_deleted_id
        new.entries_added = self.entries_added
        new.groups = {name: g.copy() for name, g in self.groups.items()}
        return new

    def first_entry_id(self, tombstones: bool = False) -> StreamID | None:
        """ID of the first entry, None if there is none.  With ``tombstones``
        an entry flagged deleted that still sits in the first node counts (Redis's
        streamGetEdgeID(s, 1, 0): what XADD/XTRIM propagate as the MINID of an
        approximate trim, so that the replayed exact trim keeps that node)."""
        if not tombstones:
            return self.first_id if self.length else None
        for ni in range(self._head, len(self._nodes)):
            node = self._nodes[ni]
            if len(node):
                return node.id_at(0)
        return None

    def tail_entry_bytes(self) -> int:
        """Average blob bytes per entry of the newest non-empty node (memory accounting
        samples it: entries of one stream tend to look alike)."""
        nodes = self._nodes
        for i in range(len(nodes) - 1, max(self._head, len(nodes) - 3) - 1, -1):
            node = nodes[i]
            if len(node):
                return len(node.blob) // len(node)
        return 0

    # -- node bookkeeping ------------------------------------------------------

    @property
    def node_count(self) -> int:
        """Number of macro nodes (XINFO's radix-tree-keys)."""
        return len(self._nodes) - self._head

    def _drop_head_nodes(self, n: int) -> None:
        """Forget the first n live nodes in O(n): their slots are cleared now and
        the lists are compacted once the dead prefix is as long as the rest."""
        nodes = self._nodes
        for i in range(self._head, self._head + n):
            nodes[i] = None  # type: ignore[call-overload]  # release the node right away
        self._head += n
        if self._head == len(nodes) or (self._head >= 32 and self._head * 2 >= len(nodes)):
            del nodes[:self._head]
            del self._keys[:self._head]
            self._head = 0

    def _remove_node(self, idx: int) -> None:
        if idx == self._head:
            self._drop_head_nodes(1)
        else:
            del self._nodes[idx]
            del self._keys[idx]

    def _node_index(self, sid: StreamID) -> int:
        """Index of the node that would hold sid (the first node if sid is before all)."""
        i = bisect_right(self._keys, (sid[0] << 64) | sid[1], self._head) - 1
        return i if i >= self._head else self._head

    def _locate(self, sid: StreamID) -> tuple[int, _Node, int] | None:
        """(node index, node, entry index) of the live entry with this ID, else None."""
        if not self.length:
            return None
        ni = self._node_index(sid)
        if ni >= len(self._nodes):
            return None
        node = self._nodes[ni]
        i = node.find(sid)
        if i < 0 or node.flags[i] & _FLAG_DELETED:
            return None
        return ni, node, i

    def _first_live_id(self) -> StreamID:
        for ni in range(self._head, len(self._nodes)):
            node = self._nodes[ni]
            if node.live:
                flags = node.flags
                for i in range(len(flags)):
                    if not flags[i] & _FLAG_DELETED:
                        return node.id_at(i)
        return MIN_ID

    # -- adding ------------------------------------------------------------------

    def next_id(self, id_spec: tuple[int, int | None] | None, now_ms: int) -> StreamID:
        """The ID XADD would give (without adding); raises like XADD.

        ``id_spec`` comes from :func:`parse_xadd_id`.  Automatic IDs are
        ``now_ms-0`` if the clock is past the last ID's ms, otherwise the last ID
        plus one (sequence overflow moves to the next ms), so IDs stay strictly
        increasing even when the clock goes backwards.
        """
        last = self.last_id
        if last.ms == U64_MAX and last.seq == U64_MAX:
            raise StreamError(ERR_EXHAUSTED)
        if id_spec is None:
            if now_ms > last.ms:
                return StreamID(now_ms, 0)
            return incr_id(last)  # type: ignore[return-value]  # not None: checked above
        ms, seq = id_spec
        if seq is None:  # ms-*
            if ms == last.ms:
                if last.seq == U64_MAX:
                    # Redis 7.0 reports this case with the "too large" text.
                    raise StreamError(ERR_TOO_LARGE)
                return StreamID(ms, last.seq + 1)
            sid = StreamID(ms, 0)
        else:
            sid = StreamID(ms, seq)
        if sid <= last:
            raise StreamError(ERR_XADD_ID_SMALL)
        return sid

    def add_pair(self, field: bytes, value: bytes, now_ms: int, node_max_entries: int = 100,
                 node_max_bytes: int = 4096) -> bytes | None:
        """The hot path of :meth:`add` (``XADD key * field value``): the new entry's ID
        as XADD replies it (``b"<ms>-<seq>"``, :func:`id_bytes`), or None.

        Appends to the open tail node when its master entry has this one field,
        the value is short and not integer-like and the ID deltas are small: then
        it does exactly what :meth:`add` does (such an entry's listpack size is
        ``len(value) + 6`` plus its two ID deltas: flags, the deltas, the value,
        lp-count). It makes no StreamID (``last_id`` makes one when read) and,
        compiled, no int object.
        Otherwise it changes nothing and returns None: call :meth:`add`."""
        nodes = self._nodes
        if not nodes:                 # (trimmed-away nodes are compacted once all are gone)
            return None
        node = nodes[-1]
        if type(node.blob) is not bytearray or type(value) is not bytes:
            return None
        blob = node.blob
        v = value
        n = len(v)
        live = node.live
        master = node.fields
        # (Integer-looking values have another listpack size: add() sizes them.)
        if len(master) != 1 or master[0] != field or n >= 64 or live >= 127 \
                or (n and (v[0] == 45 or 48 <= v[0] <= 57)):
            return None
        # Compiled, the ID parts are C unsigned 64-bit integers (stream.pxd): every
        # difference below is taken only where it cannot be negative.
        last_ms = self._last_ms
        last_seq = self._last_seq
        now = now_ms
        if now > last_ms:
            ms = now
            seq = 0
        elif last_seq < 0xFFFFFFFF:
            ms = last_ms
            seq = last_seq + 1
        else:
            return None
        node_ms = node.ms
        if ms < node_ms or ms - node_ms > 0xFFFFFFFF:
            return None
        msd = ms - node_ms
        lpbytes = node.lpbytes
        if lpbytes + len(field) + n >= \
                (node_max_bytes if 0 < node_max_bytes <= _LP_MAX_SIZE else _LP_MAX_SIZE) or \
                (node_max_entries and live + node.dead >= node_max_entries):
            return None
        node_seq = node.seq
        if seq >= node_seq and seq - node_seq <= 127:
            seq_size = 2
        elif cython.compiled:         # the ms moved on within this node: a negative delta
            # (the unsigned difference read as int64, which is what _s64 computes)
            seq_size = _lp_int_size(cython.cast(cython.longlong, seq - node_seq))
        else:
            seq_size = _lp_int_size(_s64(seq - node_seq))
        node.lpbytes = lpbytes + n + 6 + (2 if msd <= 127 else _lp_int_size(msd)) + seq_size
        node.live = live + 1
        _array_append(node.offs, len(blob))
        _array_append(node.msd, msd)
        _array_append(node.sq, seq)   # < 2**32 (checked above): fits the array
        flags = node.flags
        flags.append(_SAMEFIELDS)
        blob.append(n)
        blob += v
        self._last_ms = ms
        self._last_seq = seq
        self._last = None
        self.length += 1
        self.entries_added += 1
        if self.length == 1:
            self.first_id = self.last_id
        return id_bytes(ms, seq)

    def add(self, fields: Sequence[bytes], id_spec: tuple[int, int | None] | None = None,
            now_ms: int = 0, *, node_max_entries: int = 100, node_max_bytes: int = 4096) -> StreamID:
        """XADD (without trimming: call :meth:`trim` afterwards, as Redis does).

        ``fields`` is the flat ``[field, value, field, value, ...]`` list (non-empty,
        even length: arity is the command layer's job).  ``id_spec`` is the result
        of :func:`parse_xadd_id` (None for ``*``).  ``node_max_entries`` and
        ``node_max_bytes`` are the stream-node-max-entries / -bytes settings
        (0 = unlimited).  Returns the new ID; raises :class:`StreamError`.
        """
        nf2 = len(fields)
        if nf2 == 2 and id_spec is None and \
                self.add_pair(fields[0], fields[1], now_ms, node_max_entries,
                              node_max_bytes) is not None:
            return self.last_id
        if nf2 == 0 or nf2 & 1:
            raise ValueError("fields must be a non-empty flat list of field/value pairs")
        if id_spec is None and now_ms > self._last_ms:  # the common case: a new millisecond
            sid = new_id(now_ms, 0)
        else:
            sid = self.next_id(id_spec, now_ms)
        total = sum(map(len, fields))
        if total > _LP_MAX_SIZE:
            raise StreamError(ERR_TOO_LARGE)

        nodes = self._nodes
        node = nodes[-1] if len(nodes) > self._head else None
        if node is not None:
            max_bytes = node_max_bytes if 0 < node_max_bytes <= _LP_MAX_SIZE else _LP_MAX_SIZE
            if node.lpbytes + total >= max_bytes or \
                    (node_max_entries and node.live + node.dead >= node_max_entries):
                node.seal()
                node = None

        if node is None:
            key = tuple(fields[0::2])
            master = self._fields_cache.get(key)
            if master is None:
                if len(self._fields_cache) > 64:
                    self._fields_cache.clear()
                master = self._fields_cache[key] = tuple(bytes(f) for f in key)
            node = _Node(sid, master)
            nodes.append(node)
            self._keys.append((sid[0] << 64) | sid[1])
            same = True
        else:
            master = node.fields
            if nf2 == 2:
                same = len(master) == 1 and master[0] == fields[0]
            else:
                same = master == tuple(fields[0::2])

        # Redis-side size of the new entry (flags, ID deltas, [field count and
        # names], values, lp-count) plus the master entry's count growing by one.
        msd = sid[0] - node.ms
        seqd = sid[1] - node.seq
        lpb = 2 + (2 if 0 <= msd <= 127 else _lp_int_size(_s64(msd))) + \
            (2 if 0 <= seqd <= 127 else _lp_int_size(_s64(seqd)))
        nvals = nf2 >> 1
        if same:
            lp_count = nvals + 3
            strings = fields[1::2] if nf2 > 2 else (fields[1],)
        else:
            lp_count = nf2 + 4
            lpb += _lp_int_size(nvals)
            strings = fields
        for v in strings:
            n = len(v)
            if n < 64 and (not n or v[0] not in _NUM_START):
                lpb += n + 2
            else:
                lpb += _lp_str_size(v)
        lpb += _lp_int_size(lp_count)
        live = node.live
        node.lpbytes += lpb if live < 127 else lpb + _lp_int_size(live + 1) - _lp_int_size(live)
        node.live = live + 1

        # Our own compact copy.
        blob = node.blob
        if type(blob) is bytes:  # a sealed node reopened (its successor was deleted)
            blob = node.blob = bytearray(blob)
        try:
            node.offs.append(len(blob))
        except OverflowError:
            node.offs = _push(node.offs, len(blob))
        try:
            node.msd.append(msd)
        except OverflowError:
            node.msd = _push(node.msd, msd)
        try:
            node.sq.append(sid[1])
        except OverflowError:
            node.sq = _push(node.sq, sid[1])
        if same:
            node.flags.append(_FLAG_SAMEFIELDS)
        else:
            node.flags.append(0)
            _put_len(blob, nvals)
        for v in strings:
            n = len(v)
            if n < 0x80:
                blob.append(n)
            else:
                _put_len(blob, n)
            blob += v

        self.length += 1
        self.entries_added += 1
        self.last_id = sid
        if self.length == 1:
            self.first_id = sid
        return sid

    # -- trimming --------------------------------------------------------------

    def trim(self, strategy: str, threshold: int | StreamID, approx: bool = False,
             limit: int = 0) -> int:
        """XTRIM / XADD trimming.  ``strategy`` is ``"maxlen"`` (threshold: int)
        or ``"minid"`` (threshold: StreamID).  With ``approx`` only whole nodes are
        removed, and at most ``limit`` entries (0 = no limit; see
        :func:`default_trim_limit`).  Returns the number of entries removed.

        Like Redis: nodes are dropped from the head while that keeps the
        condition; then (exact mode only) entries of the first remaining node
        are flagged deleted one by one.
        """
        maxlen = strategy == "maxlen" or strategy.lower() == "maxlen"
        if maxlen:
            max_len = int(threshold)  # type: ignore[arg-type]
            if self.length <= max_len:    # the usual XADD MAXLEN: nothing to do
                return 0
        else:
            min_key = threshold.key  # type: ignore[union-attr]
        deleted = 0
        nodes = self._nodes
        while self._head < len(nodes):
            if maxlen and self.length <= max_len:
                break
            node = nodes[self._head]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if maxlen:
                remove = self.length - entries >= max_len
            else:
                remove = node.last_key() < min_key  # the last entry, deleted or not
            if remove:
                self._drop_head_nodes(1)
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            flags = node.flags
            removed_here = 0
            for i in range(len(flags)):
                if maxlen:
                    if self.length <= max_len:
                        break
                elif node.key_at(i) >= min_key:
                    break
                if not flags[i] & _FLAG_DELETED:
                    flags[i] |= _FLAG_DELETED
                    self.length -= 1
                    removed_here += 1
            node.set_counts(node.live - removed_here, node.dead + removed_here)
            deleted += removed_here
            break
        if deleted:
            self.first_id = self._first_live_id() if self.length else MIN_ID
        return deleted

    # -- reading -----------------------------------------------------------------

    def range(self, start: StreamID = MIN_ID, end: StreamID = MAX_ID, count: int | None = None,
              rev: bool = False) -> list[Entry]:
        """Live entries with start <= ID <= end as ``(StreamID, [f, v, ...])``,
        ascending (or descending with ``rev``), at most ``count`` (None or 0: all).
        Note XRANGE ... COUNT 0 replies nil in Redis: that is the command layer's call."""
        out: list[Entry] = []
        if not self.length or start > end:
            return out
        limit = count or -1
        nodes = self._nodes
        after_end = incr_id(end)  # None when end is the maximum ID
        end_key = end.key
        start_key = start.key
        if not rev:
            ni = self._node_index(start)
            lo = nodes[ni].bisect(start) if ni < len(nodes) else 0
            while ni < len(nodes):
                node = nodes[ni]
                ni += 1
                if node.live:
                    last = node.last_key() <= end_key
                    hi = len(node) if last else node.bisect(after_end)  # type: ignore[arg-type]
                    if _emit(node, lo, hi, out, limit, False) or not last:
                        break
                lo = 0
            return out
        ni = self._node_index(end)
        hi = len(nodes[ni]) if after_end is None else nodes[ni].bisect(after_end)
        while ni >= self._head:
            node = nodes[ni]
            ni -= 1
            if node.live:
                first = ((node.ms << 64) | node.seq) >= start_key
                lo = 0 if first else node.bisect(start)
                if _emit(node, lo, hi, out, limit, True) or not first:
                    break
            if ni >= self._head:
                hi = len(nodes[ni])
        return out

    def read_after(self, sid: StreamID, count: int | None = None) -> list[Entry]:
        """XREAD for one stream: live entries with ID strictly greater than ``sid``
        (``$`` having been resolved to ``last_id`` by :func:`parse_read_id`)."""
        begin = incr_id(sid)
        return [] if begin is None else self.range(begin, MAX_ID, count)

    def iter_ids(self, rev: bool = False) -> Iterator[StreamID]:
        """All live IDs in order (used by tests and XINFO)."""
        nodes = self._nodes[self._head:]
        for node in (reversed(nodes) if rev else nodes):
            idx = range(len(node) - 1, -1, -1) if rev else range(len(node))
            for i in idx:
                if not node.flags[i] & _FLAG_DELETED:
                    yield node.id_at(i)

    def get(self, sid: StreamID) -> list[bytes] | None:
        """The fields of the live entry with this ID, or None."""
        loc = self._locate(sid)
        if loc is None:
            return None
        _, node, i = loc
        return node.fields_at(node.data(), i)

    def exists(self, sid: StreamID) -> bool:
        return self._locate(sid) is not None

    def first_entry(self) -> Entry | None:
        got = self.range(count=1)
        return got[0] if got else None

    def last_entry(self) -> Entry | None:
        got = self.range(count=1, rev=True)
        return got[0] if got else None

    def last_valid_id(self) -> StreamID | None:
        """ID of the last live entry (Redis's streamLastValidID), None if empty.
        XREAD/XREADGROUP compare this, not ``last_id``, to decide whether to block."""
        for ni in range(len(self._nodes) - 1, self._head - 1, -1):
            node = self._nodes[ni]
            if node.live:
                flags = node.flags
                for i in range(len(flags) - 1, -1, -1):
                    if not flags[i] & _FLAG_DELETED:
                        return node.id_at(i)
        return None

    def has_entries_after(self, sid: StreamID) -> bool:
        """Would XREAD with this ID be served right away (rather than block or
        reply nil)?  True when the last live entry is after ``sid``.  For
        XREADGROUP ``>`` pass ``group.last_id``."""
        top = self.last_valid_id()
        return top is not None and top > sid

    # -- deleting ------------------------------------------------------------------

    def delete(self, ids: Iterable[StreamID]) -> int:
        """XDEL: flag live entries deleted; returns how many were deleted.  A node
        whose last live entry goes is removed whole (with its flagged entries)."""
        deleted = 0
        first_gone = False
        for sid in ids:
            loc = self._locate(sid)
            if loc is None:
                continue
            ni, node, i = loc
            node.flags[i] |= _FLAG_DELETED
            if node.live == 1:
                self._remove_node(ni)
            else:
                node.set_counts(node.live - 1, node.dead + 1)
            self.length -= 1
            deleted += 1
            if sid == self.first_id:
                first_gone = True
            if sid > self.max_deleted_id:
                self.max_deleted_id = StreamID(*sid)
        if deleted:
            if not self.length:
                self.first_id = MIN_ID
            elif first_gone:
                self.first_id = self._first_live_id()
        return deleted

    def set_id(self, last_id: StreamID, entries_added: int | None = None,
               max_deleted_id: StreamID | None = None) -> None:
        """XSETID.  Raises with Redis's texts; checks in Redis's order (the
        MAXDELETEDID and ENTRIESADDED sign checks come from argument parsing)."""
        if entries_added is not None and entries_added < 0:
            raise StreamError(ERR_ENTRIES_ADDED_NEG)
        if max_deleted_id is not None and last_id < max_deleted_id:
            raise StreamError(ERR_XSETID_MAXDEL)
        if self.length:
            top = self.last_valid_id()
            if top is not None and last_id < top:
                raise StreamError(ERR_XSETID_SMALL)
            if entries_added is not None and self.length > entries_added:
                raise StreamError(ERR_XSETID_ENTRIES_ADDED)
        self.last_id = StreamID(*last_id)
        if entries_added is not None:
            self.entries_added = entries_added
        if max_deleted_id is not None and max_deleted_id != MIN_ID:
            self.max_deleted_id = StreamID(*max_deleted_id)

    # -- lag bookkeeping (Redis 7.0.15 semantics) --------------------------------

    def _has_tombstones_from(self, start: StreamID) -> bool:
        """streamRangeHasTombstones(s, start, +inf)."""
        mdel = self.max_deleted_id
        if not self.length or mdel == MIN_ID:
            return False
        if self.first_id > mdel:
            return False
        return start <= mdel

    def estimate_entries_read(self, sid: StreamID) -> int:
        """The logical read counter of an ID (streamEstimateDistanceFromFirstEverEntry),
        or -1 when it cannot be known (ID inside the stream, in the future, or
        tombstones ahead)."""
        if not self.entries_added:
            return 0
        if not self.length and sid <= self.last_id:
            return self.entries_added
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return -1
        mdel = self.max_deleted_id
        if mdel == MIN_ID or mdel < self.first_id:
            if sid < self.first_id:
                return self.entries_added - self.length
            if sid == self.first_id:
                return self.entries_added - self.length + 1
        return -1

    def lag(self, group: StreamGroup) -> int | None:
        """Entries not yet delivered to the group, or None when unknown."""
        if not self.entries_added:
            return 0
        if group.entries_read != -1 and not self._has_tombstones_from(group.last_id):
            return self.entries_added - group.entries_read
        er = self.estimate_entries_read(group.last_id)
        return None if er == -1 else self.entries_added - er

    # -- groups ----------------------------------------------------------------------

    def create_group(self, name: bytes, last_id: StreamID, entries_read: int | None = None) -> StreamGroup:
        """XGROUP CREATE (the ID already resolved by :func:`parse_group_id`)."""
        if entries_read is not None and entries_read < 0 and entries_read != -1:
            raise StreamError(ERR_ENTRIESREAD)
        if name in self.groups:
            raise StreamError(ERR_BUSYGROUP)
        g = self.groups[name] = StreamGroup(name, StreamID(*last_id),
                                            -1 if entries_read is None else entries_read)
        return g

    def destroy_group(self, name: bytes) -> bool:
        return self.groups.pop(name, None) is not None

    def group(self, name: bytes) -> StreamGroup | None:
        return self.groups.get(name)

    @cython.locals(group=StreamGroup, c=StreamConsumer, gpel=PendingList, cpel=PendingList,
                   gd=dict, old=PendingEntry, fresh=list)
    def read_group(self, group: StreamGroup, consumer: bytes, start: StreamID = NEW_ENTRIES,
                   count: int | None = None, noack: bool = False, now_ms: int = 0) -> list[Entry]:
        """XREADGROUP for one stream, when Redis serves it.

        Redis serves a ``>`` read only if :meth:`has_entries_after` ``(group.last_id)``
        (otherwise the client blocks or gets nil, and the consumer is *not*
        created); history reads are always served.  The command layer decides
        that, then calls this.
        The consumer is created if needed and its seen-time set to ``now_ms``.
        With ``start=NEW_ENTRIES`` (``>``): entries after the group's last-delivered-id,
        which advances (with entries_read) past each one; unless ``noack`` each
        delivered entry enters the PEL owned by this consumer with delivery count 1
        (an entry already pending -- possible after XGROUP SETID -- is re-assigned
        and its count reset to 1).  Otherwise: this consumer's pending entries with
        ID > start (history), each re-delivery bumping its count and time; entries
        deleted from the stream come back as ``(id, None)``.
        ``count`` None/0 means no limit.  Returns [] when there is nothing.
        """
        c = group._touch_consumer(consumer, now_ms)
        if start != NEW_ENTRIES:
            out: list[Entry] = []
            pel = c.pel
            # Like ">" reads, history reads return IDs strictly greater than the
            # one given ("0" is the usual way to ask for everything pending).
            for k in pel.keys_from(start.key + 1, limit=count or 0):
                sid = StreamID.from_key(k)
                fields = self.get(sid)
                if fields is not None:
                    nack = pel[k]
                    nack.delivery_time = now_ms
                    nack.delivery_count += 1
                out.append((sid, fields))
            return out

        begin = incr_id(group.last_id)
        if begin is None:
            return []
        entries = self.range(begin, MAX_ID, count)
        if not entries:
            return entries
        # Every entry read is after last_id, so each one advances it.  The read
        # counter grows by one per entry while it is known and no tombstone lies
        # ahead of the entry; otherwise it is re-estimated (Redis 7.0.15 checks
        # tombstones from the entry just read, not from the previous last_id).
        mdel = self.max_deleted_id
        tomb = bool(self.length) and mdel != MIN_ID and self.first_id <= mdel
        er = group.entries_read
        if er != -1 and not tomb:
            er += len(entries)
        else:
            added = self.entries_added
            for sid, _ in entries:
                if er != -1 and not (tomb and sid <= mdel):
                    er += 1
                elif added:
                    er = self.estimate_entries_read(sid)
        group.entries_read = er
        group.last_id = entries[-1][0]
        if noack:
            return entries
        gpel, cpel = group.pel, c.pel
        gd = gpel._d
        fresh = []
        for entry in entries:
            k = _id_key(entry[0])
            old = gd.get(k)
            if old is None:
                fresh.append((k, _new_pending(c, now_ms)))
            else:  # already pending (after XGROUP SETID went back): re-assign, count restarts
                del old.consumer.pel[k]
                old.consumer = c
                old.delivery_time = now_ms
                old.delivery_count = 1
                cpel[k] = old
        gpel.extend(fresh)
        cpel.extend(fresh)
        return entries

    def _assign(self, group: StreamGroup, nack: PendingEntry, k: int, consumer: StreamConsumer) -> None:
        if nack.consumer is not consumer:
            if nack.consumer is not None:
                del nack.consumer.pel[k]
            consumer.pel[k] = nack
            nack.consumer = consumer

    def claim(self, group: StreamGroup, consumer: bytes, ids: Sequence[StreamID], min_idle: int = 0,
              now_ms: int = 0, *, delivery_time: int | None = None, retry_count: int | None = None,
              force: bool = False, justid: bool = False, last_id: StreamID | None = None,
              log: list | None = None) -> tuple[list, list[StreamID]]:
        """XCLAIM.  Returns ``(claimed, dropped)``: claimed entries (or IDs with
        ``justid``) in argument order, and IDs removed from the PEL because the
        entry no longer exists in the stream.  ``log``, if given, receives one
        ``(index in ids, owner, delivery time, delivery count)`` per PEL change in
        the order they happen: a claim with the entry's new state, a drop with the
        state it had (what Redis propagates for each).

        ``delivery_time`` is the IDLE/TIME option already turned into a timestamp
        (``now - idle`` or ``time``); values < 0 or in the future become ``now_ms``,
        as in Redis.  Each claimed entry gets that delivery time, its count set
        to ``retry_count`` or incremented (not with ``justid``), and moves to
        ``consumer`` (created -- and its seen-time refreshed -- only when
        something is actually claimed).  ``force`` creates PEL entries for
        existing stream entries that are not pending.  ``last_id`` (LASTID)
        raises the group's last-delivered-id if greater.
        """
        if last_id is not None and last_id > group.last_id:
            group.last_id = StreamID(*last_id)
        if delivery_time is None or delivery_time < 0 or delivery_time > now_ms:
            delivery_time = now_ms
        if min_idle < 0:
            min_idle = 0
        gpel = group.pel
        owner: StreamConsumer | None = None
        claimed: list = []
        dropped: list[StreamID] = []
        for j, sid in enumerate(ids):
            k = (sid[0] << 64) | sid[1]
            nack = gpel.get(k)
            if not self.exists(sid):
                if nack is not None:
                    if log is not None:
                        log.append((j, nack.consumer.name, nack.delivery_time, nack.delivery_count))
                    del gpel[k]
                    del nack.consumer.pel[k]
                    dropped.append(StreamID(*sid))
                continue
            if nack is None:
                if not force:
                    continue
                nack = gpel[k] = PendingEntry(None, now_ms, 1)
            elif min_idle and now_ms - nack.delivery_time < min_idle:
                continue
            if owner is None:
                owner = group._touch_consumer(consumer, now_ms)
            self._assign(group, nack, k, owner)
            nack.delivery_time = delivery_time
            if retry_count is not None:
                nack.delivery_count = retry_count
            elif not justid:
                nack.delivery_count += 1
            if log is not None:
                log.append((j, consumer, delivery_time, nack.delivery_count))
            claimed.append(StreamID(*sid) if justid else (StreamID(*sid), self.get(sid)))
        return claimed, dropped

    def autoclaim(self, group: StreamGroup, consumer: bytes, min_idle: int, start: StreamID = MIN_ID,
                  count: int = 100, justid: bool = False, now_ms: int = 0,
                  log: list | None = None) -> tuple[StreamID, list, list[StreamID]]:
        """XAUTOCLAIM: scan the group PEL from ``start``, claiming entries idle for at
        least ``min_idle`` ms, until ``count`` entries were claimed or found deleted,
        or ``10 * count`` PEL entries were examined.  Entries deleted from the stream
        are removed from the PEL and reported.  Returns ``(cursor, claimed, deleted)``
        where cursor is the next PEL ID to examine, or 0-0 when the scan reached the
        end.  Claimed entries get time ``now_ms`` and, unless ``justid``, count + 1.
        ``log``, if given, receives ``(id, owner, delivery time, delivery count)`` per
        PEL change, in PEL order, as :meth:`claim`'s.
        """
        if min_idle < 0:
            min_idle = 0
        attempts = count * 10
        gpel = group.pel
        # Each examined PEL entry costs one attempt, so attempts+1 keys are enough
        # to also know the cursor.
        keys = gpel.keys_from(start.key, limit=attempts + 1)
        i = 0
        owner: StreamConsumer | None = None
        claimed: list = []
        deleted: list[StreamID] = []
        while attempts and count and i < len(keys):
            attempts -= 1
            k = keys[i]
            sid = StreamID.from_key(k)
            nack = gpel[k]
            if not self.exists(sid):
                if log is not None:
                    log.append((sid, nack.consumer.name, nack.delivery_time, nack.delivery_count))
                del gpel[k]
                del nack.consumer.pel[k]
                deleted.append(sid)
                count -= 1
                i += 1
                continue
            if min_idle and now_ms - nack.delivery_time < min_idle:
                i += 1
                continue
            if owner is None:
                owner = group._touch_consumer(consumer, now_ms)
            self._assign(group, nack, k, owner)
            nack.delivery_time = now_ms
            if not justid:
                nack.delivery_count += 1
            if log is not None:
                log.append((sid, consumer, now_ms, nack.delivery_count))
            claimed.append(sid if justid else (sid, self.get(sid)))
            count -= 1
            i += 1
        cursor = StreamID.from_key(keys[i]) if i < len(keys) else MIN_ID
        return cursor, claimed, deleted

    # -- introspection (XINFO) --------------------------------------------------------

    def rax_nodes(self) -> int:
        """The node count of Redis's radix tree over the nodes' 16-byte big-endian
        master IDs (XINFO's radix-tree-nodes): root, leaves, branching points and
        the compressed chains hanging off branching points.

        O(nodes), so the last answer is kept: nodes are only appended (IDs grow),
        dropped from the head or removed, never re-keyed, so the node count with the
        first and last master IDs identifies the set (metrics scrape every stream)."""
        all_keys, head = self._keys, self._head
        if len(all_keys) == head:
            return 1
        memo = (len(all_keys) - head, all_keys[head], all_keys[-1])
        known = getattr(self, "_rax_memo", None)
        if known is not None and known[0] == memo:
            return known[1]
        keys = [k.to_bytes(16, "big") for k in all_keys[head:]]

        def count(lo: int, hi: int, depth: int, starts: bool) -> int:
            # The trie node at `depth` shared by keys[lo:hi]; `starts` says whether a
            # rax node begins here (root or child of a branching node).
            if hi - lo == 1:
                return (1 if starts and depth < 16 else 0) + 1
            a, b = keys[lo], keys[hi - 1]
            d = depth
            while a[d] == b[d]:
                d += 1
            total = 1 if (starts and d > depth) else 0  # compressed chain before the branch
            total += 1  # the branching node
            i = lo
            while i < hi:
                j = i + 1
                ch = keys[i][d]
                while j < hi and keys[j][d] == ch:
                    j += 1
                total += count(i, j, d + 1, True)
                i = j
            return total

        total = count(0, len(keys), 0, True)
        self._rax_memo = (memo, total)
        return total

    @staticmethod
    def _fmt_entry(e: Entry) -> tuple[bytes, list[bytes] | None]:
        return e[0].encode(), e[1]

    def info(self) -> dict[bytes, object]:
        """XINFO STREAM (reply-shaped: bytes keys in Redis's order, IDs formatted,
        entries as ``(id, [f, v, ...])``, absent entries as None)."""
        first = self.first_entry()
        last = self.last_entry()
        return {
            b"length": self.length,
            b"radix-tree-keys": self.node_count,
            b"radix-tree-nodes": self.rax_nodes(),
            b"last-generated-id": self.last_id.encode(),
            b"max-deleted-entry-id": self.max_deleted_id.encode(),
            b"entries-added": self.entries_added,
            b"recorded-first-entry-id": self.first_id.encode(),
            b"groups": len(self.groups),
            b"first-entry": self._fmt_entry(first) if first else None,
            b"last-entry": self._fmt_entry(last) if last else None,
        }

    def info_full(self, count: int = 10) -> dict[bytes, object]:
        """XINFO STREAM FULL [COUNT count] (0 = everything)."""
        entries = self.range(count=count or None)
        groups = []
        for name in sorted(self.groups):
            g = self.groups[name]
            items = g.pel.items(limit=count)
            pending = [[StreamID.from_key(k).encode(), n.consumer.name, n.delivery_time,
                        n.delivery_count] for k, n in items]
            consumers = []
            for cname in sorted(g.consumers):
                c = g.consumers[cname]
                citems = c.pel.items(limit=count)
                consumers.append({
                    b"name": cname,
                    b"seen-time": c.seen_time,
                    b"pel-count": len(c.pel),
                    b"pending": [[StreamID.from_key(k).encode(), n.delivery_time, n.delivery_count]
                                 for k, n in citems],
                })
            groups.append({
                b"name": name,
                b"last-delivered-id": g.last_id.encode(),
                b"entries-read": g.entries_read if g.entries_read != -1 else None,
                b"lag": self.lag(g),
                b"pel-count": len(g.pel),
                b"pending": pending,
                b"consumers": consumers,
            })
        return {
            b"length": self.length,
            b"radix-tree-keys": self.node_count,
            b"radix-tree-nodes": self.rax_nodes(),
            b"last-generated-id": self.last_id.encode(),
            b"max-deleted-entry-id": self.max_deleted_id.encode(),
            b"entries-added": self.entries_added,
            b"recorded-first-entry-id": self.first_id.encode(),
            b"entries": [self._fmt_entry(e) for e in entries],
            b"groups": groups,
        }

    def info_groups(self) -> list[dict[bytes, object]]:
        """XINFO GROUPS, groups sorted by name."""
        out = []
        for name in sorted(self.groups):
            g = self.groups[name]
            out.append({
                b"name": name,
                b"consumers": len(g.consumers),
                b"pending": len(g.pel),
                b"last-delivered-id": g.last_id.encode(),
                b"entries-read": g.entries_read if g.entries_read != -1 else None,
                b"lag": self.lag(g),
            })
        return out

    @staticmethod
    def info_consumers(group: StreamGroup, now_ms: int) -> list[dict[bytes, object]]:
        """XINFO CONSUMERS, consumers sorted by name; idle = now - seen-time."""
        return [{b"name": name, b"pending": len(c.pel), b"idle": max(now_ms - c.seen_time, 0)}
                for name, c in sorted(group.consumers.items())]
