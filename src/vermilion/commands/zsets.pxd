# Types the hot handlers' @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport ClientCore, EngineCore
from vermilion.engine.keyspace cimport Database
from vermilion.types.sortedset cimport SortedSet, ZSetIndex, index_add, index_remove
from vermilion.types.numeric cimport parse_double

# Module names the ZADD fast path reads: C globals, so no module-dict lookup per use on
# 3.12+ (where Cython no longer caches global lookups); their imports assign them.
cdef object ADDED, UPDATED
