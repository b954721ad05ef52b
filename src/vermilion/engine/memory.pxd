# Compiled layout of the accounting and the evictor (Cython pure-Python mode, see
# engine/core.pxd): the fields the check before every write reads are C members.
cimport cython

@cython.final
cdef class Memory:
    cdef public object engine, evictor, lazyfree, unmeasured, argv_client, total_mem
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
    cdef public object engine, pool, hooks, policy
    cdef public Memory memory
    cdef public long long maxmemory, clients_limit, next_db, exceeded_total_ms
    cdef public double exceeded_since
    cdef public bint running, allkeys
    cdef dict __dict__

    @cython.final
    @cython.locals(limit="long long", used="long long", target="long long", freed="long long")
    cpdef int perform(self)
