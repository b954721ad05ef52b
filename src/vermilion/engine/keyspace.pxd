# Compiled layout of Database (Cython pure-Python mode, see engine/core.pxd).
cimport cython
from vermilion.engine.core cimport EngineCore
from vermilion.engine.clock cimport Clock
from vermilion.engine.memory cimport Ledger, Pool

@cython.final
cdef class Database:
    cdef public int index
    cdef public EngineCore engine
    cdef public dict data, expires, watched, access
    cdef public object ttl_sum
    cdef public list heap
    cdef public object scan_index, scan_used_ms, track_since_ms
    cdef public int track
    cdef public bint notify_new, hooked
    cdef public long long mem
    cdef public Ledger ledger
    cdef public object sample
    cdef public long long lru_ms
    cdef public object lru_stamp
    cdef public set unmeasured
    cdef dict __dict__

    # Called by the hot handlers as C calls. Final (the class too): a method a
    # subclass could override costs a lookup of its name on every call on 3.12+
    # (Cython caches that check with dict versions, which 3.12 deprecated).
    @cython.final
    cpdef get(self, key)
    @cython.final
    cpdef set(self, key, value, keep_ttl=*)
    @cython.final
    cpdef add(self, key, value)
    # The write and lookup hooks and the one deletion path (DEL, eviction, expiry):
    # C calls from the methods above and from each other.
    @cython.final
    cpdef delete(self, key)
    @cython.final
    @cython.locals(count="Py_ssize_t")
    cpdef Py_ssize_t delete_keys(self, list keys) except -1
    @cython.final
    cpdef _stored(self, key, bint new)
    @cython.final
    cpdef _removed(self, key)
    @cython.final
    cpdef void _grow(self, long long delta) noexcept
    @cython.final
    @cython.locals(pending=set, n="Py_ssize_t")
    cpdef written(self, key)
    @cython.final
    cpdef touch(self, key)
    @cython.final
    @cython.locals(access=dict, n="Py_ssize_t")
    cpdef record_write(self, key)
    @cython.final
    @cython.locals(clock=Clock, now="long long")
    cpdef lru_now(self)
    @cython.final
    @cython.locals(sample=list, keys=list, data=dict, access=dict, n="Py_ssize_t",
                   live="Py_ssize_t", picks="Py_ssize_t", step="Py_ssize_t", i="Py_ssize_t")
    cpdef candidates(self, Py_ssize_t count, Pool pool, bint lfu)
