# Compiled layout of the engine's clock (Cython pure-Python mode, see engine/core.pxd).
# No fields and no __dict__: on a plain Clock the cpdef override check is two
# pointer reads, so a typed caller's ms() is a C call; FakeClock (a Python
# subclass) is found overriding it and called as Python.
cimport cython
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME

cdef class Clock:
    @cython.locals(ts=timespec)
    cpdef long long ms(self) except? -1
