# Types the OOM check's @cython.locals name (Cython pure-Python mode, see engine/core.pxd).
from vermilion.engine.core cimport ClientCore, CommandCore, EngineCore
from vermilion.engine.memory cimport Evictor
