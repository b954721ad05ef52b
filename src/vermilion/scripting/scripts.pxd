# Compiled layout of the scripting hot path (Cython pure-Python mode, see
# engine/core.pxd): EVAL/EVALSHA's lookup and the redis.call dispatch read these
# fields at fixed offsets and call each other as C methods.
cimport cython
from vermilion.engine.core cimport ClientCore, CommandCore
from vermilion.engine.engine cimport Engine
from vermilion.scripting.fastpath cimport Plan

cdef dict _SMALL_INTS
# Module constants the EVAL fast path and redis.call's checks read: C globals, so no
# module-dict lookup per use on 3.12+ (where Cython no longer caches global lookups).
# The imported ones are assigned by their import, as before.
cdef long _CALL_NOSCRIPT, _CALL_WRITE, _CALL_NOT_READ_ONLY
cdef long BUSY_MAXMEMORY, BUSY_NOREPLICAS, BUSY_REPLICA, BUSY_MONITOR, GATE_ACL
cdef object OK, ErrorReply, _NO_EFFECTS

# The running script's state, read on every redis.call.
cdef class RunContext:
    cdef public object caller, client, name, command
    cdef public bint is_eval, read_only, write_dirty, killed, timed_out, shutdown, allow_oom
    cdef public double start
    cdef public int repl

# One cached EVAL script; allow_oom and no_writes are its declared flags, read per run.
@cython.final
cdef class Script:
    cdef public object sha, body, fn, flags, shebang
    cdef public Plan plan
    cdef public bint allow_oom, no_writes

@cython.final
cdef class Scripts:
    cdef public Engine engine
    cdef public RunContext ctx, idle_ctx
    cdef public dict scripts, by_body, libraries, functions, call_flags
    cdef public ClientCore eval_client, function_client
    # EVAL's last script (its body compared before the by_body lookup hashes it), and
    # whether any client ever asked for SCRIPT DEBUG (else lua_debug is not read).
    cdef public Script last_script
    cdef public bint debug_armed
    cdef public object eval_lua, function_lua, busy_server, loading, ldb
    cdef public double load_deadline, threshold
    cdef dict __dict__

    @cython.locals(numkeys="Py_ssize_t", script=Script, plan=Plan, read_only=bint, debugging=bint)
    cpdef eval_command(self, ClientCore client, list args, bint ro, bint by_sha)

    @cython.locals(engine=Engine, sclient=ClientCore, ctx=RunContext, base="Py_ssize_t",
                   k="Py_ssize_t", argv=list, specs=tuple, line=object)
    cpdef run_fast(self, ClientCore caller, Plan plan, list args, Py_ssize_t numkeys, bytes name,
                   bint read_only)

    @cython.locals(engine=Engine, cmd=CommandCore, ctx=RunContext, n="Py_ssize_t", arity=int,
                   busy="long", is_write=bint, flags="long", caller=ClientCore)
    cpdef dispatch(self, list argv)
