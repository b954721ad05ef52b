# Compiled layout of the engine (Cython pure-Python mode, see engine/core.pxd).
cimport cython
from vermilion.engine.core cimport AclPlan, ClientCore, CommandCore, EngineCore

cdef long long FAST_US

cdef class Stats:
    cdef public long long total_commands, total_connections, rejected_connections
    cdef public long long expired_keys, evicted_keys, keyspace_hits, keyspace_misses
    cdef public long long net_input_bytes, net_output_bytes, error_replies
    cdef public long long unexpected_error_replies, pubsub_messages, evicted_clients
    cdef public dict error_codes
    cdef public object start_time, ops_samples

@cython.final
cdef class Engine(EngineCore):
    @cython.locals(cmd=CommandCore, sub=CommandCore, arity=int, plan=AclPlan, plans=list)
    @cython.final
    cpdef execute(self, ClientCore client, list args)

    @cython.locals(dirty="long long", start="long long", elapsed="long long", counts="long long[:]")
    @cython.final
    cpdef call(self, ClientCore client, CommandCore cmd, list args)
