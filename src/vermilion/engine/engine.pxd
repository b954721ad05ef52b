# Compiled layout of the engine (Cython pure-Python mode, see engine/core.pxd).
cimport cython
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC
from vermilion.engine.core cimport AclPlan, ClientCore, CommandCore, EngineCore, Stats
from vermilion.engine.keyspace cimport Database

cdef long long FAST_US
# The client gate bits dispatch tests (engine/client.py defines them): C globals, so a
# test is a compare of two C integers (a module global is a dict lookup per use on 3.12+).
cdef long GATE_ACL, GATE_MASTER, GATE_MULTI, GATE_NOAUTH

@cython.locals(ts=timespec)
cpdef long long monotonic_ns() noexcept

@cython.final
cdef class Engine(EngineCore):
    @cython.locals(cmd=CommandCore, sub=CommandCore, arity=int, plan=AclPlan, plans=list)
    @cython.final
    cpdef execute(self, ClientCore client, list args)

    @cython.locals(dirty="long long", start="long long", elapsed="long long", counts="long long[:]")
    @cython.final
    cpdef call(self, ClientCore client, CommandCore cmd, list args)

    # A C call from `call` after every collection write.
    @cython.locals(db=Database, pos="Py_ssize_t")
    @cython.final
    cpdef measure_later(self, ClientCore client, CommandCore cmd, list args)

    # A C call from `call` (every propagated write); still a method for everyone else.
    @cython.final
    cpdef propagate(self, long db_index, effects)
