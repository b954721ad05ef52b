# Compiled layout of the accounting and the evictor (Cython pure-Python mode, see
# engine/core.pxd): the fields the check before every write reads are C members.
cimport cython
from vermilion.engine.core cimport ClientCore, CommandCore

@cython.final
cdef class Ledger:
    cdef public long long total
    cdef public Py_ssize_t unmeasured


@cython.final
cdef class Pool:
    cdef public list keys
    cdef public Py_ssize_t size, cap
    cdef long long ranks[80]        # POOL_CAP (engine/memory.py)
    cdef int dbs[80]

    @cython.locals(ranks="long long *", dbs="int *", lo="Py_ssize_t", hi="Py_ssize_t",
                   mid="Py_ssize_t", i="Py_ssize_t", size="Py_ssize_t")
    cpdef void offer(self, long long rank, int db, key) except *
    cpdef void reset(self, Py_ssize_t cap) except *
    cpdef void widen(self, Py_ssize_t cap) noexcept
    @cython.locals(ranks="long long *", dbs="int *", i="Py_ssize_t", end="Py_ssize_t",
                   size="Py_ssize_t", keys=list)
    cpdef void keep(self, Py_ssize_t start, Py_ssize_t count) except *


@cython.final
cdef class Memory:
    cdef public object engine, evictor, lazyfree, argv_client
    cdef public Ledger ledger
    cdef public long long startup, process_startup_rss, peak, peak_time, clients, scripts
    cdef public long long refreshed_tick, argv_bytes
    cdef public list dbs
    cdef public int checks
    cdef public dict client_map
    cdef public Py_ssize_t client_count
    cdef dict __dict__

    @cython.final
    cpdef long long counted(self)


@cython.final
cdef class Evictor:
    cdef public object engine, hooks, policy, last_client, clients_gate, refusal
    cdef public Memory memory
    cdef public Pool pool
    cdef public list dbs
    cdef public long long maxmemory, clients_limit, next_db, exceeded_total_ms, samples
    cdef public double exceeded_since, time_limit
    cdef public bint running, allkeys, last_exempt, oom
    cdef dict __dict__

    @cython.final
    @cython.locals(client=ClientCore, cmd=CommandCore)
    cpdef gate(self, client, cmd, args)
    @cython.final
    cpdef set_oom(self, bint state)
    @cython.final
    @cython.locals(limit="long long", used="long long", target="long long", freed="long long")
    cpdef int perform(self)
    @cython.final
    @cython.locals(pool=Pool, pool_keys=list, at="int", index="int", pos="Py_ssize_t",
                   end="Py_ssize_t", evicted="Py_ssize_t", want="Py_ssize_t", victims=list,
                   keys="long long", mem="long long", freed="long long")
    cpdef long long evict_round(self, list active, long long to_free)
    @cython.final
    @cython.locals(pool=Pool)
    cpdef Pool _ranked(self, list active, Py_ssize_t samples, Py_ssize_t want)
    @cython.final
    cpdef long long evict_keys(self, db, list keys)
