cimport cython
# Types the hot handlers' @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.blocking cimport Blocking
from vermilion.engine.clock cimport Clock
from vermilion.engine.core cimport ClientCore, EngineCore
from vermilion.engine.keyspace cimport Database
from vermilion.types.stream cimport Stream, StreamGroup, id_bytes, id_key

# Parsed trim options: XADD reads them per request as C fields.
@cython.final
cdef class _Trim:
    cdef public object strategy, threshold, approx, limit
    cdef public Py_ssize_t marker, arg, limit_at

# XADD's option caches: C globals (no module-dict lookup per request on 3.12+).
cdef dict _OPTIONS_CACHE
cdef list _XADD_MEMO

# XADD's options, called as a C function by the handler (no module-global lookup
# and no Python call per request).
@cython.locals(star="Py_ssize_t", n="Py_ssize_t", i="Py_ssize_t", memo=list, opts=tuple)
cdef tuple _xadd_options(list args, EngineCore engine, max_entries)

# XACK's IDs as PEL keys (a C loop per ID in the common form).
@cython.locals(out=list, i=Py_ssize_t)
cdef list _strict_keys(list args, Py_ssize_t start)

# Entries as replied: the ID formatted in C from the StreamID's two items.
@cython.locals(out=list, pair=tuple, sid=tuple)
cdef list _entries(list entries)
