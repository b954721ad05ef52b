# Compiled layout of engine/replication.py (Cython pure-Python mode, see engine/core.pxd):
# the fields every propagated command reads or writes (the sink) are C struct members;
# the hooks and everything else stay ordinary attributes in `__dict__`.

cdef class Replication:
    cdef public object engine, backlog, role, end_of_turn
    cdef public list unsent
    cdef public dict replicas
    cdef public long long master_repl_offset
    cdef public long selected_db
    cdef dict __dict__

    cdef _flush_soon(self)
