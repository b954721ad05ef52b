# Compiled layout of the stream's hot classes (Cython pure-Python mode, see
# engine/core.pxd). IDs and counters stay Python ints: stream IDs are 64-bit
# unsigned and XSETID may set anything.
cimport cython

cdef class _Node:
    cdef public object ms, seq, fields, msd, sq, offs, flags, blob
    cdef public Py_ssize_t live, dead, lpbytes
    cdef dict __dict__

cdef class Stream:
    cdef public list _nodes, _keys
    cdef public Py_ssize_t _head
    cdef public object length, last_id, first_id, max_deleted_id, entries_added
    cdef public dict groups, _fields_cache
    cdef dict __dict__

    @cython.locals(node=_Node, nodes=list)
    cpdef add_pair(self, field, value, now_ms, node_max_entries=*, node_max_bytes=*)
