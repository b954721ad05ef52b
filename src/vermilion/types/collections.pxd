# Compiled layout of the list types (Cython pure-Python mode, see engine/core.pxd): the
# hot list handlers (commands/lists.pxd cimports these) read a List's data and call a
# QuickList's push/take as C, and the QuickList's counters are C integers. No __dict__:
# the .py classes have __slots__, so an unknown attribute fails in both forms alike. Final
# (nothing subclasses them): their cpdef methods are plain C calls on 3.12+ too, with no
# per-call check for an override (docs/benchmarks.md, 3.12 / 3.13 follow-up).
cimport cython
# A sealed node's bytes are written with one allocation and memcpy (_seal, _packed).
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy, memmove
# A left push moves the open head node's pointers with one memmove (_insert_first).
from cpython.ref cimport PyObject
from cpython.sequence cimport PySequence_Fast_ITEMS

cdef Py_ssize_t _NODE_ENTRIES, _NODE_BYTES, _NODE_OVERHEAD

@cython.locals(items="PyObject **")
cdef _insert_first(list node, value)

cdef class _Packed:
    pass

@cython.final
cdef class List(_Packed):
    cdef public object data, mem

@cython.final
cdef class QuickList:
    cdef public object nodes, unit
    cdef public Py_ssize_t size, sealed, packed

    # Sealing and opening nodes: C methods (a push seals its full end node as a C call).
    cdef _add_sealed(self, tuple node)
    cdef list _open(self, Py_ssize_t k)
    cdef _reseal(self, Py_ssize_t k)

    @cython.locals(open_node=list, n=Py_ssize_t)
    cpdef Py_ssize_t push(self, value, bint left) except -1

    @cython.locals(node=list, k=Py_ssize_t)
    cpdef take(self, bint left)
