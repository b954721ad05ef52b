# Compiled layout of Connection (Cython pure-Python mode, see engine/core.pxd).
cimport cython
from vermilion.engine.client cimport Client
from vermilion.engine.engine cimport Engine, Stats
from vermilion.server.server cimport Server

cdef class Connection(Client):
    @cython.locals(engine=Engine, stats=Stats, out=list)
    cpdef data_received(self, data)

    @cython.locals(server=Server)
    cpdef _write(self, list out)

    @cython.locals(engine=Engine, stats=Stats, server=Server)
    cpdef flush(self, list out)
