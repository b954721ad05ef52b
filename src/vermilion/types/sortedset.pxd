# C helpers of the packed encoding's compiled path (Cython pure-Python mode, see
# engine/core.pxd): new bytes objects are built with one allocation and memcpy.
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.string cimport memcpy
