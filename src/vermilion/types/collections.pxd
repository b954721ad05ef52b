# Compiled layout of the list types (Cython pure-Python mode, see engine/core.pxd): the
# hot list handlers (commands/lists.pxd cimports these) read a List's data and call a
# QuickList's push/take as C, and the QuickList's counters are C integers. No __dict__:
# the .py classes have __slots__, so an unknown attribute fails in both forms alike.
cimport cython

cdef Py_ssize_t _NODE_ENTRIES, _NODE_BYTES

cdef class _Packed:
    pass

cdef class List(_Packed):
    cdef public object data, mem

cdef class QuickList:
    cdef public object nodes, unit
    cdef public Py_ssize_t size, sealed, packed

    @cython.locals(open_node=list, n=Py_ssize_t)
    cpdef Py_ssize_t push(self, value, bint left) except -1

    @cython.locals(node=list, k=Py_ssize_t)
    cpdef take(self, bint left)
