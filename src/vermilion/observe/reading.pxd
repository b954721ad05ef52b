# Compiled layout of observe/reading.py (Cython pure-Python mode, see engine/core.pxd):
# a stream's fields are read as C struct members.
cimport cython
from vermilion.types.stream cimport Stream

@cython.locals(s=Stream, groups=dict, ngroups="Py_ssize_t", kept=dict, streams=list,
               groups_out=list, consumers=list, known_groups=dict, members=dict, labels=dict,
               entry=tuple, gentry=tuple, stamp=tuple, gstamp=tuple)
cpdef tuple read_streams(list selected, dict known, now)

@cython.locals(out=list)
cpdef list consumer_rows(list consumers, now)
