"""Databases: the key -> value maps, expiry, and the hooks every write goes through.

Values are plain Python objects: strings are ``bytes`` (``bytearray`` once APPEND or
SETRANGE made them mutable, which is also what OBJECT ENCODING reports as ``raw``);
the other types live in ``types/``.

Expiry
------
Expiry is stored per key as an absolute Unix time in milliseconds. As in Redis a
key is expired once the clock is strictly past that time (``now > when``); it is
deleted when it is next looked up (lazy expiry) or by the active expiry cycle.
Redis samples random keys with a TTL because its dict can do that in O(1); a
Python dict cannot, so each database keeps a heap of (when, key) instead. The
active cycle pops only keys that are really due, so it frees every expired key
without touching the live ones. Heap entries whose TTL was changed or removed are
stale: they are skipped when popped, and the heap is compacted whenever stale
entries outnumber the live ones (checked whenever a TTL is set or goes away, so
neither refreshing a TTL over and over nor deleting many keys with a TTL can
keep the heap larger than about twice the live TTLs).

SCAN order
----------
Redis's SCAN cursor guarantees that a key present for the whole iteration is
returned at least once, however the table grows or shrinks. We get the same
guarantee by visiting keys in an order that is a pure function of the key: its
Python hash (SipHash, fixed for the life of the process). The cursor is
``hash(key) + 2**63`` (an unsigned 64-bit number, as in Redis) of the first key
not returned yet, so "every key whose hash is below the cursor was visited"; 0
starts and ends an iteration. Since the order never depends on what else is in
the database, insertions and deletions between calls cannot move a surviving
key to the visited side of the cursor. Keys sharing a hash are returned in the
same call (a cursor never splits them), so collisions cannot cause a miss or a
loop.

To find "the next keys after the cursor" quickly, a database builds a
``SortedKeyList`` of its keys ordered by hash the first time SCAN (or RANDOMKEY
on a big database) needs it, keeps it exact on every insertion and deletion
while it exists, and drops it after ``SCAN_INDEX_IDLE_MS`` without use (the cron
checks). Dropping is always safe because the index is only a cache of an order
defined by the keys themselves. Until a SCAN happens, writes pay one flag test
(``hooked``, shared with access tracking); while an index exists, an insertion
or deletion costs O(log n) (a few microseconds).

Access times (OBJECT IDLETIME / FREQ)
-------------------------------------
Redis keeps 24 bits of LRU clock or LFU counter in every object. We keep them in
a per-database dict ``access`` (key -> last access ms, or Redis's packed LFU
word ``minutes << 8 | counter``), filled only while ``track`` is on: from the
start when maxmemory-policy is an LRU/LFU one, otherwise from the first OBJECT
IDLETIME request on. Off, a lookup or a store pays one flag test (measured
+5..8 ns on a ~65 ns ``Database.get``/``set``); on, a lookup costs ~200 ns more
(a clock read and a dict store), which is why it is not always on. A key with
no record is reported idle since tracking started.

Memory (``mem``)
----------------
Each database counts the bytes its keys, values, TTLs, access records and
eviction sample occupy (engine/memory.py has the costs and the guarantees).
The write methods below keep it exact as keys come and go; a collection
changed in place is measured again by ``observe`` after the command.
"""
from __future__ import annotations

import heapq
import random
from itertools import islice
from typing import TYPE_CHECKING

from sortedcontainers import SortedKeyList

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from .errors import WRONGTYPE, CommandError
from .memory import (ACCESS_ENTRY, EXPIRE_ENTRY, HEAP_ENTRY, KEY_SLOT, SAMPLE_ENTRY,
                     UNMEASURED_MAX, Ledger, bytearray_size, counted_size, dataset_walk,
                     value_size)

if TYPE_CHECKING:
    from .engine import Engine

SCAN_INDEX_IDLE_MS = 30_000
_HASH_OFFSET = 1 << 63          # Python hashes are signed 64-bit; cursors are unsigned

TRACK_OFF, TRACK_LRU, TRACK_LFU = 0, 1, 2
LFU_INIT_VAL = 5


assert KEY_SLOT == 60, "Database.set and delete inline KEY_SLOT"


def scan_cursor_of(key: bytes) -> int:
    """The SCAN position of `key`: its place in the hash order, as an unsigned number."""
    return hash(key) + _HASH_OFFSET


class Database:
    __slots__ = ("index", "data", "expires", "heap", "engine", "watched", "ttl_sum",
                 "scan_index", "scan_used_ms", "access", "track", "track_since_ms", "hooked",
                 "notify_new", "mem", "ledger", "sample", "lru_ms", "lru_stamp", "unmeasured")

    def __init__(self, index: int, engine: "Engine"):
        self.index = index
        self.engine = engine
        self.data: dict = {}
        self.expires: dict[bytes, int] = {}
        # The sum of `expires`' values, kept exact by every change of a TTL: INFO
        # keyspace's avg_ttl in O(1) (mean_ttl) while every TTL is ahead.
        self.ttl_sum = 0
        self.heap: list[tuple[int, bytes]] = []
        # key -> set of clients WATCHing it (MULTI/EXEC); empty in the common case.
        self.watched: dict[bytes, set] = {}
        self.scan_index: SortedKeyList | None = None
        self.scan_used_ms = 0
        self.access: dict[bytes, int] = {}
        # Accounted bytes (engine/memory.py): this database's, and the engine's total
        # (a Ledger every database shares, so the check before a write reads one number).
        self.mem = 0
        self.ledger = Ledger()      # this database's own until Memory shares one
        # Keys of collections written since they were last measured (see written()).
        self.unmeasured: set = set()
        # Keys to sample for eviction (allkeys policies with maxmemory): may hold
        # keys deleted since, and a key twice; see sample_key.
        self.sample: list | None = None
        # The last LRU stamp stored (see record_write): its ms and the int object, which
        # every record written within that millisecond shares.
        self.lru_ms = 0
        self.lru_stamp = 0
        if index == 0:
            # One config listener and one cron task per engine, owned by database 0.
            _KeyspaceHooks(engine)
            engine.add_cron_task(lambda now, e=engine: housekeeping(e, now))
        hooks = engine.access_policy
        self.track = hooks.mode()
        self.track_since_ms = engine.clock.ms()
        self.notify_new = hooks.notify_new()    # notify-keyspace-events has `n`
        # True while a SCAN index, access tracking or `new` events need to hear
        # about writes: the write paths test this one flag.
        self.hooked = False
        self.rehook()

    # -- reads -------------------------------------------------------------

    def get(self, key: bytes):
        """The live value at `key`, or None (expiring it first if it is due).

        This is the normal lookup: it counts as an access for OBJECT IDLETIME/FREQ,
        and, inside a read-only command, as a keyspace hit or miss (INFO stats and
        the `keymiss` event), like Redis's lookupKeyRead.
        """
        if self.expires:
            when = self.expires.get(key)
            if when is not None and when < self.engine.clock.ms() and \
                    not self.engine.applying_master:
                self.expire_now(key)
                if self.engine.reading:
                    self.engine.keyspace_miss(self, key)
                return None
        value = self.data.get(key)
        if self.track and value is not None:
            self.touch(key)
        if self.engine.reading:
            if value is None:
                self.engine.keyspace_miss(self, key)
            else:
                self.engine.stats.keyspace_hits += 1
        return value

    def peek(self, key: bytes):
        """Like get() but not an access (Redis's LOOKUP_NOTOUCH: TYPE, TTL, OBJECT ...)."""
        expires = self.expires
        if expires:
            when = expires.get(key)
            if when is not None and when < self.engine.clock.ms() and \
                    not self.engine.applying_master:
                self.expire_now(key)
                if self.engine.reading:
                    self.engine.keyspace_miss(self, key)
                return None
        value = self.data.get(key)
        if self.engine.reading:
            if value is None:
                self.engine.keyspace_miss(self, key)
            else:
                self.engine.stats.keyspace_hits += 1
        return value

    def get_typed(self, key: bytes, cls):
        """The value at `key` if it is a `cls`; None if missing; WRONGTYPE otherwise."""
        value = self.get(key)
        if value is None or type(value) is cls:
            return value
        raise CommandError(WRONGTYPE)

    def get_string(self, key: bytes):
        value = self.get(key)
        if value is None or type(value) is bytes or type(value) is bytearray:
            return value
        raise CommandError(WRONGTYPE)

    def exists(self, key: bytes) -> bool:
        return self.peek(key) is not None

    def is_expired(self, key: bytes, now_ms: int) -> bool:
        """True if `key` has a TTL that has passed (without deleting it, like KEYS)."""
        when = self.expires.get(key)
        return when is not None and when < now_ms

    def __len__(self) -> int:
        return len(self.data)

    # -- writes ------------------------------------------------------------

    def set(self, key: bytes, value, keep_ttl: bool = False) -> None:
        """Store `value`, dropping any TTL unless keep_ttl (the SET semantics)."""
        data = self.data
        if self.hooked:
            old = data.get(key)
            self._stored(key, old is None)
            data[key] = value
        else:
            # One lookup stores a new key (and finds an old value to size); only an
            # overwrite takes a second one.
            n = len(data)
            old = data.setdefault(key, value)
            if len(data) != n:
                old = None
            else:
                data[key] = value
        # Sizes as engine/memory.py counts them; 60 is KEY_SLOT (checked at import).
        if old is None:
            if type(value) is bytes:
                self._grow(((len(key) + 48) & -16) + ((len(value) + 48) & -16) + 60)
            else:
                self._grow(((len(key) + 48) & -16) + 60 + value_size(value))
        elif type(value) is bytes and type(old) is bytes:
            if len(value) != len(old):
                self._grow(((len(value) + 48) & -16) - ((len(old) + 48) & -16))
        else:
            size = -counted_size(old)       # before a re-stored collection is measured again
            self._grow(size + value_size(value))
        if not keep_ttl and self.expires:
            when = self.expires.pop(key, None)
            if when is not None:
                self._ttl_dropped(when)
        if self.watched:
            self.engine.touch_watched(self, key)

    def add(self, key: bytes, value) -> None:
        """Store a new value at a key known to be absent (e.g. first push creates a list)."""
        if self.hooked:
            self._stored(key, True)
        self.data[key] = value
        self._grow(((len(key) + 48) & -16) + KEY_SLOT + (
            (len(value) + 48) & -16 if type(value) is bytes else value_size(value)))
        if self.watched:
            self.engine.touch_watched(self, key)

    def replace(self, key: bytes, value) -> None:
        """Swap the object stored at `key` for an equal one of another representation
        (bytes -> bytearray before an in-place change): not a write by itself."""
        old = counted_size(self.data[key])
        self.data[key] = value
        self._grow(value_size(value) - old)

    def observe(self, key: bytes) -> None:
        """Measure the value at `key` again after in-place changes (engine/memory.py)."""
        value = self.data.get(key)
        if value is not None:
            cls = type(value)
            if cls is not bytes and cls is not bytearray:
                old = value.mem
                self._grow(value_size(value) - old)

    def written(self, key: bytes) -> None:
        """The collection at `key` changed in place: measure it again before the ledger is
        next read (engine/memory.py, Memory.measure_pending). A key already queued costs
        one set lookup; the ledger counts the queued keys of every database."""
        pending = self.unmeasured
        n = len(pending)
        pending.add(key)
        if len(pending) != n:
            ledger = self.ledger
            ledger.unmeasured += 1
            if ledger.unmeasured > UNMEASURED_MAX:
                self.engine.memory.measure_pending()

    def grew(self, old_len: int, new_len: int) -> None:
        """A bytearray string changed length in place (APPEND, SETRANGE, SETBIT ...)."""
        self._grow(bytearray_size(new_len) - bytearray_size(old_len))

    def modified(self, key: bytes) -> None:
        """Tell watchers a value was changed in place (HSET, LPUSH, APPEND ...)."""
        if self.watched:
            self.engine.touch_watched(self, key)

    def shrunk(self, key: bytes, value) -> bool:
        """Elements were removed in place from the collection at `key` (HDEL, SREM, LREM,
        pops ...): tell watchers, or, when it is now empty, delete the key and notify
        ``del``, since Redis never keeps an empty collection. True if it was deleted."""
        if value:
            if self.watched:
                self.engine.touch_watched(self, key)
            return False
        self.delete(key)
        if self.engine.notify_flags:
            self.engine.notify(self, "g", b"del", key)
        return True

    def delete(self, key: bytes) -> bool:
        value = self.data.pop(key, None)
        if value is None:
            return False
        # 60 is KEY_SLOT, inlined as in set(): compiled, the sizes are C arithmetic.
        self._grow(-(((len(key) + 48) & -16) + 60 + (
            (len(value) + 48) & -16 if type(value) is bytes else counted_size(value))))
        if self.expires:
            when = self.expires.pop(key, None)
            if when is not None:
                self._ttl_dropped(when)
        if self.hooked:
            self._removed(key)
        if self.watched:
            self.engine.touch_watched(self, key)
        return True

    def delete_keys(self, keys: list) -> int:
        """Delete those of `keys` that are present, each as delete() does; returns how
        many were (eviction's victims of one round, when nothing else hears of them)."""
        count = 0
        for key in keys:
            if self.delete(key):
                count += 1
        return count

    def pop(self, key: bytes):
        """Remove and return the value (for RENAME, MOVE, GETDEL)."""
        value = self.data.pop(key, None)
        if value is not None:
            self._grow(-(((len(key) + 48) & -16) + KEY_SLOT + counted_size(value)))
            if self.expires:
                when = self.expires.pop(key, None)
                if when is not None:
                    self._ttl_dropped(when)
            if self.hooked:
                self._removed(key)
            if self.watched:
                self.engine.touch_watched(self, key)
        return value

    def set_expire(self, key: bytes, when_ms: int) -> None:
        expires = self.expires
        old = expires.get(key)
        if old is None:
            self._grow(HEAP_ENTRY + EXPIRE_ENTRY)
            self.ttl_sum += when_ms
        else:
            self._grow(HEAP_ENTRY)
            self.ttl_sum += when_ms - old
        expires[key] = when_ms
        heap = self.heap
        heapq.heappush(heap, (when_ms, key))
        if len(heap) > 2 * len(self.expires) + 1024:
            self.compact_heap()
        if self.watched:
            self.engine.touch_watched(self, key)

    def persist(self, key: bytes) -> bool:
        when = self.expires.pop(key, None)
        if when is None:
            return False
        self._ttl_dropped(when)
        if self.watched:
            self.engine.touch_watched(self, key)
        return True

    def ttl_ms(self, key: bytes) -> int | None:
        """Absolute expiry of `key` in ms, or None when it has none."""
        return self.expires.get(key)

    def clear(self) -> int:
        removed = len(self.data)
        if self.watched:
            for key in list(self.watched):
                if key in self.data:
                    self.engine.touch_watched(self, key)
        self.data = {}
        self.expires = {}
        self.ttl_sum = 0
        self.heap = []
        self.scan_index = None
        self.access = {}
        self._grow(-self.mem)
        if self.sample is not None:
            self.sample = []
        self.rehook()
        return removed

    def load(self, data: dict, expires: dict) -> None:
        """Take a whole dataset read from an RDB file (startup, DEBUG RELOAD).

        The persistence loader builds plain dicts at C speed; an empty
        database adopts them as they are (no per-key hooks: nothing can be
        indexed or tracked in an empty database) and rebuilds the expiry heap.
        A database that holds keys goes through `set` for each one.
        """
        if self.data:
            for key, value in data.items():
                self.set(key, value)
            for key, when in expires.items():
                self.set_expire(key, when)
            return
        self.clear()
        self.data = data
        self.expires = expires
        self.ttl_sum = sum(expires.values())
        self.heap = [(when, key) for key, when in expires.items()]
        heapq.heapify(self.heap)
        self._grow(dataset_walk(data) + len(expires) * (EXPIRE_ENTRY + HEAP_ENTRY))
        if self.sample is not None:
            self.sample = list(data)
            self._grow(len(data) * SAMPLE_ENTRY)

    def transfer(self, key: bytes, dst: "Database", new_key: bytes) -> None:
        """Move `key` (value, TTL and access record) to `new_key` in `dst`.

        The destination must be free. Used by RENAME (dst is self) and MOVE; it
        is the same object that moves, so OBJECT IDLETIME/FREQ carry over as in
        Redis.
        """
        when = self.expires.get(key)
        record = self.access.get(key)
        value = self.pop(key)
        dst.add(new_key, value)
        if when is not None:
            dst.set_expire(new_key, when)
        if record is not None and dst.track:
            if new_key not in dst.access:
                dst._grow(ACCESS_ENTRY)
            dst.access[new_key] = record

    def swap(self, other: "Database") -> None:
        """SWAPDB: exchange contents with `other`; watchers stay with the index."""
        for db, incoming in ((self, other), (other, self)):
            if db.watched:
                for key in list(db.watched):
                    if key in db.data or key in incoming.data:
                        db.engine.touch_watched(db, key)
        for name in ("data", "expires", "ttl_sum", "heap", "scan_index", "scan_used_ms", "access", "mem",
                     "sample", "unmeasured"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs)
            setattr(other, name, mine)
        self.rehook()
        other.rehook()

    def rehook(self) -> None:
        self.hooked = self.scan_index is not None or bool(self.track) or self.notify_new or \
            self.sample is not None

    def _stored(self, key: bytes, new: bool) -> None:
        """A value is about to be stored at `key`, absent until now if `new` (SCAN index,
        access time, `new` event)."""
        if new:
            if self.scan_index is not None:
                self.scan_index.add(key)
            sample = self.sample
            if sample is not None:
                sample.append(key)
                self._grow(SAMPLE_ENTRY)
                if len(sample) > 2 * len(self.data) + 64:
                    self._rebuild_sample()
            if self.notify_new:
                # Redis's dbAdd: class n, not part of "A"; before the command's own event.
                self.engine.notify(self, "n", b"new", key)
        if self.track:
            self.record_write(key)

    def _removed(self, key: bytes) -> None:
        if self.scan_index is not None:
            self.scan_index.discard(key)
        if self.access and self.access.pop(key, None) is not None:
            self._grow(-ACCESS_ENTRY)

    # -- access times (OBJECT IDLETIME / FREQ, eviction) ------------------------

    def _grow(self, delta: int) -> None:
        """Count `delta` more bytes (less when negative): the only writer of ``mem``, so
        the shared total always equals the sum of the databases'."""
        self.mem += delta
        self.ledger.total += delta

    def touch(self, key: bytes) -> None:
        """Record an access to an existing key (only called while tracking is on)."""
        access = self.access
        if key not in access:
            self._grow(ACCESS_ENTRY)
        if self.track == TRACK_LFU:
            now_min = self.engine.clock.ms() // 60000 & 0xFFFF
            counter = self.lfu_counter(key, now_min)
            access[key] = now_min << 8 | _lfu_log_incr(counter, self.engine.config["lfu-log-factor"])
        else:
            access[key] = self.lru_now()

    def lru_now(self):
        """The current time in ms as the int object LRU records hold. Records written in
        the same millisecond share one object: no int is made per write, and compiled
        (a ``Clock`` local, keyspace.pxd) the clock is read with a C call."""
        clock = self.engine.clock
        now = clock.ms()
        if now != self.lru_ms:
            self.lru_ms = now
            self.lru_stamp = now
        return self.lru_stamp

    def record_write(self, key: bytes) -> None:
        """A value was stored at `key` (only called while tracking is on).

        LRU: the new object is fresh. LFU: a new key starts at LFU_INIT_VAL; an
        overwritten key keeps its counter (dbSetValue) after the lookup every
        Redis write does first, which counts as one access.
        """
        access = self.access
        if self.track == TRACK_LFU:
            if key in access:
                self.touch(key)
            else:
                self._grow(ACCESS_ENTRY)
                access[key] = (self.engine.clock.ms() // 60000 & 0xFFFF) << 8 | LFU_INIT_VAL
        else:
            # One store, and its size change tells a new record (counted) from a refresh.
            n = len(access)
            access[key] = self.lru_now()
            if len(access) != n:
                self._grow(ACCESS_ENTRY)

    def idle_ms(self, key: bytes) -> int:
        """Milliseconds since the last access of `key` (LRU tracking)."""
        last = self.access.get(key)
        if last is None or self.track != TRACK_LRU:
            last = self.track_since_ms
        return max(self.engine.clock.ms() - last, 0)

    def lfu_counter(self, key: bytes, now_min: int | None = None) -> int:
        """The decayed LFU counter of `key` (Redis's LFUDecrAndReturn)."""
        word = self.access.get(key)
        if word is None or self.track != TRACK_LFU:
            return 0
        if now_min is None:
            now_min = self.engine.clock.ms() // 60000 & 0xFFFF
        last_min, counter = word >> 8, word & 255
        elapsed = now_min - last_min if now_min >= last_min else 65535 - last_min + now_min
        decay = self.engine.config["lfu-decay-time"]
        periods = elapsed // decay if decay else 0
        return max(counter - periods, 0)

    def set_tracking(self, mode: int) -> None:
        if mode != self.track:
            self.track = mode
            self._grow(-(len(self.access) * ACCESS_ENTRY))
            self.access = {}
            self.track_since_ms = self.engine.clock.ms()
            self.rehook()

    # -- SCAN / RANDOMKEY support ---------------------------------------------------

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """One SCAN step: about `count` keys from position `cursor` on, and the next cursor.

        The keys may include expired ones (the caller filters, as Redis does);
        the next cursor is 0 when the iteration is complete.
        """
        index = self._scan_index()
        start = cursor - _HASH_OFFSET
        out: list[bytes] = []
        last = None
        for key in index.irange_key(min_key=start):
            h = hash(key)
            if len(out) >= count and h != last:
                return h + _HASH_OFFSET, out
            out.append(key)
            last = h
        return 0, out

    def random_key(self) -> bytes | None:
        """A uniformly chosen key (maybe expired: the caller checks), or None if empty."""
        n = len(self.data)
        if n == 0:
            return None
        i = random.randrange(n)
        if n < 32768:   # walking the dict in C beats keeping an index up to date
            return next(islice(iter(self.data), i, None))
        return self._scan_index()[i]

    def _scan_index(self) -> SortedKeyList:
        index = self.scan_index
        # The index is exact as long as every write goes through this class; a
        # size mismatch means someone wrote to `data` directly: rebuild.
        if index is None or len(index) != len(self.data):
            index = self.scan_index = SortedKeyList(self.data, key=hash)
            self.rehook()
        self.scan_used_ms = self.engine.clock.ms()
        return index

    # -- expiry --------------------------------------------------------------

    def expire_now(self, key: bytes) -> None:
        """Delete a key whose time has come, telling persistence and listeners.

        Under CLIENT PAUSE the key stays (it is only logically expired: lookups
        miss it) and no expiry is counted, replicated or notified until the pause ends.
        """
        if self.engine.expiry_suspended:
            return
        value = self.data.pop(key, None)
        if value is not None:
            self._grow(-(((len(key) + 48) & -16) + KEY_SLOT + counted_size(value)))
        when = self.expires.pop(key, None)
        if when is not None:
            self.ttl_sum -= when
            self._grow(-EXPIRE_ENTRY)
        if self.hooked:
            self._removed(key)
        engine = self.engine
        engine.stats.expired_keys += 1
        if self.watched:
            engine.touch_watched(self, key)
        engine.key_expired(self, key)

    def active_expire(self, now_ms: int, budget: int) -> int:
        """Delete up to `budget` due keys; returns how many were deleted."""
        heap, expires = self.heap, self.expires
        done = 0
        if self.engine.expiry_suspended:
            return 0
        while heap and heap[0][0] < now_ms and done < budget:
            when, key = heapq.heappop(heap)
            self._grow(-HEAP_ENTRY)
            if expires.get(key) == when:
                self.expire_now(key)
                done += 1
        if len(heap) > 2 * len(expires) + 1024:
            self.compact_heap()
        return done

    def has_due_keys(self, now_ms: int) -> bool:
        heap = self.heap
        return bool(heap) and heap[0][0] < now_ms

    def _ttl_dropped(self, when: int) -> None:
        """The TTL `when` of a key that stays or goes was removed from `expires`."""
        self.ttl_sum -= when
        self._grow(-EXPIRE_ENTRY)
        # A TTL went away, leaving a stale heap entry behind. Compacting once stale
        # entries outnumber live ones keeps the heap O(live TTLs), amortized O(1).
        if len(self.heap) > 2 * len(self.expires) + 1024:
            self.compact_heap()

    def compact_heap(self) -> None:
        """Drop stale heap entries (TTL changed, removed, or key deleted)."""
        self._grow(-((len(self.heap) - len(self.expires)) * HEAP_ENTRY))
        self.heap = [(when, key) for key, when in self.expires.items()]
        heapq.heapify(self.heap)

    # -- eviction sampling (engine/memory.py) ------------------------------------------

    def set_sampling(self, on: bool) -> None:
        """Keep (or drop) the list of keys eviction samples from."""
        if on and self.sample is None:
            self.sample = list(self.data)
            self._grow(len(self.sample) * SAMPLE_ENTRY)
        elif not on and self.sample is not None:
            self._grow(-(len(self.sample) * SAMPLE_ENTRY))
            self.sample = None
        self.rehook()

    def _rebuild_sample(self) -> None:
        self._grow(-(len(self.sample) * SAMPLE_ENTRY))
        self.sample = list(self.data)
        self._grow(len(self.sample) * SAMPLE_ENTRY)

    def candidates(self, count: int, pool, lfu: bool) -> None:
        """Offer about `count` random keys of this database to the eviction `pool`
        (engine/memory.py's Pool) with their rank: the last access ms (LRU) or the decayed
        LFU counter (allkeys-lru/-lfu; the pool keeps the smallest).

        A systematic sample of the key list: a random start and a random stride, so every
        listed key has the same chance and the picks spread over all insertion times. A
        key's access record goes with it, so a listed key with a record is live and one
        lookup ranks it; only one without a record (deleted since it was listed, or written
        before tracking began) is looked up in the data. Compiled, the walk is a C loop
        over the list and the pool's offer a C call: no list of picks, no object per
        candidate."""
        sample = self.sample
        data = self.data
        access = self.access
        n = len(sample)
        live = len(data)
        step = 1
        i = 0
        if n < 2 or live == 0 or count < 2 or n > 2 * live:
            keys = self.sample_keys(count)     # filters, and rebuilds the list when stale
            n = len(keys)
        else:
            keys = sample
            picks = count * n // live + 1
            step = n // picks
            if step > 1:
                step += int(random.random() * step)
                i = int(random.random() * step)
            else:
                keys = random.sample(sample, picks if picks < n else n)
                n = len(keys)
                step = 1
        index = self.index
        since = self.track_since_ms
        now_min = self.engine.clock.ms() // 60000 & 0xFFFF if lfu else 0
        while i < n:
            key = keys[i]
            i += step
            rank = access.get(key)
            if rank is None:
                if key not in data:
                    continue
                rank = 0 if lfu else since
            elif lfu:
                rank = self.lfu_counter(key, now_min)
            pool.offer(rank, index, key)

    def sample_keys(self, count: int) -> list:
        """Up to `count` random live keys (uniform but for a re-created key listed twice;
        may repeat). Stale entries stay until the list is rebuilt (see _stored)."""
        sample, data = self.sample, self.data
        if sample is None:
            key = self.random_key() if data else None
            return [key] if key is not None else []
        if not sample:
            return []
        # At most half of the list is stale (it is rebuilt past that), so twice the
        # picks find `count` live keys in one C call most of the time.
        out = [key for key in random.choices(sample, k=2 * count) if key in data]
        if not out and data:
            self._rebuild_sample()
            out = [key for key in random.choices(self.sample, k=count) if key in data]
        return out[:count]

    def sample_volatile_keys(self, count: int) -> list:
        """Up to `count` random keys that have a TTL (picked from the expiry heap)."""
        expires = self.expires
        if not expires:
            return []
        out = []
        rand = random.random
        for _ in range(4 * count):
            heap = self.heap
            when, key = heap[int(rand() * len(heap))]
            if expires.get(key) == when:
                out.append(key)
                if len(out) == count:
                    return out
        if not out:
            self.compact_heap()
            out.append(self.heap[0][1])
        return out

    def nearest_expiry_key(self) -> bytes | None:
        """The key with the nearest deadline (stale heap entries on top are dropped)."""
        heap, expires = self.heap, self.expires
        while heap:
            when, key = heap[0]
            if expires.get(key) == when:
                return key
            heapq.heappop(heap)
            self._grow(-HEAP_ENTRY)
        return None


def _lfu_log_incr(counter: int, log_factor: int) -> int:
    """Redis's LFULogIncr: a logarithmic, probabilistic 8-bit counter."""
    if counter == 255:
        return 255
    base = counter - LFU_INIT_VAL
    if base < 0:
        base = 0
    if random.random() < 1.0 / (base * log_factor + 1):
        counter += 1
    return counter


def housekeeping(engine, now_ms: int) -> None:
    """Cron task: drop SCAN indexes nobody used for a while (they cost writes)."""
    for db in engine.dbs:
        if db.scan_index is not None and now_ms - db.scan_used_ms > SCAN_INDEX_IDLE_MS:
            db.scan_index = None
            db.rehook()


class _KeyspaceHooks:
    """Follows the config: access tracking (maxmemory-policy) and `new` key events."""

    def __init__(self, engine):
        self.engine = engine
        self.requested = False      # OBJECT IDLETIME was asked: track LRU from now on
        engine.access_policy = self
        engine.config.listeners.append(self.config_changed)

    def config_changed(self, changed=None) -> None:
        if changed is None or "maxmemory-policy" in changed:
            self.apply()
        if changed is None or "notify-keyspace-events" in changed:
            new = self.notify_new()
            for db in getattr(self.engine, "dbs", ()):
                db.notify_new = new
                db.rehook()

    def notify_new(self) -> bool:
        flags = self.engine.config["notify-keyspace-events"]
        return "n" in flags and ("K" in flags or "E" in flags)

    def mode(self) -> int:
        policy = self.engine.config["maxmemory-policy"]
        if "lfu" in policy:
            return TRACK_LFU
        if "lru" in policy or self.requested:
            return TRACK_LRU
        return TRACK_OFF

    def apply(self) -> None:
        mode = self.mode()
        for db in getattr(self.engine, "dbs", ()):
            db.set_tracking(mode)

    def request_lru(self) -> None:
        if not self.requested:
            self.requested = True
            self.apply()
