"""Hash, List and Set values: compact Python containers that know their Redis encoding.

Each keeps small values packed in one bytes object (as Redis's listpack) and moves,
one way, to the builtin that does the work (``dict``, ``deque``, ``set`` subclasses)
past its bounds, so the hot commands on large values run at C speed. Each adds only
what Redis semantics need:

* ``type_name``: what TYPE reports.
* ``encoding(config)``: what OBJECT ENCODING would report for the same history.
  Redis converts a compact encoding (listpack, intset) to the general one
  (hashtable) when a size or length limit is crossed, and never converts back
  while the key lives. The commands keep it through ``check_encoding`` / ``set_*``
  helpers below when they add data.
* ``copy()``: an independent value for COPY (keeps the encoding, as Redis's dup).

``mem`` and ``unit`` belong to the memory accounting (engine/memory.py): the
bytes this value is counted for in ``used_memory``, and the sampled average
size of one element. Plain fields, set by the engine, never read here.

Random reads (SRANDMEMBER, SPOP, HRANDFIELD) need uniform picks; a builtin set or
dict has no O(1) random access, so the first random read attaches a
``RandomPool`` (a list of the members) which the writes keep in step from then
on. Memory: 8 bytes per member, only for values that were read at random.
"""
from __future__ import annotations

import random
from array import array
from collections import deque
from itertools import islice
from sys import getsizeof

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython


def is_int64(s: bytes) -> bool:
    """Redis's string2ll acceptance: canonical decimal form of a signed 64-bit integer."""
    return _int64_of(s) is not None


class RandomPool:
    """Uniform random picks among the members of a set/dict owner.

    Invariant: ``items`` holds every live member of the owner exactly once, plus
    each member of ``gone`` (removed from the owner since the pool was built)
    exactly once. Stale entries are dropped when a pick lands on them, so a pick
    is O(1) amortized.
    """

    __slots__ = ("items", "gone")

    def __init__(self, owner):
        self.items = list(owner)
        self.gone: set = set()

    def added(self, member) -> None:
        if self.gone and member in self.gone:
            self.gone.discard(member)      # its old entry is still in items
        else:
            self.items.append(member)

    def removed(self, member) -> None:
        self.gone.add(member)

    def _drop(self, i: int) -> None:
        items = self.items
        last = items.pop()
        if i < len(items):
            items[i] = last

    def pick(self):
        """A uniformly chosen live member (the owner must not be empty)."""
        items, gone = self.items, self.gone
        while True:
            i = random.randrange(len(items))
            member = items[i]
            if gone and member in gone:
                gone.discard(member)
                self._drop(i)
                continue
            return member

    def take(self):
        """Like pick, and forgets the member (the caller removes it from the owner)."""
        items, gone = self.items, self.gone
        while True:
            i = random.randrange(len(items))
            member = items[i]
            self._drop(i)
            if gone and member in gone:
                gone.discard(member)
                continue
            return member


def _pool(owner) -> RandomPool:
    pool = owner.pool
    if pool is None or len(pool.gone) > len(owner) + 64:
        pool = owner.pool = RandomPool(owner)
    return pool


def random_distinct(owner, count: int) -> list:
    """`count` distinct members chosen at random (count < len(owner))."""
    size = len(owner)
    if count * 3 > size:
        return random.sample(list(owner), count)
    pool = _pool(owner)
    chosen: dict = {}
    while len(chosen) < count:
        chosen[pool.pick()] = None
    return list(chosen)


# -- the compact hash encoding ----------------------------------------------------------------
#
# A small hash is one bytes object, as Redis keeps a listpack: field, value, field,
# value ... in insertion order, each string preceded by its length in one byte, or by
# 0xFF and four big-endian bytes when it is 255 bytes or longer. Five short fields
# then cost ~100 bytes where a dict of ten bytes objects costs ~700. Every lookup
# walks the entries (O(entries), bounded by hash-max-listpack-entries, as Redis's
# listpack walk); a write builds a new bytes object. Past the limits the hash
# converts to a dict, one way, which is what OBJECT ENCODING reports.

_LEN1 = [bytes((i,)) for i in range(255)]


def _lp_entry(s: bytes) -> bytes:
    n = len(s)
    if n < 255:
        return _LEN1[n] + s
    return b"\xff" + n.to_bytes(4, "big") + s


def _lp_pack(pairs) -> bytes:
    """The packed form of an iterable of (field, value)."""
    out = []
    for f, v in pairs:
        out.append(_lp_entry(f))
        out.append(_lp_entry(v))
    return b"".join(out)


@cython.cfunc
@cython.inline
@cython.locals(data=bytes, i=cython.Py_ssize_t, ln=cython.Py_ssize_t)
def _lp_len(data: bytes, i: cython.Py_ssize_t) -> cython.Py_ssize_t:
    """The string length in the entry header at data[i]; the header is 1 byte, or 5
    when the length is 255 or more (compiled: inlined C, no object)."""
    ln = data[i]
    if ln == 255:
        ln = data[i + 1] << 24 | data[i + 2] << 16 | data[i + 3] << 8 | data[i + 4]
    return ln


@cython.locals(data=bytes, i=cython.Py_ssize_t, n=cython.Py_ssize_t, ln=cython.Py_ssize_t)
def _lp_strings(data: bytes) -> list:
    """Every string of the packed form, in order (field, value, field, value ...)."""
    out = []
    i = 0
    n = len(data)
    while i < n:
        ln = _lp_len(data, i)
        i += 1 if ln < 255 else 5
        out.append(data[i:i + ln])
        i += ln
    return out


@cython.locals(data=bytes, index=cython.Py_ssize_t, field=bytes, i=cython.Py_ssize_t,
               n=cython.Py_ssize_t, ln=cython.Py_ssize_t, head=cython.Py_ssize_t,
               k=cython.Py_ssize_t, flen=cython.Py_ssize_t, start=cython.Py_ssize_t,
               match=cython.bint)
def _lp_locate(data: bytes, index: cython.Py_ssize_t, field) -> tuple:
    """One walk of the strings of the packed form, or None when not found.

    With `field` None: (entry start, payload start, entry end) of string `index`.
    Else `field` among the even strings (a hash's fields): (its entry start, the
    value's entry start, the value's end).
    """
    i = 0
    n = len(data)
    flen = -1 if field is None else len(field)
    k = 0                   # strings read: for a hash, even ones are fields, odd ones values
    start = 0
    match = False
    while i < n:
        head = i
        ln = _lp_len(data, i)
        i += 1 if ln < 255 else 5
        if flen < 0:
            if k == index:
                return head, i, i + ln
        elif k & 1:
            if match:
                return start, head, i + ln
        else:
            start = head
            match = ln == flen and data.startswith(field, i)
        i += ln
        k += 1
    return None


@cython.locals(data=bytes, i=cython.Py_ssize_t, n=cython.Py_ssize_t, ln=cython.Py_ssize_t,
               count=cython.Py_ssize_t)
def _lp_count(data: bytes) -> int:
    """The number of strings of the packed form."""
    count = 0
    i = 0
    n = len(data)
    while i < n:
        ln = _lp_len(data, i)
        i += (1 if ln < 255 else 5) + ln
        count += 1
    return count


def _value_at(data: bytes, vstart: int, vend: int) -> bytes:
    if data[vstart] == 255:
        return data[vstart + 5:vend]
    return data[vstart + 1:vend]


class HashTable(dict):
    """The fields of a hash converted to the hashtable encoding, and what only such
    hashes carry: the random-pick pool, HSCAN snapshots, the sampled element size."""

    __slots__ = ("pool", "scans", "unit")

    def __init__(self, *args):
        super().__init__(*args)
        self.pool = None        # RandomPool once HRANDFIELD ran
        self.scans = None       # HSCAN snapshots (see types/scan.py)
        self.unit = 0           # memory accounting (engine/memory.py)


class _Packed:
    """What Hash, List and Set share: ``data`` is the packed bytes form (one string
    per element) until the collection outgrows it, then a Python container."""

    __slots__ = ()

    def __len__(self) -> int:
        data = self.data
        if type(data) is bytes:
            return _lp_count(data)
        return len(data)

    def __bool__(self) -> bool:
        return len(self.data) != 0


class Hash(_Packed):
    """A Redis hash: field -> value, both bytes, in insertion order (as a listpack).

    ``data`` is the packed bytes (listpack encoding) or, once converted, a
    HashTable (hashtable encoding). The mapping methods below work on either, so callers
    treat a Hash as a dict; the hot handlers read ``data`` directly when it is a
    dict. Writes that may grow a packed hash past its limits go through
    ``set_small`` / ``set_pairs`` / ``check_encoding`` with the config values,
    which convert it.
    """

    # Two slots: what only converted hashes need lives on their HashTable.
    __slots__ = ("data", "mem")
    type_name = "hash"

    def __init__(self, items=None):
        self.mem = 0            # memory accounting (engine/memory.py)
        self.data = b""         # packed; a HashTable once converted (one way)
        if items:
            self.data = _lp_pack(dict(items).items())

    @classmethod
    def from_dict(cls, d: dict, big: bool) -> "Hash":
        """A hash holding `d` (adopted when `big`, else packed)."""
        h = cls()
        h.data = HashTable(d) if big else _lp_pack(d.items())
        return h

    # -- encoding ---------------------------------------------------------------------------

    @property
    def big(self) -> bool:
        return self.data.__class__ is not bytes

    @big.setter
    def big(self, value: bool) -> None:
        if value and self.data.__class__ is bytes:
            self.convert()

    def convert(self) -> None:
        """To the hashtable encoding (one way)."""
        data = self.data
        if data.__class__ is bytes:
            strings = _lp_strings(data)
            self.data = HashTable(zip(strings[::2], strings[1::2]))

    def encoding(self, config) -> str:
        return "hashtable" if self.data.__class__ is not bytes else "listpack"

    def check_encoding(self, values: dict, *args: bytes) -> None:
        """Convert to hashtable if a stored field/value or the size crosses the limits."""
        data = self.data
        if data.__class__ is not bytes:
            return
        limit = values["hash-max-listpack-value"]
        for a in args:
            if len(a) > limit:
                self.convert()
                return
        if len(self) > values["hash-max-listpack-entries"]:
            self.convert()

    # -- writes ---------------------------------------------------------------------------------

    def set_small(self, field: bytes, value: bytes, values: dict) -> bool:
        """Store one field, converting past the limits; True if it is new."""
        if self.data.__class__ is bytes:
            limit = values["hash-max-listpack-value"]
            if len(field) > limit or len(value) > limit:
                self.convert()
        new = self.set_field(field, value)
        if new and self.data.__class__ is bytes and len(self) > values["hash-max-listpack-entries"]:
            self.convert()
        return new

    def set_pairs(self, args, start: int, values: dict) -> int:
        """HSET's pairs args[start:], converting past the limits; the number of new fields."""
        data = self.data
        n = len(args)
        if data.__class__ is bytes:
            d = self.as_dict()
            before = len(d)
            for i in range(start, n, 2):
                d[args[i]] = args[i + 1]
            self.data = _lp_pack(d.items())
            self.check_encoding(values, *args[start:])
            return len(d) - before
        before = len(data)
        pool = data.pool
        for i in range(start, n, 2):
            if pool is not None and args[i] not in data:
                pool.added(args[i])
            data[args[i]] = args[i + 1]
        return len(data) - before

    def set_field(self, field: bytes, value: bytes) -> bool:
        """Store one field without a limit check (the caller runs check_encoding); True if new."""
        data = self.data
        if data.__class__ is not bytes:
            before = len(data)
            data[field] = value
            new = len(data) != before
            if new and data.pool is not None:
                data.pool.added(field)
            return new
        found = _lp_locate(data, -1, field)
        if found is not None:
            self.data = data[:found[1]] + _lp_entry(value) + data[found[2]:]
            return False
        self.data = data + _lp_entry(field) + _lp_entry(value)
        return True

    def del_field(self, field: bytes) -> bool:
        data = self.data
        if data.__class__ is not bytes:
            if data.pop(field, None) is None:
                return False
            if data.pool is not None:
                data.pool.removed(field)
            return True
        found = _lp_locate(data, -1, field)
        if found is None:
            return False
        self.data = data[:found[0]] + data[found[2]:]
        return True

    def __setitem__(self, field: bytes, value: bytes) -> None:
        self.set_field(field, value)

    def __delitem__(self, field: bytes) -> None:
        if not self.del_field(field):
            raise KeyError(field)

    def pop(self, field: bytes, *default):
        value = self.get(field)
        if value is None:
            if default:
                return default[0]
            raise KeyError(field)
        self.del_field(field)
        return value

    def clear(self) -> None:
        self.data = HashTable() if self.data.__class__ is not bytes else b""

    # -- reads ----------------------------------------------------------------------------------

    def get(self, field: bytes, default=None):
        data = self.data
        if data.__class__ is not bytes:
            return data.get(field, default)
        found = _lp_locate(data, -1, field)
        if found is None:
            return default
        return _value_at(data, found[1], found[2])

    def __getitem__(self, field: bytes) -> bytes:
        value = self.get(field)
        if value is None:
            raise KeyError(field)
        return value

    def __contains__(self, field) -> bool:
        data = self.data
        if data.__class__ is not bytes:
            return field in data
        return _lp_locate(data, -1, field) is not None

    def __len__(self) -> int:
        data = self.data
        if data.__class__ is not bytes:
            return len(data)
        return _lp_count(data) >> 1

    def as_dict(self) -> dict:
        """A new dict of the fields and values, in order."""
        data = self.data
        if data.__class__ is not bytes:
            return dict(data)
        strings = _lp_strings(data)
        return dict(zip(strings[::2], strings[1::2]))

    def keys(self):
        data = self.data
        if data.__class__ is not bytes:
            return data.keys()
        return _lp_strings(data)[::2]

    def values(self):
        data = self.data
        if data.__class__ is not bytes:
            return data.values()
        return _lp_strings(data)[1::2]

    def items(self):
        data = self.data
        if data.__class__ is not bytes:
            return data.items()
        strings = _lp_strings(data)
        return list(zip(strings[::2], strings[1::2]))

    def __iter__(self):
        return iter(self.keys())

    def __reversed__(self):
        return reversed(list(self.keys()))

    def __eq__(self, other) -> bool:
        if isinstance(other, Hash):
            other = other.as_dict()
        return isinstance(other, dict) and self.as_dict() == other

    __hash__ = None

    def __repr__(self) -> str:
        return f"Hash({self.as_dict()!r})"

    def copy(self) -> "Hash":
        new = Hash()
        data = self.data
        new.data = HashTable(data) if data.__class__ is not bytes else data
        return new

    def random_field(self):
        data = self.data
        if data.__class__ is not bytes:
            return _pool(data).pick()
        return random.choice(_lp_strings(data)[::2])

    def random_fields(self, count: int) -> list:
        """`count` distinct fields at random (count < len(self))."""
        data = self.data
        if data.__class__ is not bytes:
            return random_distinct(data, count)
        return random.sample(_lp_strings(data)[::2], count)


# -- the list encodings ---------------------------------------------------------------------
#
# A small list is one bytes object in the packed form above (its elements in order,
# each preceded by its length), as Redis keeps a quicklist whose single node is a
# listpack. Five short elements then cost ~60 bytes where a deque costs ~800 (its
# first block alone is 64 pointers). Pushes at either end concatenate, pops slice;
# a pop at the tail and an index walk the entries, bounded by LIST_PACKED_ENTRIES.
# Past either bound the list becomes a ``QuickList`` of such nodes; a write that
# empties or rebuilds a list (clear) starts packed again. The encoding is invisible to
# clients: Redis 7.0 reports ``quicklist`` for every list (OBJECT ENCODING).

LIST_PACKED_ENTRIES = 128   # at most this many elements packed (bounds every walk)
LIST_PACKED_BYTES = 8192    # and at most this many bytes (Redis's default 8 KB node)
QUICKLIST_NODE = 64         # a sealed node's (count, bytes) tuple, for the accounting
_NODE_ENTRIES = LIST_PACKED_ENTRIES     # C constants when compiled (collections.pxd)
_NODE_BYTES = LIST_PACKED_BYTES
QUICKLIST_OPEN = 80         # an element of an open node: bytes object and pointer (estimate)


_NODE_OVERHEAD = QUICKLIST_NODE


@cython.cfunc
@cython.locals(size=cython.Py_ssize_t, count=cython.Py_ssize_t, n=cython.Py_ssize_t, parts=list,
               out=list, items=list, start=cython.Py_ssize_t, i=cython.Py_ssize_t,
               end=cython.Py_ssize_t)
def _seal(values) -> list:
    """`values` cut into sealed nodes: (count, packed bytes), each within the bounds
    (a single element longer than LIST_PACKED_BYTES has a node of its own)."""
    out = []
    if cython.compiled:
        # The same cuts, each node's bytes written by _packed with one allocation
        # (no parts list, no join); elements that are not bytes take the loop below.
        items = values if type(values) is list else list(values)
        values = items
        start = size = count = 0
        end = len(items)
        for i in range(end):
            v = items[i]
            if type(v) is not bytes:
                break
            n = len(v)
            if count and (count >= _NODE_ENTRIES or size + n + 5 > _NODE_BYTES):
                out.append((count, _packed(items, start, i, size)))
                start = i
                size = count = 0
            size += n + (1 if n < 255 else 5)
            count += 1
        else:
            if count:
                out.append((count, _packed(items, start, end, size)))
            return out
        out = []
    parts = []              # length prefix, element, length prefix, element ...
    size = count = 0
    for v in values:
        n = len(v)
        if count and (count >= _NODE_ENTRIES or size + n + 5 > _NODE_BYTES):
            out.append((count, b"".join(parts)))
            parts = []
            size = count = 0
        if n < 255:
            parts.append(_LEN1[n])
            size += n + 1
        else:
            parts.append(b"\xff" + n.to_bytes(4, "big"))
            size += n + 5
        parts.append(v)
        count += 1
    if count:
        out.append((count, b"".join(parts)))
    return out


@cython.cfunc
@cython.locals(items=list, start=cython.Py_ssize_t, end=cython.Py_ssize_t, size=cython.Py_ssize_t,
               i=cython.Py_ssize_t, n=cython.Py_ssize_t, v=bytes, out=bytes, dst=cython.p_char)
def _packed(items: list, start: cython.Py_ssize_t, end: cython.Py_ssize_t,
            size: cython.Py_ssize_t) -> bytes:
    """Compiled only: the packed form of the bytes items[start:end], `size` bytes long
    (what _seal counted), written into one new bytes object."""
    out = PyBytes_FromStringAndSize(cython.NULL, size)  # noqa: F821 (collections.pxd)
    dst = PyBytes_AS_STRING(out)  # noqa: F821
    for i in range(start, end):
        v = items[i]
        n = len(v)
        if n < 255:
            dst[0] = n
            dst += 1
        else:
            dst[0] = 255
            dst[1] = (n >> 24) & 255
            dst[2] = (n >> 16) & 255
            dst[3] = (n >> 8) & 255
            dst[4] = n & 255
            dst += 5
        memcpy(dst, PyBytes_AS_STRING(v), n)  # noqa: F821
        dst += n
    return out


def _insert_first(node: list, value) -> None:
    """node.insert(0, value); compiled, with one memmove of the node's pointers (CPython's
    insert moves them one at a time, ~2.7 instructions each: LPUSH's open head node)."""
    if cython.compiled:
        node.append(value)              # grows the list by one, `value` in the last slot
        items = PySequence_Fast_ITEMS(node)  # noqa: F821 (collections.pxd)
        memmove(items + 1, items, (len(node) - 1) * cython.sizeof(cython.p_void))  # noqa: F821
        items[0] = cython.cast(cython.pointer(PyObject), value)  # noqa: F821
    else:
        node.insert(0, value)


@cython.cfunc
@cython.inline
def _node_bytes(node: tuple) -> cython.Py_ssize_t:
    return _NODE_OVERHEAD + ((len(node[1]) + 48) & -16)


class QuickList:
    """A large list: a deque of nodes, as Redis's quicklist of listpacks.

    A node is sealed, a (count, packed bytes) tuple within the packed bounds, or open,
    a Python list of the elements. Pushes and pops work on open nodes at the ends: a
    push opens a new node when the end one is sealed or full (and seals the full one),
    a pop opens a sealed end node (one O(node) step per node, so O(1) amortized).
    Edits inside (LSET, LINSERT) reseal the node they touch. Nearly all elements then
    live packed, ~10 bytes of overhead each, where a deque of bytes objects costs ~56.
    ``size`` is the element count; ``sealed`` and ``packed`` (elements and bytes of
    the sealed nodes) keep the memory accounting exact without a walk.
    """

    __slots__ = ("nodes", "size", "sealed", "packed", "unit")

    def __init__(self, values=()):
        self.nodes = deque()
        self.size = 0
        self.sealed = 0
        self.packed = 0
        self.unit = 0           # memory accounting (engine/memory.py)
        if values:
            for node in _seal(values):
                self._add_sealed(node)
                self.nodes.append(node)
            self.size = self.sealed

    def _add_sealed(self, node: tuple):
        self.sealed += node[0]
        self.packed += _node_bytes(node)

    def _open(self, k: cython.Py_ssize_t) -> list:
        """Node k as an open node."""
        node = self.nodes[k]
        if type(node) is list:
            return node
        self.sealed -= node[0]
        self.packed -= _node_bytes(node)
        values = _lp_strings(node[1])
        self.nodes[k] = values
        return values

    def _reseal(self, k: cython.Py_ssize_t):
        """Replace node k (open) by sealed nodes."""
        nodes = self.nodes
        chunks = _seal(nodes[k])
        for node in chunks:
            self._add_sealed(node)
        if len(chunks) == 1:
            nodes[k] = chunks[0]        # the usual case (a full end node): no rotation
            return
        nodes.rotate(-k)
        nodes.popleft()
        nodes.extendleft(reversed(chunks))
        nodes.rotate(k)

    def memory(self) -> int:
        """The bytes counted for this list (engine/memory.py), without a walk."""
        return getsizeof(self) + getsizeof(self.nodes) + self.packed + \
            (self.size - self.sealed) * QUICKLIST_OPEN

    def copy(self) -> "QuickList":
        new = QuickList()
        new.nodes = deque([list(n) if type(n) is list else n for n in self.nodes])
        new.size = self.size
        new.sealed = self.sealed
        new.packed = self.packed
        return new

    # -- ends -------------------------------------------------------------------------------

    # Compiled (collections.pxd): C methods the list handlers call directly, the open
    # node a typed list (C list calls), the counters and the node bound C integers.
    def push(self, value, left) -> int:
        """Push at the head (`left`) or the tail; the new length (LPUSH/RPUSH's reply)."""
        nodes = self.nodes
        n = self.size + 1
        self.size = n
        if nodes:
            node = nodes[0] if left else nodes[-1]
            if type(node) is list:
                open_node = node
                if len(open_node) < _NODE_ENTRIES:
                    if left:
                        _insert_first(open_node, value)
                    else:
                        open_node.append(value)
                    return n
                self._reseal(0 if left else len(nodes) - 1)
        if left:
            nodes.appendleft([value])
        else:
            nodes.append([value])
        return n

    def take(self, left):
        """Remove and return the element at the head (`left`) or the tail."""
        nodes = self.nodes
        if not nodes:
            raise IndexError("pop from an empty list")
        k = 0 if left else len(nodes) - 1
        raw = nodes[k]
        node = raw if type(raw) is list else self._open(k)
        value = node.pop(0 if left else -1)
        if not node:
            if left:
                nodes.popleft()
            else:
                nodes.pop()
        self.size -= 1
        return value

    def append(self, value) -> int:
        return self.push(value, False)

    def appendleft(self, value) -> int:
        return self.push(value, True)

    def extend(self, values) -> None:
        for v in values:
            self.push(v, False)

    def extendleft(self, values) -> None:
        for v in values:
            self.push(v, True)

    def pop(self):
        return self.take(False)

    def popleft(self):
        return self.take(True)

    # -- by position ------------------------------------------------------------------------

    def _locate(self, index: int) -> tuple:
        """(node number, position in the node) of element `index` (0 <= index < size),
        walking the node counts from the nearer end."""
        nodes = self.nodes
        if index < self.size >> 1:
            k = 0
            for node in nodes:
                c = len(node) if type(node) is list else node[0]
                if index < c:
                    return k, index
                index -= c
                k += 1
        else:
            index = self.size - 1 - index
            k = len(nodes) - 1
            for node in reversed(nodes):
                c = len(node) if type(node) is list else node[0]
                if index < c:
                    return k, c - 1 - index
                index -= c
                k -= 1
        raise IndexError("list index out of range")

    def _index(self, index: int) -> int:
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError("list index out of range")
        return index

    def __getitem__(self, index: int):
        k, j = self._locate(self._index(index))
        node = self.nodes[k]
        if type(node) is list:
            return node[j]
        data = node[1]
        found = _lp_locate(data, j, None)
        return data[found[1]:found[2]]

    def __setitem__(self, index: int, value) -> None:
        k, j = self._locate(self._index(index))
        node = self.nodes[k]
        if type(node) is list:
            node[j] = value
            return
        self._open(k)[j] = value
        self._reseal(k)

    def insert(self, index: int, value) -> None:
        """Insert before position `index` (0 <= index <= size)."""
        if index >= self.size:
            self.append(value)
            return
        if index <= 0:
            self.appendleft(value)
            return
        k, j = self._locate(index)
        sealed = type(self.nodes[k]) is not list
        values = self._open(k)
        values.insert(j, value)
        self.size += 1
        if sealed or len(values) > LIST_PACKED_ENTRIES:
            self._reseal(k)

    def index(self, value) -> int:
        for i, v in enumerate(self):
            if v == value:
                return i
        raise ValueError("not in list")

    def slice(self, start: int, stop: int) -> list:
        """Elements start..stop inclusive (0 <= start <= stop < size)."""
        want = stop - start + 1
        k, j = self._locate(start)
        out = []
        for node in islice(self.nodes, k, None):
            values = node if type(node) is list else _lp_strings(node[1])
            out.extend(values[j:j + want - len(out)])
            j = 0
            if len(out) >= want:
                break
        return out

    # -- whole ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size != 0

    def __iter__(self):
        for node in self.nodes:
            if type(node) is list:
                yield from list(node)
            else:
                yield from _lp_strings(node[1])

    def __reversed__(self):
        for node in reversed(self.nodes):
            if type(node) is list:
                yield from reversed(list(node))
            else:
                yield from reversed(_lp_strings(node[1]))


class List(_Packed):
    """A Redis list: ``data`` is the packed bytes or a QuickList (O(1) at both ends).

    The methods are deque's, on either form, so callers treat a List as a deque; the
    hot handlers call the deque directly when ``data`` is one. Two slots only, as Hash.
    """

    __slots__ = ("data", "mem")
    type_name = "list"

    def __init__(self, items=()):
        self.mem = 0            # memory accounting (engine/memory.py)
        self.data = b""
        if items:
            self.extend(items)

    def encoding(self, config) -> str:
        return "quicklist"   # Redis 7.0 has no plain listpack lists (that is 7.2)

    @property
    def packed(self) -> bool:
        return type(self.data) is bytes

    def _fit(self, data: bytes) -> None:
        """Keep `data` packed if within the bounds, else move to a deque."""
        if len(data) > LIST_PACKED_BYTES or \
                (len(data) > LIST_PACKED_ENTRIES and _lp_count(data) > LIST_PACKED_ENTRIES):
            self.data = QuickList(_lp_strings(data))
        else:
            self.data = data

    def copy(self) -> "List":
        new = List()
        data = self.data
        new.data = data if type(data) is bytes else data.copy()
        return new

    # -- writes -----------------------------------------------------------------------------

    def append(self, value: bytes) -> None:
        data = self.data
        if type(data) is bytes:
            self._fit(data + _lp_entry(value))
        else:
            data.append(value)

    def appendleft(self, value: bytes) -> None:
        data = self.data
        if type(data) is bytes:
            self._fit(_lp_entry(value) + data)
        else:
            data.appendleft(value)

    def extend(self, values) -> None:
        data = self.data
        if type(data) is bytes:
            self._fit(data + b"".join([_lp_entry(v) for v in values]))
        else:
            data.extend(values)

    def extendleft(self, values) -> None:
        data = self.data
        if type(data) is bytes:
            entries = [_lp_entry(v) for v in values]
            entries.reverse()
            entries.append(data)
            self._fit(b"".join(entries))
        else:
            data.extendleft(values)

    def pop(self) -> bytes:
        data = self.data
        if type(data) is not bytes:
            return data.pop()
        if not data:
            raise IndexError("pop from an empty list")
        found = _lp_locate(data, _lp_count(data) - 1, None)
        self.data = data[:found[0]]
        return data[found[1]:]

    def popleft(self) -> bytes:
        data = self.data
        if type(data) is not bytes:
            return data.popleft()
        if not data:
            raise IndexError("pop from an empty list")
        ln = _lp_len(data, 0)
        start = 1 if ln < 255 else 5
        value = data[start:start + ln]
        self.data = data[start + ln:]
        return value

    def clear(self) -> None:
        self.data = b""

    def _index(self, index: int) -> int:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("list index out of range")
        return index

    def __setitem__(self, index: int, value: bytes) -> None:
        data = self.data
        if type(data) is not bytes:
            data[index] = value
            return
        found = _lp_locate(data, self._index(index), None)
        self._fit(data[:found[0]] + _lp_entry(value) + data[found[2]:])

    def insert(self, index: int, value: bytes) -> None:
        """Insert before position `index` (0 <= index <= len)."""
        data = self.data
        if type(data) is not bytes:
            data.insert(index, value)
            return
        found = _lp_locate(data, index, None)
        at = len(data) if found is None else found[0]
        self._fit(data[:at] + _lp_entry(value) + data[at:])

    # -- reads ------------------------------------------------------------------------------

    def __getitem__(self, index: int) -> bytes:
        data = self.data
        if type(data) is not bytes:
            return data[index]
        found = _lp_locate(data, self._index(index), None)
        return data[found[1]:found[2]]

    def index(self, value: bytes) -> int:
        data = self.data
        if type(data) is not bytes:
            return data.index(value)
        return _lp_strings(data).index(value)

    def __iter__(self):
        data = self.data
        if type(data) is bytes:
            return iter(_lp_strings(data))
        return iter(data)

    def __reversed__(self):
        data = self.data
        if type(data) is bytes:
            return reversed(_lp_strings(data))
        return reversed(data)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    __hash__ = None

    def __repr__(self) -> str:
        return f"List({list(self)!r})"

    def slice(self, start: int, stop: int) -> list:
        """Elements start..stop inclusive (already clamped, 0 <= start <= stop < len)."""
        data = self.data
        if type(data) is bytes:
            return _lp_strings(data)[start:stop + 1]
        return data.slice(start, stop)


# -- the compact set encoding -----------------------------------------------------------------
#
# A small set is one bytes object in the packed form above, its members in insertion
# order: five short members then cost ~70 bytes where a CPython set costs ~500 (its
# table alone is 16 or 32 slots). Membership walks the entries (a C loop when compiled,
# bounded by SET_PACKED_ENTRIES); an add concatenates, a removal slices. Past either
# bound the set moves, one way, to a ``SetTable`` -- unless it is still an intset for
# Redis (every member a canonical 64-bit integer, at most set-max-intset-entries), which
# moves instead to the integer form below. The packed form is Vermilion's own: Redis 7.0
# keeps small sets as an intset or a hashtable, and OBJECT ENCODING reports that
# (``big``), whichever form holds the members.

SET_PACKED_ENTRIES = 128    # at most this many members packed (bounds every walk)
SET_PACKED_VALUE = 64       # and none longer than this

# -- the integer set form ---------------------------------------------------------------------
#
# Past SET_PACKED_ENTRIES an intset-encoded set is what Redis's intset is: its values
# sorted ascending in an ``array.array`` of the narrowest of 16, 32 or 64-bit items that
# holds them all, widened (never narrowed) when a value needs it. 512 members of up to
# four digits cost ~1 KB where a SetTable costs ~40 KB. Membership, adds and removals
# are a binary search (a C loop when compiled) and a C memmove; iteration yields the members
# ascending, Redis's intset order. The set leaves this form, one way, for a SetTable
# when ``big`` is set (a non-integer member, or more than set-max-intset-entries).

_INT_CODES = [(code, 1 << (8 * array(code).itemsize - 1)) for code in ("h", "i", "q")]


def _int_code(lo: int, hi: int) -> str:
    """The narrowest item type holding every value of [lo, hi]."""
    for code, bound in _INT_CODES:
        if -bound <= lo and hi < bound:
            return code
    return "q"


def _int_array(members: list):
    """The integer form of distinct members; None when one is not a canonical integer."""
    ints = []
    for m in members:
        v = _int64_of(m)
        if v is None:
            return None
        ints.append(v)
    ints.sort()
    return array(_int_code(ints[0], ints[-1]) if ints else "h", ints)


@cython.cfunc
@cython.locals(s=bytes, n=cython.Py_ssize_t, i=cython.Py_ssize_t, c=cython.longlong,
               v=cython.ulonglong, limit=cython.ulonglong, neg=cython.bint)
def _int64_of(member):
    """The value of `member` when it is the canonical decimal form of a signed 64-bit
    integer (Redis's string2ll), else None. Compiled: one C pass, no object until the
    value."""
    s = member if type(member) is bytes else bytes(member)
    n = len(s)
    if n == 0 or n > 20:
        return None
    neg = s[0] == 45                        # '-'
    i = 1 if neg else 0
    if i == n or (s[i] == 48 and n > 1):    # "-", "-0", "01"
        return None
    limit = 9223372036854775808 if neg else 9223372036854775807
    v = 0
    while i < n:
        c = s[i] - 48
        if c < 0 or c > 9 or v > (limit - c) // 10:
            return None
        v = v * 10 + c
        i += 1
    if neg:
        return -cython.cast(cython.longlong, v - 1) - 1     # -2**63 without overflow
    return v


@cython.cfunc
@cython.locals(v=cython.longlong, lo=cython.Py_ssize_t, hi=cython.Py_ssize_t,
               mid=cython.Py_ssize_t, x=cython.longlong)
def _int_search(data, v):
    """Binary search of the integer form: the index of `v`, else -1 - where it goes."""
    lo = 0
    hi = len(data)
    while lo < hi:
        mid = (lo + hi) >> 1
        x = data[mid]
        if x < v:
            lo = mid + 1
        elif x > v:
            hi = mid
        else:
            return mid
    return -1 - lo


@cython.cfunc
def _int_index(data, member):
    """The index of `member` in the integer form, or -1 (also for a non-integer)."""
    v = _int64_of(member)
    if v is None:
        return -1
    at = _int_search(data, v)
    return at if at >= 0 else -1


@cython.locals(data=bytes, i=cython.Py_ssize_t, n=cython.Py_ssize_t, ln=cython.Py_ssize_t,
               mlen=cython.Py_ssize_t, head=cython.Py_ssize_t)
def _lp_find(data: bytes, member) -> cython.Py_ssize_t:
    """The entry start of `member` among the strings of the packed form, or -1."""
    i = 0
    n = len(data)
    mlen = len(member)
    while i < n:
        head = i
        ln = _lp_len(data, i)
        i += 1 if ln < 255 else 5
        if ln == mlen and data.startswith(member, i):
            return head
        i += ln
    return -1


# How a SetTable keeps its table small. CPython keeps a set's table at most 60% full and,
# when it fills up to that, grows it fourfold (twofold past 50,000 members), so a set of a
# few thousand members grown one SADD at a time can sit in a table 6.7 times its size: 107
# bytes of table per member where Redis's dict holds 8 to 16 (docs/memory.md). Past the
# packed bounds and up to TABLE_FIT_MAX members, an add that would take a SetTable to the
# length where CPython grows it (``refit_at``) rebuilds it first into the smallest table
# that holds the members and the new ones under 60% (1.7 to 3.3 slots per member, what
# CPython's own twofold growth keeps past 50,000). The rebuilds double in size, so their
# cost is O(1) per member added, and they replace CPython's own growth rather than
# follow it. The sizes below are CPython's growth rule as its setobject.c documents it;
# on an interpreter that grows differently only the memory figures change.
TABLE_FIT_MAX = 50_000
_NO_REFIT = 2**62


def _fit_slots(n: int) -> int:
    """The smallest table (a power of two) CPython keeps `n` members in without growing."""
    slots = 8
    while n * 5 >= (slots - 1) * 3:
        slots <<= 1
    return slots


class SetTable(set):
    """The members of a set past the packed bounds, and what only such sets carry:
    the random-pick pool, SSCAN snapshots, the sampled element size, and the length at
    which the table is refitted (see above)."""

    __slots__ = ("pool", "scans", "unit", "refit_at")

    def __init__(self, members=()):
        super().__init__()
        self.pool = None        # RandomPool once SRANDMEMBER/SPOP ran
        self.scans = None       # SSCAN snapshots (see types/scan.py)
        self.unit = 0           # memory accounting (engine/memory.py)
        self.refit_at = 0
        self.fill(members if isinstance(members, (set, frozenset)) else set(members), 0)

    def fill(self, members, room: int) -> None:
        """Hold exactly `members` (a set, not this table) in the smallest table that
        holds them and `room` more. Iteration order may change (SSCAN reads a snapshot,
        see types/scan.py)."""
        n = len(members)
        self.clear()
        if n + room > TABLE_FIT_MAX:
            self.update(members)
            self.refit_at = _NO_REFIT
            return
        slots = _fit_slots(n + room)
        if slots < 32 or 4 * n < slots:
            # Too few members to size the table (a bulk add much larger than the set):
            # CPython sizes it; the caller refits once the members are in.
            self.update(members)
            self.refit_at = 0 if room else (3 * (slots - 1) + 4) // 5
            return
        if 2 * n < slots:
            # Merging a set into an empty one sizes the table for twice its length.
            self.update(members)
        else:
            ordered = list(members)
            k = slots >> 2
            self.update(set(ordered[:k]))   # a table for twice slots/4: `slots`
            self.update(ordered[k:])        # the rest fits below the fill limit
        self.refit_at = (3 * (slots - 1) + 4) // 5      # where CPython would grow it

    def add_refitting(self, members) -> int:
        """Add `members` (a sequence) around refits (see above); the number that were new."""
        before = len(self)
        pool = self.pool
        if before + len(members) >= self.refit_at:
            self.fill(set(self), len(members))
        if pool is None:
            self.update(members)
        else:
            for m in members:
                if m not in self:
                    self.add(m)
                    pool.added(m)
        if len(self) >= self.refit_at:
            self.fill(set(self), 0)
        return len(self) - before

class Set(_Packed):
    """A Redis set of bytes members: ``data`` is the packed bytes, the integer form (an
    array, while an intset for Redis) or a SetTable.

    ``big`` is the encoding Redis would report: False for intset (canonical 64-bit
    integers, at most set-max-intset-entries), True once converted to hashtable (one
    way); the commands keep it through ``check_encoding``.
    """

    __slots__ = ("data", "big", "mem")
    type_name = "set"

    def __init__(self, members=()):
        self.mem = 0            # memory accounting (engine/memory.py)
        self.big = False
        self.data = b""         # packed; a SetTable once past the bounds (one way)
        if members:
            self.add_members(members)

    def encoding(self, config) -> str:
        return "hashtable" if self.big else "intset"

    @property
    def packed(self) -> bool:
        return type(self.data) is bytes

    def copy(self) -> "Set":
        new = Set()
        data = self.data
        if type(data) is bytes:
            new.data = data
        elif type(data) is array:
            new.data = data[:]
        else:
            new.data = SetTable(data)
        new.big = self.big
        return new

    def check_encoding(self, values: dict, members) -> None:
        """Intset holds only canonical 64-bit integers, at most set-max-intset-entries."""
        if len(self) > values["set-max-intset-entries"]:
            self.make_big()
            return
        for m in members:
            if not is_int64(m):
                self.make_big()
                return

    def make_big(self) -> None:
        """The set is a hashtable for Redis from now on: it leaves the integer form."""
        self.big = True
        if type(self.data) is array:
            self.table()

    def table(self) -> SetTable:
        """The members as a SetTable, converting a packed or integer set (one way)."""
        data = self.data
        if type(data) is bytes:
            data = self.data = SetTable(_lp_strings(data))
        elif type(data) is array:
            data = self.data = SetTable([b"%d" % v for v in data])
        return data

    # -- writes -----------------------------------------------------------------------------

    def add_members(self, members) -> int:
        """Add `members` (a sequence); the number that were new."""
        data = self.data
        if type(data) is bytes:
            if len(members) <= SET_PACKED_ENTRIES:
                fresh = []
                for m in members:
                    if len(m) > SET_PACKED_VALUE:
                        break
                    if _lp_find(data, m) < 0 and m not in fresh:
                        fresh.append(m)
                else:
                    if not fresh:
                        return 0
                    if len(fresh) == 1:
                        packed = data + _lp_entry(fresh[0])
                    else:
                        packed = data + b"".join([_lp_entry(m) for m in fresh])
                    if len(fresh) + _lp_count(data) <= SET_PACKED_ENTRIES:
                        self.data = packed
                        return len(fresh)
            if not self.big:
                # ``big`` is False: every member so far is an integer when the commands
                # keep ``big`` (check_encoding); the integer form, if the new ones are
                # too (else _add_ints moves to a table). A Set used directly, without
                # check_encoding, may hold others: then it is a hashtable.
                ints = _int_array(_lp_strings(data))
                if ints is not None:
                    self.data = ints
                    return self._add_ints(ints, members)
                self.big = True
            data = self.table()
        elif not isinstance(data, set):         # the integer form
            return self._add_ints(data, members)
        return data.add_refitting(members)

    def _add_ints(self, data: array, members) -> int:
        """add_members on the integer form: a SetTable instead at the first non-integer."""
        values = []
        for m in members:
            v = _int64_of(m)
            if v is None:
                return self.table().add_refitting(members)
            values.append(v)
        if len(values) > 8:
            # A bulk add (an RDB load, a large SADD): one merge, not a memmove per value.
            merged = sorted(set(data).union(values))
            self.data = array(_int_code(merged[0], merged[-1]), merged)
            return len(merged) - len(data)
        added = 0
        for v in values:
            at = _int_search(data, v)
            if at >= 0:
                continue
            code = data.typecode
            if code != "q" and _int_code(v, v) > code:     # "h" < "i" < "q"
                data = self.data = array(_int_code(v, v), data)
            data.insert(-1 - at, v)
            added += 1
        return added

    def add_member(self, member: bytes) -> bool:
        return self.add_members((member,)) == 1

    def remove_member(self, member: bytes) -> bool:
        data = self.data
        if type(data) is bytes:
            at = _lp_find(data, member)
            if at < 0:
                return False
            self.data = data[:at] + data[at + 1 + (4 if data[at] == 255 else 0) + len(member):]
            return True
        if not isinstance(data, set):           # the integer form
            at = _int_index(data, member)
            if at < 0:
                return False
            del data[at]
            return True
        if member not in data:
            return False
        data.discard(member)
        if data.pool is not None:
            data.pool.removed(member)
        return True

    # -- reads ------------------------------------------------------------------------------

    def __contains__(self, member) -> bool:
        data = self.data
        if type(data) is bytes:
            return _lp_find(data, member) >= 0
        if isinstance(data, set):
            return member in data
        return _int_index(data, member) >= 0

    def __iter__(self):
        data = self.data
        if type(data) is bytes:
            return iter(_lp_strings(data))
        if type(data) is array:
            return iter([b"%d" % v for v in data])
        return iter(data)

    def __eq__(self, other) -> bool:
        if isinstance(other, Set):
            other = set(other)
        return isinstance(other, (set, frozenset)) and set(self) == other

    __hash__ = None

    def __repr__(self) -> str:
        return f"Set({set(self)!r})"

    def random_member(self):
        data = self.data
        if type(data) is bytes:
            n = _lp_count(data)
            at = _lp_locate(data, random.randrange(n), None)
            return data[at[1]:at[2]]
        if type(data) is array:
            return b"%d" % data[random.randrange(len(data))]
        return _pool(data).pick()

    def random_members(self, count: int) -> list:
        """`count` distinct members at random (count < len(self))."""
        data = self.data
        if type(data) is bytes:
            return random.sample(_lp_strings(data), count)
        if type(data) is array:
            return [b"%d" % data[i] for i in random.sample(range(len(data)), count)]
        return random_distinct(data, count)

    def pop_random(self):
        data = self.data
        if type(data) is bytes:
            member = self.random_member()
            self.remove_member(member)
            return member
        if type(data) is array:
            return b"%d" % data.pop(random.randrange(len(data)))
        member = _pool(data).take()
        data.discard(member)
        return member

    def members_in_order(self) -> list:
        """Redis's order for small sets: an intset is sorted by value."""
        if type(self.data) is array:
            return list(self)
        if not self.big:
            return sorted(self, key=int)
        return list(self)


def new_set(values: dict, members) -> Set:
    """A Set built from `members` (STORE results), with Redis's encoding for them."""
    s = Set(list(members))
    s.check_encoding(values, s)
    return s
