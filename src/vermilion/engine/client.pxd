from vermilion.engine.core cimport ClientCore

cdef class Client(ClientCore):
    pass
