# Types redis.call's dispatch names in @cython.locals (Cython pure-Python mode, see
# engine/core.pxd): the engine's and the command's fields it reads are C members,
# and Engine.call a C call.
from vermilion.engine.core cimport CommandCore
from vermilion.engine.engine cimport Engine
