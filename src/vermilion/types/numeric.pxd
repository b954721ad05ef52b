# ZADD's score parse as a C call (Cython pure-Python mode, see engine/core.pxd):
# commands/zsets.pxd cimports parse_double, so the hot ZADD path calls it without a
# Python call (no vectorcall, no module-global lookup); Python callers see the same function.
cpdef parse_double(bytes arg)
