"""Memory accounting (used_memory) and maxmemory eviction.

Accounting
----------
Python has no allocator total like jemalloc's, so the bytes a value occupies
are estimated from what CPython allocates for it, and kept in a running
total per database (``Database.mem``), as values change. Nothing walks the
keyspace to compute it. Guarantees:

* every stored key is counted for its key object, its slot in the database
  dict, and its value (``value_size``); a TTL adds its ``expires`` entry and
  expiry-heap entry, an access record (LRU/LFU tracking) its dict entry;
* the ledger holds exactly the sum of what was added for the values present:
  a collection remembers in its ``mem`` field what it is counted for, so
  removing it subtracts that, whatever changed since;
* a collection is re-measured after the write commands that name it (the
  command table's key positions, ``observe``) and after a blocked client is
  served; the keys written are queued (``Database.written``) and measured
  before anything reads the total (eviction, INFO, MEMORY, the cron), so a
  run of writes to one collection is measured once and a server without
  ``maxmemory`` measures at most once per cron tick.

A collection's estimate is O(1): the container's own allocation
(``sys.getsizeof``, which CPython knows without a walk) plus its length times
the average size of one element (``unit``), sampled from a few elements at
both ends and sampled again as the collection grows. The constants below were
calibrated against the RSS growth of 1M-key fills of each type
(``benchmarks/memory_accounting.py``; docs/memory.md has the method and the
numbers).

``used_memory`` is what Redis would count for the same state: the fixed
structures of an empty server (``STARTUP``, reported as
``used_memory_startup``), the ledger, the buffers and fixed part of every
client, and the cached script bodies. Redis's empty server counts ~880 KB;
Vermilion's process holds ~30 MB of interpreter and modules before it stores
anything, which Redis has no counterpart for: counting it would make any
``maxmemory`` below that unusable, so it is left to ``used_memory_rss`` (and
the fragmentation ratio) and the empty server is counted as Redis counts its
own. What is compared with ``maxmemory`` is ``used_memory`` less the replica
output buffers and the AOF buffer (``mem_not_counted_for_evict``), as in
Redis 7.0: a tiny ``maxmemory`` is exceeded by an empty server, a limit of a
few megabytes bounds the dataset about as Redis's does. Client buffers change
between commands without passing through the ledger, so their total is taken
again when a client came or went, else once 10 ms and REFRESH_CHECKS checks went
by (and by INFO, MEMORY and the cron): walking every client before each write
would cost more than the write.

Eviction
--------
Redis's algorithm (evict.c): before a command runs, while the counted memory
is over ``maxmemory``, keys are sampled (``maxmemory-samples`` per database),
scored (idle time for LRU, 255 - the LFU counter, time to expiry for TTL) and
inserted into a 16-entry pool kept sorted by score; the best candidate of the
pool is deleted, and this repeats until enough was freed. Random policies
delete a sampled key at once. The loop is bounded in time by
``maxmemory-eviction-tenacity``; past the bound, the rest is freed by the
cron and the command runs (Redis's EVICT_RUNNING).

Sampling needs random keys, which a Python dict cannot give in O(1): while a
policy evicts, each database keeps a list of its keys (``Database.sample``,
appended when a key is created, stale entries dropped when a pick lands on
them, rebuilt when they outnumber the live keys); volatile policies sample the
expiry heap, which already lists the keys with a TTL.
"""
from __future__ import annotations

import logging
import os
import resource
import time
from itertools import islice
from sys import getsizeof

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from .lazyfree import LazyFree

log = logging.getLogger("vermilion")
_monotonic_ns = time.monotonic_ns
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident memory of this process, read from /proc (a real measurement)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- per-item costs (bytes), calibrated on CPython 3.11 x86-64 ----------------------------

# A bytes object of length n: 33 bytes of header + n, in 16-byte pymalloc classes.
# (The formula `(n + 48) & -16` is inlined on the hot paths of keyspace.py.)
def bytes_size(n: int) -> int:
    return (n + 48) & -16


KEY_SLOT = 60           # a key's share of the database dict (entry + index, at its mean load)
EXPIRE_ENTRY = 96       # expires dict slot + the int deadline
HEAP_ENTRY = 72         # an expiry-heap entry: the (when, key) tuple and its list slot
ACCESS_ENTRY = 88       # access-time record: dict slot + int (LRU/LFU tracking)
SAMPLE_ENTRY = 8        # the eviction sample list's pointer to a key
FLOAT_OBJ = 32          # a zset score (a float object)
ZSET_ORDER = 16         # a zset member's place in the ordered index (pointer + prefix + slack)
HASH_OBJ = 48           # the Hash wrapper (two slots and the GC header)
SET_OBJ = 64            # the Set wrapper (three slots and the GC header)
ZSET_OBJ = 500          # SortedSet object, its index object and first leaf
STREAM_OBJ = 800        # Stream object, node lists, fields cache
STREAM_NODE = 550       # a node: _Node, its three arrays, flags, blob header, list slots
STREAM_ENTRY_FIXED = 13  # per entry in a node: msd, sq, offs (4 bytes each) and a flag byte
STREAM_GROUP = 400      # a consumer group with its PEL containers
STREAM_CONSUMER = 300   # a consumer with its PEL containers and name
PEL_ENTRY = 200         # a pending entry: object, id key, group and consumer PEL slots
BYTEARRAY_OBJ = 64      # a bytearray's header (its buffer grows by about 1/8)
# A connection's fixed part (objects, parser, transport): the figure CLIENT LIST's tot-mem
# adds to the buffers (rbs, as Redis's 16 KB reply buffer), so the clients' total and the
# per-client numbers client eviction compares agree with what CLIENT LIST shows.
CLIENT_BASE = 16384
CLIENT_EVICTION_MIN = 128 * 1024    # maxmemory-clients is never below this (Redis's floor)
# What a client holds besides its buffers, per item: a watched key (its pair, the client's
# set slot and the engine's watcher entry), a pub/sub subscription (the client's and the
# server's dict entries), a tracking prefix, a command queued in MULTI (its list slot and
# argument list; the arguments themselves add their bytes objects).
CLIENT_ITEM = 150
# An empty redis-server 7.0's used_memory_startup (x86-64, jemalloc: 876,152 bytes):
# what an empty server is counted for (see the module docstring).
STARTUP = 876_152


def bytearray_size(n: int) -> int:
    return BYTEARRAY_OBJ + n + (n >> 3)


REFRESH_NS = 10_000_000  # how old the client totals the eviction check uses may be ...
REFRESH_CHECKS = 16     # ... once this many checks went by since the clock was last read
UNMEASURED_MAX = 16384  # written collections queued before they are measured anyway (~1.5 MB)
SAMPLES = 8     # elements sampled for a collection's unit size (half from each end)


def _ends(seq_iter, rev_iter, n: int):
    if n <= SAMPLES:
        return seq_iter
    half = SAMPLES // 2
    return list(islice(seq_iter, half)) + list(islice(rev_iter, half))


def _unit_hash(h) -> int:
    total = count = 0
    for f, v in _ends(iter(h.items()), reversed(h.items()), len(h)):
        total += ((len(f) + 48) & -16) + ((len(v) + 48) & -16)
        count += 1
    return total // count if count else 0


def _unit_plain(c) -> int:
    """Sets in a table: one bytes object per member."""
    n = len(c)
    it = c if n <= SAMPLES else islice(c, SAMPLES)
    total = count = 0
    for m in it:
        total += (len(m) + 48) & -16
        count += 1
    return total // count if count else 0


def _unit_zset(z) -> int:
    scores = z.scores
    total = count = 0
    for m in _ends(iter(scores), reversed(scores), len(scores)):
        n = len(m)
        total += ((n + 48) & -16) + ((n + 57) & -16) + FLOAT_OBJ + ZSET_ORDER
        count += 1
    return total // count if count else 0


# A collection's ``unit`` holds the sampled average element size shifted left by 8 and,
# in the low byte, the length it was sampled at: the average is sampled again when the
# length has changed and is under 16 or a multiple of 64 (so a small collection follows
# its contents, a large one every 64 length changes, and a write that keeps the length,
# an overwrite, costs no sampling).

def _resample(unit: int, n: int) -> bool:
    return not unit or ((n < 16 or not n & 63) and (unit & 255) != (n & 255))


def _estimate_hash(h) -> int:
    data = h.data
    if data.__class__ is bytes:
        # Packed (listpack): the wrapper and one bytes object, measured exactly.
        return HASH_OBJ + ((len(data) + 48) & -16)
    n = len(data)
    unit = data.unit
    if _resample(unit, n):
        unit = data.unit = _unit_hash(data) << 8 | (n & 255)
    return HASH_OBJ + getsizeof(data) + n * (unit >> 8)


def _estimate_plain(c) -> int:
    n = len(c)
    unit = c.unit
    if _resample(unit, n):
        unit = c.unit = _unit_plain(c) << 8 | (n & 255)
    return getsizeof(c) + n * (unit >> 8)


def _estimate_list(lst) -> int:
    data = lst.data
    if data.__class__ is bytes:
        # Packed (one listpack node): the wrapper and one bytes object, measured exactly.
        return HASH_OBJ + ((len(data) + 48) & -16)
    return HASH_OBJ + data.memory()


def _estimate_set(s) -> int:
    data = s.data
    if data.__class__ is bytes:
        # Packed: the wrapper and one bytes object, measured exactly.
        return SET_OBJ + ((len(data) + 48) & -16)
    if isinstance(data, set):
        return SET_OBJ + _estimate_plain(data)
    # The integer form (an array): the wrapper and the array with its buffer, exactly.
    return SET_OBJ + getsizeof(data)


def _estimate_zset(z) -> int:
    data = z.data
    if data.__class__ is bytes:
        # Packed (listpack): the wrapper and one bytes object, measured exactly.
        return HASH_OBJ + ((len(data) + 48) & -16)
    scores = data.scores
    n = len(scores)
    unit = data.unit
    if _resample(unit, n):
        unit = data.unit = _unit_zset(data) << 8 | (n & 255)
    return ZSET_OBJ + getsizeof(scores) + n * (unit >> 8)


def _estimate_stream(s) -> int:
    unit = s.unit
    if not unit or s.length < 16 or not s.entries_added & 63:
        unit = s.unit = s.tail_entry_bytes() + STREAM_ENTRY_FIXED
    size = STREAM_OBJ + s.node_count * STREAM_NODE + s.length * unit
    for group in s.groups.values():
        size += STREAM_GROUP + len(group.pel) * PEL_ENTRY + len(group.consumers) * STREAM_CONSUMER
    return size


_ESTIMATORS: dict = {}


def _register_types() -> None:
    from ..types.collections import Hash, List, Set
    from ..types.sortedset import SortedSet
    from ..types.stream import Stream
    _ESTIMATORS.update({Hash: _estimate_hash, List: _estimate_list, Set: _estimate_set,
                        SortedSet: _estimate_zset, Stream: _estimate_stream})


_register_types()


def value_size(value) -> int:
    """The bytes `value` is counted for now; a collection remembers it in ``mem``."""
    cls = value.__class__
    if cls is bytes:
        return (len(value) + 48) & -16
    if cls is bytearray:
        return bytearray_size(len(value))
    size = _ESTIMATORS[cls](value)
    value.mem = size
    return size


def counted_size(value) -> int:
    """What `value` is counted for in the ledger (its last measurement)."""
    cls = value.__class__
    if cls is bytes:
        return (len(value) + 48) & -16
    if cls is bytearray:
        return bytearray_size(len(value))
    return value.mem


def usage(key: bytes, value, has_ttl: bool, samples: int = 5) -> int:
    """MEMORY USAGE: key, value and TTL, with `samples` elements averaged (0: all)."""
    size = ((len(key) + 48) & -16) + KEY_SLOT + (EXPIRE_ENTRY if has_ttl else 0)
    cls = value.__class__
    if cls is bytes or cls is bytearray:
        return size + value_size(value)
    if samples == 0 or samples >= len(value):
        return size + _exact(value)
    n = len(value)
    t = value.type_name
    if t == "hash":
        data = value.data
        if data.__class__ is bytes:
            return size + _estimate_hash(value)
        total = sum(((len(f) + 48) & -16) + ((len(v) + 48) & -16) for f, v in islice(data.items(), samples))
        return size + HASH_OBJ + getsizeof(data) + n * total // samples
    if t == "list":
        return size + _estimate_list(value)
    if t == "set":
        data = value.data
        if not isinstance(data, set):           # packed or integer form: exact
            return size + _estimate_set(value)
        total = sum((len(m) + 48) & -16 for m in islice(data, samples))
        return size + SET_OBJ + getsizeof(data) + n * total // samples
    if t == "zset":
        data = value.data
        if data.__class__ is bytes:
            return size + _estimate_zset(value)
        total = sum(((len(m) + 48) & -16) + ((len(m) + 57) & -16) for m in islice(data.scores, samples))
        return size + ZSET_OBJ + getsizeof(data.scores) + n * (total // samples + FLOAT_OBJ + ZSET_ORDER)
    return size + _ESTIMATORS[cls](value)


def _exact(value) -> int:
    """Every element measured (MEMORY USAGE SAMPLES 0, small values)."""
    t = value.type_name
    if t == "hash":
        data = value.data
        if data.__class__ is bytes:
            return _estimate_hash(value)
        return HASH_OBJ + getsizeof(data) + sum(
            ((len(f) + 48) & -16) + ((len(v) + 48) & -16) for f, v in data.items())
    if t == "list":
        return _estimate_list(value)
    if t == "set":
        data = value.data
        if not isinstance(data, set):
            return _estimate_set(value)
        return SET_OBJ + getsizeof(data) + sum((len(m) + 48) & -16 for m in data)
    if t == "zset":
        data = value.data
        if data.__class__ is bytes:
            return _estimate_zset(value)
        return ZSET_OBJ + getsizeof(data.scores) + sum(
            ((len(m) + 48) & -16) + ((len(m) + 57) & -16) + FLOAT_OBJ + ZSET_ORDER for m in data.scores)
    return _ESTIMATORS[value.__class__](value)


def key_size(key: bytes) -> int:
    return ((len(key) + 48) & -16) + KEY_SLOT


def dataset_walk(data: dict) -> int:
    """Everything in `data` measured once (an RDB load adopts a whole dict)."""
    total = 0
    for key, value in data.items():
        total += ((len(key) + 48) & -16) + KEY_SLOT + value_size(value)
    return total


# -- the memory report (INFO memory, MEMORY STATS) ---------------------------------------------

class Ledger:
    """The bytes counted for the data of every database of an engine, kept as they change
    (``Database._grow`` adds each change to its database's ``mem`` and here): what the
    check before every write compares, one C field instead of a sum over the databases."""

    __slots__ = ("total", "unmeasured")

    def __init__(self):
        self.total = 0
        self.unmeasured = 0     # keys queued in the databases' `unmeasured` sets


class Memory:
    """Per-engine memory state: the ledger, the baseline, peak, and the evictor."""

    def __init__(self, engine):
        self.engine = engine
        self.startup = STARTUP
        self.process_startup_rss = rss_bytes()     # the empty process, for MEMORY MALLOC-STATS
        self.peak = 0
        self.peak_time = 0
        self.clients = 0            # normal clients' bytes at the last refresh
        self.scripts = 0            # cached script and function bodies at the last refresh
        self.refreshed_tick = -1
        self.checks = 0                 # counted() calls left before the clock is read
        self.client_map = engine.clients    # made once with the engine, never replaced
        self.client_count = -1              # len(client_map) at the last refresh
        self.argv_client = None         # the client whose command is being checked, and
        self.argv_bytes = 0             # the bytes of its arguments (client eviction)
        self.evictor = Evictor(engine, self)
        self.lazyfree = LazyFree(engine)
        self.dbs = engine.dbs               # made once with the engine, never replaced
        # One ledger for every database (each started with its own, as they are made first).
        self.ledger = Ledger()
        for db in self.dbs:
            self.ledger.total += db.mem
            self.ledger.unmeasured += db.ledger.unmeasured
            db.ledger = self.ledger

    def measure_pending(self) -> None:
        """Measure the collections written since they were last measured."""
        for db in self.dbs:
            pending = db.unmeasured
            while pending:
                db.observe(pending.pop())
        self.ledger.unmeasured = 0

    def ledger_total(self) -> int:
        """Bytes counted for the data: every database's ``mem``."""
        if self.ledger.unmeasured:
            self.measure_pending()
        return self.ledger.total

    def refresh(self, scripts_info: dict | None = None) -> None:
        """Take the client and script totals again (they change outside the ledger), and
        evict clients when they are over maxmemory-clients. `scripts_info`: the
        scripting engine's `info()` when the caller just read it (INFO memory does)."""
        self.client_count = len(self.client_map)
        self.clients = self.clients_bytes()
        self.scripts = self.scripts_bytes(scripts_info)[1]
        self.refreshed_tick = _monotonic_ns() // REFRESH_NS
        limit = self.evictor.clients_limit
        if limit and self.clients >= limit:
            self.evictor.evict_clients(limit)

    def counted(self) -> int:
        """What is compared with maxmemory: used_memory less the replica and AOF buffers.
        Client totals are at most 10 ms and REFRESH_CHECKS calls old, or one cron tick."""
        # The clock is read every REFRESH_CHECKS calls only (a clock read costs about
        # as much as the rest of this check), and when a client came or went; the cron
        # refreshes too.
        self.checks -= 1
        if self.checks <= 0 or len(self.client_map) != self.client_count:
            self.checks = REFRESH_CHECKS
            if len(self.client_map) != self.client_count or \
                    _monotonic_ns() // REFRESH_NS != self.refreshed_tick:
                self.refresh()
        if self.ledger.unmeasured:
            self.measure_pending()
        return self.startup + self.ledger.total + self.clients + self.scripts

    def not_counted(self) -> int:
        """mem_not_counted_for_evict: replica output buffers and the AOF buffer."""
        return self.replicas_bytes() + self.aof_bytes()

    def used(self, scripts_info: dict | None = None) -> int:
        """used_memory; `scripts_info` as `refresh` takes it."""
        self.refresh(scripts_info)
        used = self.counted() + self.not_counted()
        if used > self.peak:
            self.peak = used
            self.peak_time = int(time.time())
        return used

    def clients_bytes(self) -> int:
        """Normal (and pub/sub) clients: a fixed part plus their query and output buffers."""
        total = 0
        for client in self.engine.clients.values():
            # A client being closed frees its memory now (Redis's freeClient): not counted.
            if client.kind != "replica" and not client.closing:
                total += CLIENT_BASE + _client_buffers(client)
        return total

    def replicas_bytes(self) -> int:
        total = 0
        for client in self.engine.clients.values():
            # A killed replica's output buffer is freed with it, not when its socket goes.
            if client.kind == "replica" and not client.closing:
                total += CLIENT_BASE + _client_buffers(client)
        return total

    def aof_bytes(self) -> int:
        provider = getattr(self.engine, "aof_buffer_bytes", None)
        return int(provider()) if provider is not None else 0

    def keys_overhead(self) -> tuple[int, int, int]:
        """(main dict, expires, access records) bytes over every database."""
        main = expires = access = 0
        for db in self.engine.dbs:
            main += len(db.data) * KEY_SLOT
            expires += len(db.expires) * EXPIRE_ENTRY + (len(db.heap) - len(db.expires)) * HEAP_ENTRY
            access += len(db.access) * ACCESS_ENTRY
            if db.sample is not None:
                access += len(db.sample) * SAMPLE_ENTRY
        return main, expires, access

    def scripts_bytes(self, info: dict | None = None) -> tuple[int, int]:
        """(Lua VM bytes, cached script bytes) as the scripting engine reports them
        (`info`: its `info()`, when the caller has it)."""
        if info is None:
            scripts = getattr(self.engine, "scripts", None)
            if scripts is None:
                return 0, 0
            info = scripts.info()
        return int(info.get("used_memory_lua", 0)), int(info.get("used_memory_scripts", 0))


def _describe(client) -> str:
    try:
        from ..commands.connection import client_info_line
        return client_info_line(client, client.engine.clock.ms()).decode("utf-8", "replace")
    except Exception:       # a log line must not stop an eviction
        return "id=%s" % getattr(client, "id", "?")


def _client_buffers(client) -> int:
    """A client's memory besides its fixed part: buffers, the arguments of the command it
    is running, watched keys, subscriptions, tracking prefixes, the MULTI queue.

    Output counts once its turn has ended and the socket did not take it, not while it
    waits for the end of the turn: client totals are kept for up to REFRESH_NS, and a
    total taken while a turn's output waited (the cron runs before the turn's writes)
    would stand for bytes already gone. With tracking clients that output is the
    invalidations of an eviction, and counting it made the next command evict again
    for them, until no key was left (Redis's maxmemory test "client tracking don't
    cause eviction feedback loop")."""
    try:
        size = client.query_buffer_bytes() + client.unsent_bytes()
    except Exception:       # a script or AOF client has no buffers
        return 0
    memory = client.engine.memory
    if memory.argv_client is client:
        size += memory.argv_bytes
    parser = getattr(client, "parser", None)
    if parser is not None:
        size += parser.partial_bytes()
    items = len(client.watching) + len(client.channels) + len(client.patterns) + \
        len(client.shard_channels)
    if client.tracking is not None:
        items += len(client.tracking.prefixes)
    queue = client.multi
    if queue:
        items += len(queue)
        for entry in queue:
            size += sum(map(len, entry[1]))
    return size + items * CLIENT_ITEM


# -- eviction -----------------------------------------------------------------------------------

OOM_ERROR = b"OOM command not allowed when used memory > 'maxmemory'."
EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2
POOL_SIZE = 16
MAX_BATCH = 64          # victims chosen per sampling round
SLACK_SHIFT = 10        # a round frees down to maxmemory less 1/1024 of it ...
MAX_SLACK = 64 * 1024   # ... and at most this far under maxmemory
LFU_MAX = 255
_POLICY_ALLKEYS = frozenset(("allkeys-lru", "allkeys-lfu", "allkeys-random"))
_NOT_CHECKED = ("script", "aof", "master")     # client kinds the gate lets through


def time_limit_us(tenacity: int) -> float:
    """Redis's evictionTimeLimitUs: 50us per step up to 10, then +15% per step; 100 is unbounded."""
    if tenacity <= 10:
        return 50.0 * tenacity
    if tenacity < 100:
        return 500.0 * 1.15 ** (tenacity - 10)
    return float("inf")


POOL_CAP = MAX_BATCH + POOL_SIZE     # a round's victims and the candidates kept after it


class Pool:
    """Eviction candidates, best victim (smallest rank) first, at most ``cap`` of them:
    ranks and database indexes in C arrays (compiled; lists when run as Python), the keys
    in a list beside them. A candidate costs no object of its own: offering one that
    ranks below a full pool's worst is one comparison, keeping one a binary search and a
    shift of the entries under it. Equal ranks keep the order they were offered in (the
    pool's survivors of the previous round before the new samples), as a stable sort."""

    def __init__(self):
        self.keys: list = []
        self.size = 0
        self.cap = POOL_SIZE
        if not cython.compiled:
            self.ranks = [0] * POOL_CAP
            self.dbs = [0] * POOL_CAP

    def reset(self, cap: int) -> None:
        """Empty, holding at most `cap` (<= POOL_CAP) candidates from now on."""
        del self.keys[:]
        self.size = 0
        self.cap = cap

    def widen(self, cap: int) -> None:
        """Hold up to `cap` (<= POOL_CAP) candidates, keeping the ones held."""
        self.cap = cap if cap > self.size else self.size

    def offer(self, rank: int, db: int, key) -> None:
        size = self.size
        ranks = self.ranks
        if size == self.cap:
            if size == 0 or rank >= ranks[size - 1]:
                return
            size -= 1                   # the worst makes room
            del self.keys[size]
        lo = 0
        hi = size
        while lo < hi:
            mid = (lo + hi) >> 1
            if ranks[mid] <= rank:
                lo = mid + 1
            else:
                hi = mid
        dbs = self.dbs
        i = size
        while i > lo:
            ranks[i] = ranks[i - 1]
            dbs[i] = dbs[i - 1]
            i -= 1
        ranks[lo] = rank
        dbs[lo] = db
        self.keys.insert(lo, key)
        self.size = size + 1

    def keep(self, start: int, count: int) -> None:
        """Keep the `count` candidates from `start` on (the ones a round did not take)."""
        size = self.size
        end = start + count if start + count < size else size
        i = start
        ranks = self.ranks
        dbs = self.dbs
        while i < end:
            ranks[i - start] = ranks[i]
            dbs[i - start] = dbs[i]
            i += 1
        keys = self.keys
        del keys[end:]
        del keys[:start]
        self.size = end - start if end > start else 0
        self.cap = POOL_SIZE


class Evictor:
    """Frees memory by Redis's rules when the counted memory is over maxmemory."""

    def __init__(self, engine, memory: Memory):
        self.engine = engine
        self.memory = memory
        self.pool = Pool()              # candidates not evicted yet, best first
        self.next_db = 0
        self.exceeded_since = 0.0       # monotonic time used memory went over the limit
        self.exceeded_total_ms = 0
        self.running = False            # work left for the cron (time limit reached)
        self.hooks: list = []           # key_evicted(db, key): client-side tracking etc.
        self.policy = "noeviction"
        self.allkeys = False
        self.maxmemory = 0
        self.clients_limit = 0          # maxmemory-clients in bytes (0: no client eviction)
        self.samples = 5                # maxmemory-samples
        self.time_limit = 0.0           # maxmemory-eviction-tenacity as seconds per call
        self.dbs = engine.dbs           # made once with the engine, never replaced
        # The gate's memo of the last client checked (a client's kind is set when it is
        # made, before its first command, and never changes between checked and exempt).
        self.last_client = None
        self.last_exempt = False
        self.oom = False                # what engine.oom_state was last set to here
        # commands/memory.py's parts of the gate: client eviction and the -OOM refusal.
        self.clients_gate = None
        self.refusal = None

    def configure(self) -> None:
        cfg = self.engine.config
        self.samples = cfg["maxmemory-samples"]
        self.time_limit = time_limit_us(cfg["maxmemory-eviction-tenacity"]) / 1e6
        self.maxmemory = cfg["maxmemory"]
        # Redis's getClientEvictionLimit: a percentage applies to maxmemory (none without
        # one), and the limit is never under 128 KB, so the server stays reachable.
        setting = cfg["maxmemory-clients"]
        limit = self.maxmemory * -setting // 100 if setting < 0 else setting
        self.clients_limit = max(limit, CLIENT_EVICTION_MIN) if limit > 0 else 0
        self.policy = cfg["maxmemory-policy"]
        self.allkeys = self.policy in _POLICY_ALLKEYS
        self.pool.reset(POOL_SIZE)
        sampling = self.maxmemory > 0 and self.allkeys
        for db in self.engine.dbs:
            db.set_sampling(sampling)

    def gate(self, client, cmd, args):
        """The memory check before a command, as Redis's processCommand does it while
        maxmemory or maxmemory-clients is set: None lets the command run, else its
        refusal. Under the limit, a write costs a comparison of two C integers; the
        eviction loop runs only over it. Replicated, AOF and script commands are
        not checked (a script is checked once, when it starts)."""
        if client is not self.last_client:
            self.last_client = client
            self.last_exempt = client.kind in _NOT_CHECKED
        if self.last_exempt:
            return None
        if self.clients_limit:
            refusal = self.clients_gate(client, cmd, args)
            if refusal is not None or not self.maxmemory:
                return refusal
        if cmd.is_readonly and client.multi is None:
            # A read cannot grow the dataset: eviction waits for the next write, which
            # saves GET-heavy loads the sampling. Redis evicts here too.
            if self.oom:
                self.set_oom(False)
            return None
        if self.perform() != EVICT_FAIL:
            if self.oom:
                self.set_oom(False)
            return None
        self.set_oom(True)
        return self.refusal(client, cmd, args)

    def set_oom(self, state: bool) -> None:
        """engine.oom_state (Redis's pre_command_oom_state, which scripts read)."""
        self.oom = state
        self.engine.oom_state = state

    def over(self) -> int:
        """Bytes over the limit (0 when under it or when there is no limit)."""
        limit = self.maxmemory
        if not limit:
            return 0
        over = self.memory.counted() - limit
        return over if over > 0 else 0

    def perform(self) -> int:
        """Evict until under maxmemory: EVICT_OK, EVICT_RUNNING (time bound hit, the cron
        goes on) or EVICT_FAIL (over the limit and nothing can be freed).

        A round frees a little more than the overshoot (down to ``maxmemory - slack``,
        ``slack`` = maxmemory/1024, at most 64 KB), so a stream of writes at the limit
        starts a round every few dozen writes instead of at each one, and each round
        samples and scores its victims in one batch."""
        limit = self.maxmemory
        if not limit:
            return EVICT_OK
        used = self.memory.counted()
        if used <= limit:
            if self.exceeded_since:
                self._under()
            return EVICT_OK
        if not self.exceeded_since:
            self.exceeded_since = time.monotonic()
        if self.policy == "noeviction":
            return EVICT_FAIL
        perf_counter = time.perf_counter
        deadline = perf_counter() + self.time_limit
        target = limit - min(limit >> SLACK_SHIFT, MAX_SLACK)
        allkeys = self.allkeys
        fruitless = 0
        while used > target:
            active = [db for db in self.dbs if (db.data if allkeys else db.expires)]
            if not active:
                break
            freed = self.evict_round(active, used - target)
            if not freed:
                # Only stale candidates (keys gone since they were pooled): sample again.
                fruitless += 1
                if fruitless == 3:
                    break
                continue
            fruitless = 0
            used -= freed
            if used > limit and perf_counter() > deadline:
                self.running = True
                return EVICT_RUNNING
        self.running = False
        if used > limit:
            # Stale expiry-heap entries are counted until the heap is compacted (it is,
            # lazily, past 1024 of them): with nothing left to evict, reclaim them first.
            for db in self.dbs:
                if len(db.heap) > len(db.expires):
                    db.compact_heap()
                    used = -1
            if used == -1 and self.memory.counted() <= limit:
                self._under()
                return EVICT_OK
            return EVICT_FAIL
        self._under()
        return EVICT_OK

    def start_soon(self) -> None:
        """Evict from the loop once the running command is done (a whole transaction,
        when it is inside EXEC); past the time bound the cron goes on. Redis's
        startEvictionTimeProc, which CONFIG SET maxmemory calls: a lowered limit frees
        memory without waiting for the next command."""
        loop = self.engine.loop
        if loop is None:
            self.perform()
        else:
            loop.call_soon(self.perform)

    def evict_clients(self, limit: int) -> None:
        """Redis's evictClients: while the normal and pub/sub clients together hold
        `limit` bytes or more, close the one holding the most (CLIENT NO-EVICT ones, and
        replicas, masters, scripts, are never evicted)."""
        engine = self.engine
        sizes = []
        total = 0
        for client in engine.clients.values():
            if client.kind == "replica" or client.closing:
                continue
            size = CLIENT_BASE + _client_buffers(client)
            total += size
            if not client.no_evict and client.kind in ("normal", "pubsub") and hasattr(client, "abort"):
                sizes.append((size, client.id, client))
        sizes.sort(reverse=True)
        for size, _, client in sizes:
            if total < limit:
                break
            log.info("Evicting client: %s", _describe(client))
            client.abort()
            engine.stats.evicted_clients += 1
            total -= size
        self.memory.clients = total

    def _under(self) -> None:
        if self.exceeded_since:
            self.exceeded_total_ms += int((time.monotonic() - self.exceeded_since) * 1000)
            self.exceeded_since = 0.0

    def exceeded_ms(self) -> tuple[int, int]:
        """(total, current) milliseconds spent over maxmemory (INFO stats)."""
        current = int((time.monotonic() - self.exceeded_since) * 1000) if self.exceeded_since else 0
        return self.exceeded_total_ms + current, current

    def cron(self, now_ms: int) -> None:
        """Go on with an eviction the time bound interrupted (Redis's evictionTimeProc),
        for up to a quarter of a cron tick; keep used_memory_peak current.

        Nothing else starts an eviction here: as in Redis, evicting begins before a
        command (the gate) or when maxmemory is lowered. Between two commands the count
        includes output not yet written, such as the invalidations an eviction has just
        sent to tracking clients: evicting on that count would evict again for the
        messages of the last eviction, until the dataset is gone."""
        self.memory.used()      # measures the collections written since the last tick
        if self.running:
            deadline = time.perf_counter() + 0.25 / max(self.engine.config["hz"], 1)
            while self.perform() == EVICT_RUNNING and time.perf_counter() < deadline:
                pass

    # -- choosing victims ---------------------------------------------------------------------

    def evict_round(self, active: list, to_free: int) -> int:
        """Evict the best victims of one sampling round, until about `to_free` bytes are
        freed; returns the bytes freed (0: every candidate was stale).

        Sampling is Redis's, done for the whole round at once: ``maxmemory-samples``
        random keys per victim wanted from each database, scored, merged with the
        candidates the previous round left in the pool, best first; victims are taken
        from the front of the pool (a key gone since it was pooled, or sampled twice and
        already evicted, is skipped), and the pool keeps the POOL_SIZE best candidates
        not evicted."""
        keys = 0
        mem = 0
        for db in active:
            keys += len(db.data)
            mem += db.mem
        want = min(to_free * keys // mem + 1 if mem > 0 else 1, MAX_BATCH)
        if self.policy.endswith("random"):
            # Redis visits the databases in turn, one random key each time.
            n = len(active)
            freed = 0
            for i in range(want):
                db = active[(self.next_db + i) % n]
                picked = db.sample_keys(1) if self.allkeys else db.sample_volatile_keys(1)
                if picked:
                    freed += self.evict_keys(db, picked)
                    if freed >= to_free:
                        break
            self.next_db += want
            return freed
        pool = self._ranked(active, want * self.samples, want)
        dbs = self.dbs
        allkeys = self.allkeys
        freed = evicted = 0
        pos = 0
        end = pool.size
        pool_keys = pool.keys
        victims: list = []
        index = -1
        db = None
        while pos < end:
            at = pool.dbs[pos]
            key = pool_keys[pos]
            pos += 1
            if at != index:
                if victims:
                    freed += self.evict_keys(db, victims)
                    victims = []
                    if freed >= to_free:
                        pos -= 1
                        break
                index = at
                db = dbs[index]
            # A key sampled twice is a victim twice: its second deletion finds it gone.
            if key in (db.data if allkeys else db.expires):
                victims.append(key)
                evicted += 1
                if evicted == want:
                    break
        if victims:
            freed += self.evict_keys(db, victims)
        pool.keep(pos, POOL_SIZE)
        return freed

    def _ranked(self, active: list, samples: int, want: int) -> Pool:
        """The pool with the new candidates offered, best victim first (the `want` best
        and POOL_SIZE more are kept): for LRU the last access time, for LFU the decayed
        counter, for volatile-ttl the deadline (smaller is a better victim in each case,
        so ranks from different databases compare)."""
        policy = self.policy
        pool = self.pool
        pool.widen(want + POOL_SIZE)
        for db in active:
            index = db.index
            if self.allkeys and db.sample is not None:
                db.candidates(samples, pool, policy == "allkeys-lfu")
                continue
            if not self.allkeys:
                keys = db.sample_volatile_keys(samples)
            else:
                keys = db.sample_keys(samples)
            if policy.endswith("lru"):
                since = db.track_since_ms
                access = db.access
                for key in keys:
                    pool.offer(access.get(key, since), index, key)
            elif policy.endswith("lfu"):
                for key in keys:
                    pool.offer(db.lfu_counter(key), index, key)
            else:
                # The top of the expiry heap holds the nearest deadline and many near
                # ones (each entry is due no later than those under it): candidates too.
                nearest = db.nearest_expiry_key()
                if nearest is not None:
                    expires = db.expires
                    keys.extend([key for when, key in db.heap[:4 * want] if expires.get(key) == when])
                expires = db.expires
                for key in keys:
                    pool.offer(expires.get(key, 0), index, key)
        return pool

    def evict_keys(self, db, keys: list) -> int:
        """Delete `keys` of `db` as evictions: counted, propagated as DEL, notified, hooks
        told; returns the bytes freed. Keys already gone (or, for a volatile policy,
        without a TTL) are skipped."""
        engine = self.engine
        before = db.mem
        allkeys = self.allkeys
        sinks = engine.sinks
        notify = engine.notify_flags
        hooks = self.hooks
        if allkeys and not sinks and not notify and not hooks:
            # Nothing hears of the evictions but the counter: one C loop deletes them all.
            engine.stats.evicted_keys += db.delete_keys(keys)
            return before - db.mem
        delete = db.delete
        count = 0
        for key in keys:
            if not allkeys and key not in db.expires:
                continue
            if not delete(key):
                continue
            count += 1
            if sinks:
                engine.propagate(db.index, ((b"DEL", key),))
            if notify:
                engine.notify(db, "e", b"evicted", key)
            for hook in hooks:
                hook(db, key)
        engine.stats.evicted_keys += count
        return before - db.mem

    def evict(self, db, key: bytes) -> bool:
        """Delete `key` as an eviction (see evict_keys). False (nothing done) when the key
        is gone or, for a volatile policy, has no TTL."""
        before = self.engine.stats.evicted_keys
        self.evict_keys(db, [key])
        return self.engine.stats.evicted_keys != before
