# Compiled layout of Server (Cython pure-Python mode, see engine/core.pxd).
cimport cython
from vermilion.engine.core cimport ClientCore

@cython.final
cdef class Server:
    cdef public object engine, config, clients
    cdef public list flush_queue
    cdef public bint obuf_limits_active, flush_scheduled
    cdef dict __dict__

    @cython.final
    cpdef schedule_flush(self, client)

    @cython.final
    cpdef end_of_turn(self)

    @cython.locals(client=ClientCore, queue=list)
    @cython.final
    cpdef flush_pending(self)
