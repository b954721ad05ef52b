# Types the accounting wrapper's @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport ClientCore, EngineCore
from vermilion.engine.keyspace cimport Database
