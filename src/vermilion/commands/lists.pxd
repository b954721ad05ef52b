# Types the hot handlers' @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport ClientCore, EngineCore
from vermilion.engine.keyspace cimport Database
from vermilion.types.collections cimport List, QuickList
