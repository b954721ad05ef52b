# Compiled layout of observe/reading.py (Cython pure-Python mode, see engine/core.pxd):
# a stream's fields are read as C struct members.
cimport cython
from vermilion.types.stream cimport Stream, StreamGroup, StreamConsumer
from vermilion.engine.core cimport CommandCore

@cython.locals(s=Stream, g=StreamGroup, groups=dict, consumers=dict, ngroups="Py_ssize_t",
               ints=list, names=list, members=list, kept=dict, refs=list, old_ints=list,
               old_kept=dict, old_refs=list, at="Py_ssize_t", old="Py_ssize_t")
cpdef tuple read_streams(list selected, tuple previous)

@cython.locals(out=list, c=StreamConsumer)
cpdef list consumer_ints(list members)

@cython.locals(c=CommandCore, total="long long", calls="long long", active=list, histograms=list)
cpdef tuple command_activity(tuple commands)
