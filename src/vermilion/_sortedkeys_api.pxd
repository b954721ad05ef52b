# The C API of vermilion._sortedkeys (its capsule `_C_API`), for Cython-compiled
# modules: see _sortedkeys.h, which documents each function (each does what the
# Python call of the same name does, errors included). types/sortedset.py is the
# one user: index_add / index_remove, which fall back to the Python calls when the
# C module is not built.
cdef extern from "_sortedkeys.h":
    ctypedef struct VermilionSortedKeysAPI:
        int version
        int (*add)(object keys, object key) except -1
        int (*remove)(object keys, object key) except -1
        object (*sort_key)(double score, object member)

    const VermilionSortedKeysAPI *vermilion_sortedkeys_api(object capsule) except NULL
