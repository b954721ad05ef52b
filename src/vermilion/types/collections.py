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


class Hash(dict):
    """A Redis hash: field -> value, both bytes, in insertion order (as a listpack)."""

    __slots__ = ("big", "pool", "scans", "mem", "unit")
    type_name = "hash"

    def __init__(self, *args):
        super().__init__(*args)
        self.mem = self.unit = 0    # memory accounting (engine/memory.py)
        self.big = False        # converted to hashtable (one way)
        self.pool = None        # RandomPool once HRANDFIELD ran
        self.scans = None       # HSCAN snapshots (see types/scan.py)

    def encoding(self, config) -> str:
        return "hashtable" if self.big else "listpack"

    def copy(self) -> "Hash":
        new = Hash(self)
        new.big = self.big
        return new

    def random_field(self):
        return _pool(self).pick()

    def set_field(self, field: bytes, value: bytes) -> bool:
        """Store one field (for commands other than the HSET fast path); True if new."""
        new = field not in self
        self[field] = value
        if new and self.pool is not None:
            self.pool.added(field)
        return new

    def del_field(self, field: bytes) -> bool:
        if self.pop(field, None) is None:
            return False
        if self.pool is not None:
            self.pool.removed(field)
        return True

    def check_encoding(self, values: dict, *args: bytes) -> None:
        """Convert to hashtable if a stored field/value or the size crosses the limits."""
        limit = values["hash-max-listpack-value"]
        for a in args:
            if len(a) > limit:
                self.big = True
                return
        if len(self) > values["hash-max-listpack-entries"]:
            self.big = True


class List(deque):
    """A Redis list: a deque gives O(1) push/pop at both ends (Redis 7.0: quicklist)."""

    __slots__ = ("mem", "unit")
    type_name = "list"

    def __init__(self, *args):
        super().__init__(*args)
        self.mem = self.unit = 0    # memory accounting (engine/memory.py)

    def encoding(self, config) -> str:
        return "quicklist"   # Redis 7.0 has no plain listpack lists (that is 7.2)

    def copy(self) -> "List":
        return List(self)

    def slice(self, start: int, stop: int) -> list:
        """Elements start..stop inclusive (already clamped, 0 <= start <= stop < len)."""
        n = len(self)
        if start == 0 and stop == n - 1:
            return list(self)
        if start > n - 1 - stop:
            # Closer to the right end: walk from there.
            out = list(islice(reversed(self), n - 1 - stop, n - start))
            out.reverse()
            return out
        return list(islice(self, start, stop + 1))


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


def new_set(values: dict, members) -> Set:
    """A Set built from `members` (STORE results), with Redis's encoding for them."""
    s = Set(members)
    s.check_encoding(values, s)
    return s
