# Types the @cython.locals of the OOM check and of the accounting wrapper (Cython
# pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport ClientCore, CommandCore, EngineCore
from vermilion.engine.keyspace cimport Database
from vermilion.engine.memory cimport Evictor
