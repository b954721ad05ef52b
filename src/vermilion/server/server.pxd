# Compiled layout of Server (Cython pure-Python mode, see engine/core.pxd).
cimport cython
from vermilion.engine.core cimport ClientCore
from vermilion.engine.replication cimport Replication

@cython.final
cdef class Server:
    cdef public object engine, config, clients
    cdef public list flush_queue
    cdef public bint obuf_limits_active, flush_scheduled
    # What every turn that wrote reads (schedule_flush, flush_pending): C fields.
    cdef public object obuf_normal_hard, flush_soon
    cdef public Replication replication
    cdef dict __dict__

    @cython.final
    cpdef schedule_flush(self, client)

    @cython.final
    cpdef end_of_turn(self)

    @cython.locals(client=ClientCore, queue=list, repl=Replication)
    @cython.final
    cpdef flush_pending(self)
