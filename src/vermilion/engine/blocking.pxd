# Compiled layout of engine/blocking.py's Blocking (Cython pure-Python mode, see
# engine/core.pxd): the two containers the per-request path tests become C fields,
# so a compiled caller that types its local as Blocking reads them without a generic
# attribute lookup (XADD's "is anyone waiting" test after every append). Its other
# attributes live in `__dict__`, as before.
cdef class Blocking:
    cdef public dict waiting
    cdef public list ready
    cdef dict __dict__
