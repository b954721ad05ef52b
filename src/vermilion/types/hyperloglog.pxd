# Compiled form of the PFADD path (Cython pure-Python mode, see engine/core.pxd): the
# hash and the register arithmetic in C unsigned 64-bit integers.
cimport cython

cdef unsigned long long _M, _MASK, _P, _REGISTERS, _Q_BIT
cdef Py_ssize_t _HDR

@cython.locals(b="const unsigned char *", n=Py_ssize_t, end=Py_ssize_t, p=Py_ssize_t, i=Py_ssize_t,
               m="unsigned long long", mask="unsigned long long", h="unsigned long long",
               k="unsigned long long")
cpdef unsigned long long murmurhash64a(data, unsigned long long seed=*) except? 0

@cython.locals(h="unsigned long long", index=Py_ssize_t, run=int)
cpdef tuple pattern(element)

@cython.locals(pos=Py_ssize_t, byte=Py_ssize_t, fb=int, b0=int, b1=int)
cpdef int dense_set(bytearray value, Py_ssize_t index, int count) except -1
