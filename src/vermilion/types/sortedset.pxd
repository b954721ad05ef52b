cimport cython
# C helpers of the packed encoding's compiled path (Cython pure-Python mode, see
# engine/core.pxd): new bytes objects are built with one allocation and memcpy.
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy
from vermilion._sortedkeys_api cimport VermilionSortedKeysAPI, vermilion_sortedkeys_api

# The C index's API (vermilion/_sortedkeys.h), NULL when that module is not built.
cdef const VermilionSortedKeysAPI *_index_api
# The skiplist encoding's index updates: C calls from ZADD (commands/zsets.pxd cimports
# them) and from SortedSet's methods; Python callers see the same functions.
cpdef index_add(order, double score, bytes member)
cpdef index_remove(order, double score, bytes member)

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
