# Compiled layout of Database (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport EngineCore

cdef class Database:
    cdef public int index
    cdef public EngineCore engine
    cdef public dict data, expires, watched, access
    cdef public list heap
    cdef public object scan_index, scan_used_ms, track_since_ms
    cdef public int track
    cdef public bint notify_new, hooked
    cdef dict __dict__

    # Called by the hot handlers as C calls (a Python subclass could still override them).
    cpdef get(self, key)
    cpdef set(self, key, value, keep_ttl=*)
    cpdef add(self, key, value)
