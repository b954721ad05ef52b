# Compiled layout of a static script's plan, read by Scripts.run_fast on every EVAL
# (Cython pure-Python mode, see engine/core.pxd).
cimport cython

@cython.final
cdef class Plan:
    cdef public object call, test, expected, otherwise
    cdef public Py_ssize_t needs_keys, needs_argv
