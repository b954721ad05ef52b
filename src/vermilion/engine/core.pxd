# Compiled layout of engine/core.py's classes (Cython pure-Python mode): the
# fields the per-request path reads become C struct members, read at a fixed
# offset by compiled code that knows the type, and still ordinary attributes for
# everyone else. `__dict__` keeps the subclasses' other attributes working.
cimport cython

cdef class CommandCore:
    cdef public object handler, fullname, subcommands
    cdef public int arity
    cdef public bint is_readonly, skip_slowlog, queued_in_multi
    cdef public long long calls, usec
    cdef public long long[:] histogram
    cdef public Py_ssize_t acl_index
    # A write on a collection: the position of the one key it names (> 0), or -1 for
    # the table's key positions; 0 otherwise (Engine.measure_later).
    cdef public Py_ssize_t measure_key
    cdef dict __dict__

cdef class Stats:
    cdef public long long total_commands, total_connections, rejected_connections
    cdef public long long expired_keys, evicted_keys, keyspace_hits, keyspace_misses
    cdef public long long net_input_bytes, net_output_bytes, error_replies
    cdef public long long unexpected_error_replies, pubsub_messages, evicted_clients
    cdef public dict error_codes
    cdef public object start_time, ops_samples

cdef class EngineCore:
    cdef public dict lookup
    cdef public long busy
    cdef public long long dirty
    cdef public bint reading
    cdef public object effects, sinks, blocking, reply_barrier, clock, config
    cdef public Stats stats
    cdef public long long slowlog_threshold
    cdef public long notify_flags
    cdef public bint latency_tracking
    cdef public object acl_gate
    cdef public object replication    # read by every propagated write (WAIT's offset)
    cdef dict __dict__

    # A C method (compiled callers only: Database.get), so no override check.
    cdef keyspace_miss(self, db, key)

cdef class ClientCore:
    cdef public long gate
    cdef public int reply_mode
    cdef public bint closing, resp3, authenticated
    cdef public EngineCore engine
    cdef public object blocked, last_command, db, batch, pending, server, transport
    cdef public object parser, last_interaction_ms, multi, watching
    cdef public bint multi_error, dirty_cas, deny_blocking
    cdef public list acl_plans
    cdef public long long woff        # set by every propagated write (WAIT)
    cdef dict __dict__

@cython.final
cdef class AclPlan:
    cdef public bint allowed, keyed
    cdef public Py_ssize_t nargs, pos
    cdef public bytes prefix
    cdef public tuple keys

    @cython.locals(key=bytes, prefix=bytes, pos="Py_ssize_t", n="Py_ssize_t", i="Py_ssize_t",
                   k="const char *", p="const char *")
    cpdef bint passes(self, list args) except -1
