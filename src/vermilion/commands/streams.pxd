cimport cython
# Types the hot handlers' @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.clock cimport Clock
from vermilion.engine.core cimport ClientCore, EngineCore
from vermilion.engine.keyspace cimport Database
from vermilion.types.stream cimport Stream

# XADD's options, called as a C function by the handler (no module-global lookup
# and no Python call per request).
@cython.locals(star="Py_ssize_t")
cdef tuple _xadd_options(list args, EngineCore engine)
