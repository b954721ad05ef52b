# Compiled layout of the stream's hot classes (Cython pure-Python mode, see
# engine/core.pxd). IDs and counters stay Python ints: stream IDs are 64-bit
# unsigned and XSETID may set anything.
cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_SET_ITEM
from cpython.type cimport PyType_GenericAlloc

# C constants and helpers of the append path (no module-dict lookup on 3.12+).
cdef Py_ssize_t _LP_MAX_SIZE, _SAMEFIELDS, _DELETED
cdef object _tuple_new, _ID_TYPE, _array_append

cpdef int _lp_int_size(long long v)

cpdef new_id(ms, seq)

@cython.locals(b=bytes, n=Py_ssize_t, i=Py_ssize_t, start=Py_ssize_t, ch="unsigned char",
               ms="unsigned long long", seq="unsigned long long")
cpdef id_key(arg)

@cython.locals(buf="char[48]", i=Py_ssize_t)
cpdef bytes id_bytes(unsigned long long ms, unsigned long long seq)

cdef class _Node:
    cdef public object ms, seq, msd, sq, offs, blob
    cdef public tuple fields
    cdef public bytearray flags
    cdef public Py_ssize_t live, dead, lpbytes
    cdef dict __dict__

# The consumer-group state XREADGROUP and XACK touch per entry: C fields, so the
# hot loops read and write them without attribute lookups.
@cython.final
cdef class PendingEntry:
    cdef public object consumer, delivery_time, delivery_count

@cython.final
cdef class PendingList:
    cdef public dict _d
    cdef public list _keys
    cdef public bint _valid

    @cython.locals(keys=list, d=dict, pair=tuple)
    cpdef extend(self, list items)
    cpdef _removed(self)

@cython.final
cdef class StreamConsumer:
    cdef public object name, seen_time
    cdef public PendingList pel

@cython.locals(t=tuple)
cdef object _id_key(sid)

@cython.locals(nack=PendingEntry)
cdef PendingEntry _new_pending(StreamConsumer consumer, now_ms)

@cython.final
cdef class StreamGroup:
    cdef public object name, last_id, entries_read
    cdef public PendingList pel
    cdef public dict consumers

    @cython.locals(c=StreamConsumer)
    cpdef StreamConsumer _touch_consumer(self, name, now_ms)

    @cython.locals(gd=dict, nack=PendingEntry, owner=StreamConsumer, last=StreamConsumer,
                   n=Py_ssize_t)
    cpdef ack_keys(self, keys)

# Entries of one node for XRANGE/XREAD/XREADGROUP: a C loop over the node's flags
# and blob.
@cython.locals(flags=bytearray, b=bytes, names=tuple, count=Py_ssize_t, step=Py_ssize_t,
               i=Py_ssize_t, fl=Py_ssize_t, p=Py_ssize_t, n=Py_ssize_t)
cdef bint _emit(_Node node, Py_ssize_t lo, Py_ssize_t hi, list out, Py_ssize_t limit,
                bint rev) except -1

# Every slot of Stream.__slots__ is a field and there is no `__dict__` (none in Python
# either): a Stream's cpdef methods (add_pair, trim: C calls from XADD) then look up no
# Python override on a Stream itself; only a Python subclass is looked up (on 3.12+ a
# generic attribute lookup and a bound method per call, ~500 instructions).
#
# The length, the entries-added counter and the last ID's two halves are C integers: an
# append then makes no int object and no StreamID (`last_id` is a property that makes
# the StreamID when read and keeps it in `_last` until the next append). Counts fit a
# Py_ssize_t; entries-added is Redis's uint64, IDs are unsigned 64-bit.
cdef class Stream:
    cdef public list _nodes, _keys
    cdef public Py_ssize_t _head, length
    cdef public unsigned long long entries_added, _last_ms, _last_seq
    cdef public object _last, first_id, max_deleted_id
    cdef public dict groups, _fields_cache
    cdef public object mem, unit, _rax_memo

    # Stream IDs are unsigned 64-bit: the append's ID arithmetic fits C integers. `now_ms`
    # is one too: XADD passes its clock's C reading without making an int object.
    @cython.locals(node=_Node, nodes=list, n=Py_ssize_t, live=Py_ssize_t, lpbytes=Py_ssize_t,
                   v=bytes, blob=bytearray, flags=bytearray, master=tuple,
                   now="unsigned long long", last_ms="unsigned long long",
                   last_seq="unsigned long long", ms="unsigned long long",
                   seq="unsigned long long", node_ms="unsigned long long",
                   node_seq="unsigned long long", msd="unsigned long long", seq_size=Py_ssize_t)
    # The node limits are C integers too (both configs are bounded by LLONG_MAX): the size
    # tests make no int objects.
    cpdef add_pair(self, field, value, unsigned long long now_ms, long long node_max_entries=*,
                   long long node_max_bytes=*)

    # max_len: a C integer, so the usual "already short enough" test makes no int object.
    @cython.locals(nodes=list, node=_Node, max_len="long long")
    cpdef trim(self, strategy, threshold, approx=*, limit=*)

    # The lag of a group (XINFO GROUPS; a metrics scrape, per group, for every changed
    # stream): C calls, not a Python method call each (1,500-1,900 instructions).
    cpdef bint _has_tombstones_from(self, start) except -1
    cpdef estimate_entries_read(self, sid)
    cpdef lag(self, StreamGroup group)
