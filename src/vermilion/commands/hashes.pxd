# Types the hot handlers' @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport ClientCore, EngineCore
from vermilion.engine.keyspace cimport Database

# The value type every handler tests: a C global, so no module-dict lookup per use on
# 3.12+ (where Cython no longer caches global lookups).
cdef object Hash
