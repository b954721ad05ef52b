# Compiled layout of engine/replication.py (Cython pure-Python mode, see engine/core.pxd):
# the fields every propagated command reads or writes (the sink) are C struct members;
# the hooks and everything else stay ordinary attributes in `__dict__`.
cimport cython
from vermilion.engine.core cimport ClientCore

# Appended to once per event-loop turn that propagated a write: a C call from `flush`.
@cython.final
cdef class Backlog:
    cdef public Py_ssize_t size, histlen
    cdef public long long first_offset
    cdef public bytearray buf

    @cython.locals(buf=bytearray, excess=Py_ssize_t)
    cpdef append(self, data)

# What `flush` reads of each replica, once per turn, as C fields.
@cython.final
cdef class ReplicaLink:
    cdef public ClientCore client
    cdef public bint streaming, rdb_only, pre_psync
    cdef public long long start_offset, pending_bytes
    cdef public list pending
    cdef public object state, ack_offset, ack_time_ms, listening_port, ip, capa, since_ms, req

cdef class Replication:
    cdef public object engine, role, end_of_turn
    cdef public Backlog backlog
    cdef public list unsent
    cdef public dict replicas
    cdef public long long master_repl_offset
    cdef public long selected_db
    cdef dict __dict__

    cdef _flush_soon(self)

    @cython.locals(unsent=list, backlog=Backlog, link=ReplicaLink, client=ClientCore)
    cpdef flush(self)
