cimport cython
# C helpers of the packed encoding's compiled path (Cython pure-Python mode, see
# engine/core.pxd): new bytes objects are built with one allocation and memcpy.
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy

# The skiplist encoding's fields at fixed offsets: ZADD reads `scores` and `order` as C
# fields (no generic attribute lookup per command). _Ranges is its base, without fields.
cdef class _Ranges:
    pass

@cython.final
cdef class ZSetIndex(_Ranges):
    cdef public dict scores
    cdef public object order, scans, unit

# The sorted set itself: `data` (packed bytes or a ZSetIndex) and `mem` at fixed offsets,
# so ZADD's `zs.data` is a C read, not a generic attribute lookup (~200 instructions on
# 3.12). Final: nothing subclasses it; the .py class has the same two slots.
@cython.final
cdef class SortedSet:
    cdef public object data, mem
