# Compiled layout of observe/reading.py (Cython pure-Python mode, see engine/core.pxd):
# a stream's fields are read as C struct members.
cimport cython
from vermilion.types.stream cimport Stream, StreamGroup, StreamConsumer, _Node

from vermilion.engine.core cimport CommandCore
from vermilion.engine.keyspace cimport Database

cdef Py_ssize_t DELETED

@cython.locals(out=list, db=Database, expires=dict, index="Py_ssize_t")
cpdef list select_streams(list dbs, list candidates, long long now, Py_ssize_t limit)

@cython.locals(s=Stream, g=StreamGroup, groups=dict, ngroups="Py_ssize_t",
               ints=list, names=list, members=list, refs=list, old_ints=list,
               old_refs=list, old="Py_ssize_t", at="Py_ssize_t", keys=list, head="Py_ssize_t",
               nodes="Py_ssize_t", tail=_Node, flags=bytearray, top="Py_ssize_t")
cpdef tuple read_streams(list selected, tuple previous)

@cython.locals(consumers=dict, c=StreamConsumer)
cdef void _read_group(Stream s, object gname, StreamGroup g, list ints, list names,
                      list members) except *

@cython.locals(out=list, c=StreamConsumer)
cpdef list consumer_ints(list members)

@cython.locals(c=CommandCore, active=list, histograms=list)
cpdef tuple command_activity(tuple commands)
