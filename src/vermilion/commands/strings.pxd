cimport cython
# Types the hot handlers' @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport ClientCore, EngineCore
from vermilion.engine.keyspace cimport Database

# INCR's parse of a stored counter: a C function with a C loop over the digits.
@cython.locals(n="Py_ssize_t", i="Py_ssize_t", c="unsigned char", r="long long")
cdef long long _small_counter(bytes value) except? -2

# Module constants the hot handlers read: C globals, so no module-dict lookup per use
# on 3.12+ (where Cython no longer caches global lookups).
cdef object OK, _LLONG_MIN, _LLONG_MAX
