# Compiled layout of Connection (Cython pure-Python mode, see engine/core.pxd).
cimport cython
from vermilion.engine.client cimport Client
from vermilion.engine.core cimport Stats
from vermilion.engine.engine cimport Engine
from vermilion.server.server cimport Server

# The reply markers and the encoder every batch reads: C globals (a module global is a
# dict lookup per use on 3.12+).
cdef object NO_REPLY, POSTPONED, Push, encode

@cython.final
cdef class Connection(Client):
    @cython.locals(engine=Engine, stats=Stats, out=list, ready=list)
    @cython.final
    cpdef data_received(self, data)

    @cython.locals(server=Server)
    @cython.final
    cpdef _write(self, list out)

    @cython.locals(engine=Engine, stats=Stats, server=Server)
    @cython.final
    cpdef flush(self, list out)
