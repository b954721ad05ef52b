# Types redis.call's dispatch names in @cython.locals (Cython pure-Python mode, see
# engine/core.pxd): the engine's and the command's fields it reads are C members,
# and Engine.call a C call.
from vermilion.engine.core cimport CommandCore
from vermilion.engine.engine cimport Engine

# The running script's state, read on every redis.call.
cdef class RunContext:
    cdef public object caller, client, name, command
    cdef public bint is_eval, read_only, write_dirty, killed, timed_out, shutdown, allow_oom
    cdef public double start
    cdef public int repl
