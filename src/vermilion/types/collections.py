"""Hash, List and Set values: plain Python containers that know their Redis encoding.

Each class subclasses the builtin that does the work (``dict``, ``deque``, ``set``)
so the hot commands run at C speed, and adds only what Redis semantics need:

* ``type_name``: what TYPE reports.
* ``encoding(config)``: what OBJECT ENCODING would report for the same history.
  Redis converts a compact encoding (listpack, intset) to the general one
  (hashtable) when a size or length limit is crossed, and never converts back
  while the key lives; ``big`` records that one-way step. The commands set it
  through ``note_*`` helpers below when they add data.
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
from collections import deque
from itertools import islice
from sys import getsizeof

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

_MAX_INT64 = 2**63 - 1


def is_int64(s: bytes) -> bool:
    """Redis's string2ll acceptance: canonical decimal form of a signed 64-bit integer."""
    n = len(s)
    if n == 0 or n > 20:
        return False
    if s[0] == 45:  # '-'
        body = s[1:]
        if not body or not body.isdigit() or body[0] == 48:
            return False
        return int(body) <= _MAX_INT64 + 1
    if not s.isdigit() or (s[0] == 48 and n > 1):
        return False
    return n < 19 or int(s) <= _MAX_INT64


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


@cython.locals(data=bytes, i=cython.Py_ssize_t, n=cython.Py_ssize_t, ln=cython.Py_ssize_t)
def _lp_strings(data: bytes) -> list:
    """Every string of the packed form, in order (field, value, field, value ...)."""
    out = []
    i = 0
    n = len(data)
    while i < n:
        ln = data[i]
        if ln == 255:
            ln = int.from_bytes(data[i + 1:i + 5], "big")
            i += 5
        else:
            i += 1
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
        ln = data[i]
        if ln == 255:
            ln = int.from_bytes(data[i + 1:i + 5], "big")
            i += 5
        else:
            i += 1
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
        ln = data[i]
        if ln == 255:
            i += 5 + int.from_bytes(data[i + 1:i + 5], "big")
        else:
            i += 1 + ln
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


class Hash:
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

    def __bool__(self) -> bool:
        return len(self.data) != 0

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


# -- the compact list encoding ----------------------------------------------------------------
#
# A small list is one bytes object in the packed form above (its elements in order,
# each preceded by its length), as Redis keeps a quicklist whose single node is a
# listpack. Five short elements then cost ~60 bytes where a deque costs ~800 (its
# first block alone is 64 pointers). Pushes at either end concatenate, pops slice;
# a pop at the tail and an index walk the entries, bounded by LIST_PACKED_ENTRIES.
# Past either bound the list moves to a deque (``ListDeque``); a write that empties
# or rebuilds a list (clear) starts packed again. The encoding is invisible to
# clients: Redis 7.0 reports ``quicklist`` for every list (OBJECT ENCODING).

LIST_PACKED_ENTRIES = 128   # at most this many elements packed (bounds every walk)
LIST_PACKED_BYTES = 8192    # and at most this many bytes (Redis's default 8 KB node)


class ListDeque(deque):
    """The elements of a list past the packed bounds, and its sampled element size."""

    __slots__ = ("unit",)

    def __init__(self, *args):
        super().__init__(*args)
        self.unit = 0       # memory accounting (engine/memory.py)


class List:
    """A Redis list: ``data`` is the packed bytes or a ListDeque (O(1) at both ends).

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
            self.data = ListDeque(_lp_strings(data))
        else:
            self.data = data

    def copy(self) -> "List":
        new = List()
        data = self.data
        new.data = data if type(data) is bytes else ListDeque(data)
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
        ln = data[0]
        if ln == 255:
            end = 5 + int.from_bytes(data[1:5], "big")
            value = data[5:end]
        else:
            end = 1 + ln
            value = data[1:end]
        self.data = data[end:]
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

    def __len__(self) -> int:
        data = self.data
        if type(data) is bytes:
            return _lp_count(data)
        return len(data)

    def __bool__(self) -> bool:
        return len(self.data) != 0

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
        n = len(data)
        if start == 0 and stop == n - 1:
            return list(data)
        if start > n - 1 - stop:
            # Closer to the right end: walk from there.
            out = list(islice(reversed(data), n - 1 - stop, n - start))
            out.reverse()
            return out
        return list(islice(data, start, stop + 1))


class Set(set):
    """A Redis set of bytes members."""

    __slots__ = ("big", "pool", "scans", "mem", "unit")
    type_name = "set"

    def __init__(self, *args):
        super().__init__(*args)
        self.mem = self.unit = 0    # memory accounting (engine/memory.py)
        self.big = False        # converted from intset to hashtable (one way)
        self.pool = None
        self.scans = None

    def encoding(self, config) -> str:
        return "hashtable" if self.big else "intset"

    def copy(self) -> "Set":
        new = Set(self)
        new.big = self.big
        return new

    def check_encoding(self, values: dict, members) -> None:
        """Intset holds only canonical 64-bit integers, at most set-max-intset-entries."""
        if len(self) > values["set-max-intset-entries"]:
            self.big = True
            return
        for m in members:
            if not is_int64(m):
                self.big = True
                return

    def compact(self) -> None:
        """Rebuild a small set whose table grew past what its members need.

        CPython grows a set's table fourfold when it fills, so five members added
        one by one sit in 32 slots (512 bytes); rebuilt from a set they take 16.
        The caller calls this after adding to a small set; iteration order may change
        (SSCAN over a hashtable set reads a snapshot, see types/scan.py).
        """
        n = len(self)
        if n < len(_SET_SIZES) and getsizeof(self) > _SET_SIZES[n]:
            members = set(self)
            self.clear()
            self.update(members)

    def add_member(self, member: bytes) -> bool:
        if member in self:
            return False
        self.add(member)
        if self.pool is not None:
            self.pool.added(member)
        return True

    def remove_member(self, member: bytes) -> bool:
        if member not in self:
            return False
        self.discard(member)
        if self.pool is not None:
            self.pool.removed(member)
        return True

    def random_member(self):
        return _pool(self).pick()

    def pop_random(self):
        member = _pool(self).take()
        self.discard(member)
        return member

    def members_in_order(self) -> list:
        """Redis's order for small sets: an intset is sorted by value."""
        if not self.big:
            return sorted(self, key=int)
        return list(self)


def _compact_sizes(limit: int) -> list:
    """sys.getsizeof of a Set of n members rebuilt from a set, for n < limit."""
    sizes = []
    for n in range(limit):
        s = Set()
        s.update(set(range(n)))
        sizes.append(getsizeof(s))
    return sizes


# Sets up to this size are compacted after SADD (bigger ones keep CPython's growth).
_SET_SIZES = _compact_sizes(129)


def new_set(values: dict, members) -> Set:
    """A Set built from `members` (STORE results), with Redis's encoding for them."""
    s = Set(members)
    s.check_encoding(values, s)
    return s
