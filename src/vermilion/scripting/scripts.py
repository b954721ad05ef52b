"""Running scripts: the EVAL cache, FUNCTION libraries, the run context, redis.* callbacks.

One `Scripts` object per engine (`engine.scripts`). It owns two Lua states (EVAL
and FUNCTION, as Redis has) and the client each state runs its redis.call()s as.

A script runs to completion on the event-loop thread, like every command, so it
is atomic by construction. The Lua count hook calls `lua_check` every 100000 VM
instructions; once the script has run longer than busy-reply-threshold it is
"timed out": the engine's BUSY_SCRIPT bit makes every other command pass the gate,
which answers BUSY except for SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE and the
allow_busy commands, and `busy.BusyServer` reads the other clients' sockets from
inside the hook so those commands are actually served (see docs/architecture.md).
"""
from __future__ import annotations

import hashlib
import logging
import time

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import CommandCore
from ..engine.client import GATE_ACL
from ..engine.engine import BUSY_MAXMEMORY, BUSY_MONITOR, BUSY_NOREPLICAS, BUSY_REPLICA, BUSY_SCRIPT, Engine
from ..engine.errors import CommandError, CountedError
from ..engine.replies import NO_REPLY, OK, ErrorReply, Status
from ..engine.table import count_rejected
from . import debugger, fastpath
from .runtime import LuaState, ScriptClient, error_text, lua_int, number_arg

_monotonic = time.monotonic
_NO_EFFECTS = ()     # engine.effects value meaning "already propagated"
# numkeys as clients usually send it: skips parse_int on the hot path.
_SMALL_INTS = {str(i).encode(): i for i in range(64)}

log = logging.getLogger("vermilion")

NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the dataset. "
              "You can either wait the script termination or kill the server in a hard way using "
              "the SHUTDOWN NOSAVE command.")
NOTBUSY = "NOTBUSY No scripts in execution right now."

_ERR_NO_ARGS = b"ERR Please specify at least one argument for this redis lib call"
_ERR_ARG_TYPE = b"ERR Lua redis lib command arguments must be strings or integers"
_ERR_UNKNOWN = b"ERR Unknown Redis command called from script"
_ERR_ARITY = b"ERR Wrong number of args calling Redis command from script"
_ERR_NOSCRIPT = b"ERR This Redis command is not allowed from script"
_ERR_READONLY = b"ERR Write commands are not allowed from read-only scripts."
# Redis 7.0 flags these may-replicate internally (COMMAND INFO does not show it), and
# read-only scripts refuse them like writes.
_MAY_REPLICATE = frozenset(("publish", "spublish", "pfcount"))
_UNKNOWN = ErrorReply(_ERR_UNKNOWN)
_ARITY = ErrorReply(_ERR_ARITY)
_NOSCRIPT_CMD = ErrorReply(_ERR_NOSCRIPT)
_READONLY = ErrorReply(_ERR_READONLY)
_OOM = ErrorReply(b"OOM command not allowed when used memory > 'maxmemory'.")
_REPLICA_READONLY = ErrorReply(b"READONLY You can't write against a read only replica.")
_STALE = ErrorReply(b"ERR Can not execute the command on a stale replica")
_OK_FOR_LUA = (b"OK", 2)     # lua_call's form of the +OK status
# A command's flags as redis.call's checks read them (Scripts.learn_call_flags).
_CALL_NOSCRIPT, _CALL_WRITE, _CALL_NOT_READ_ONLY = 1, 2, 4
# The commands whose flags a script or function declares (its shebang, register_function).
_DECLARING = frozenset(("eval", "evalsha", "fcall"))

_LOG_LEVELS = (logging.DEBUG, logging.INFO, 25, logging.WARNING)

# Script flags (the #!lua shebang of EVAL scripts and register_function's flags).
FLAG_NAMES = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")



def _command_argv(args) -> list | None:
    """A command's arguments from Lua (redis.call, redis.acl_check_cmd): strings as
    they are, numbers as Redis's Lua conversion writes them; None for anything else."""
    argv = []
    for a in args:
        c = type(a)
        if c is bytes:
            argv.append(a)
        elif c is int or c is float:
            argv.append(number_arg(a))
        else:
            return None
    return argv

class Script:
    __slots__ = ("sha", "body", "fn", "flags", "shebang", "plan", "allow_oom", "no_writes")

    def __init__(self, sha, body, fn, flags, shebang, plan=None):
        self.sha, self.body, self.fn, self.flags, self.shebang = sha, body, fn, flags, shebang
        self.plan = plan      # fastpath.Plan when the script runs without Lua
        # What a run reads of the declared flags (a script without a shebang declares none).
        self.no_writes = bool(shebang) and "no-writes" in flags
        self.allow_oom = self.no_writes or (bool(shebang) and "allow-oom" in flags)


class Function:
    __slots__ = ("name", "fn", "flags", "description", "library", "calls")

    def __init__(self, name, fn, flags, description, library):
        self.name, self.fn, self.flags = name, fn, flags
        self.description, self.library = description, library


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name, code):
        self.name, self.code = name, code
        self.functions: dict[bytes, Function] = {}


class RunContext:
    """State of the running script (Redis's scriptRunCtx)."""

    __slots__ = ("caller", "client", "name", "is_eval", "read_only", "write_dirty", "killed",
                 "start", "timed_out", "repl", "command", "shutdown", "allow_oom")

    def __init__(self, caller, client, name, is_eval, read_only, command):
        self.caller, self.client, self.name = caller, client, name
        self.is_eval, self.read_only, self.command = is_eval, read_only, command
        self.write_dirty = self.killed = self.timed_out = self.shutdown = False
        self.allow_oom = False      # the allow-oom (or no-writes) flag was declared
        self.start = time.monotonic()
        self.repl = 3


class Scripts:
    def __init__(self, engine):
        self.engine = engine
        self.ctx: RunContext | None = None
        self.busy_server = None
        self.scripts: dict[bytes, Script] = {}     # sha1 hex -> script
        self.by_body: dict[bytes, Script] = {}     # script body -> script (EVAL's lookup)
        self.last_script: Script | None = None     # EVAL's last (one of by_body's values)
        self.debug_armed = False                   # SCRIPT DEBUG YES/SYNC was ever asked for
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}
        self.loading: Library | None = None        # library being registered by FUNCTION LOAD
        self.load_deadline = 0.0
        # Created now so that, as in Redis, the two script clients take ids 1 and 2.
        self.eval_client = ScriptClient(engine)
        self.function_client = ScriptClient(engine)
        self.eval_lua = LuaState(self, "eval")
        self.function_lua = LuaState(self, "function")
        self.idle_ctx = RunContext(None, None, b"", True, False, ())
        self.ldb = None         # the Lua debugger's session while one runs (debugger.py)
        self.rand_state = 0x1234ABCD330E
        self.call_flags = {}        # command -> _CALL_* bits (learn_call_flags)
        self.threshold = 5.0
        self.apply_config()
        engine.config.listeners.append(self.apply_config)

    def apply_config(self, changed=None) -> None:
        if changed is None or "busy-reply-threshold" in changed:
            self.threshold = self.engine.config["busy-reply-threshold"] / 1000.0

    # redisLrand48 (rand.c): X = (0x5DEECE66D * X + 0xB) mod 2^48, returning X >> 17.
    # The state (self.rand_state) starts at 0x1234ABCD330E (rand.c's initial x[]) and
    # is shared by every script and function, as in Redis.
    def lrand48(self) -> int:
        x = (0x5DEECE66D * self.rand_state + 0xB) & 0xFFFFFFFFFFFF
        self.rand_state = x
        return x >> 17

    def srand48(self, seed) -> None:
        self.rand_state = ((int(seed) & 0xFFFFFFFF) << 16) | 0x330E

    def lib_helpers(self, name: str) -> dict:
        from .libs import helpers_for
        return helpers_for(name)

    def info(self) -> dict:
        """Numbers for INFO's memory section (Redis 7.0 field names)."""
        eval_mem = int(self.eval_lua.memory_bytes())
        func_mem = int(self.function_lua.memory_bytes())
        scripts_mem = sum(len(s.body) for s in self.scripts.values())
        functions_mem = sum(len(lib.code) for lib in self.libraries.values())
        return {
            "used_memory_vm_eval": eval_mem,
            "used_memory_lua": eval_mem,
            "used_memory_scripts_eval": scripts_mem,
            "number_of_cached_scripts": len(self.scripts),
            "number_of_functions": len(self.functions),
            "number_of_libraries": len(self.libraries),
            "used_memory_vm_functions": func_mem,
            "used_memory_vm_total": eval_mem + func_mem,
            "used_memory_functions": functions_mem,
            "used_memory_scripts": scripts_mem + functions_mem,
        }

    def declared_flags(self, command: str, arg: bytes):
        """The flags a script or function declared (None for a script without a shebang,
        or one not known): the OOM check before EVAL/FCALL reads them."""
        if command.startswith("fcall"):
            func = self.functions.get(arg)
            return func.flags if func is not None else None
        if command.startswith("evalsha"):
            script = self.scripts.get(arg) or self.scripts.get(arg.lower())
        else:
            script = self.by_body.get(arg)
            if script is None:
                # Not compiled here: only the shebang is read (evalGetCommandFlags).
                try:
                    flags, shebang, _ = parse_shebang(arg)
                except CommandError:
                    return None
                return flags if shebang else None
        if script is None or not script.shebang:
            return None
        return script.flags

    # -- EVAL ------------------------------------------------------------------------------

    def script_for_body(self, body: bytes) -> Script:
        script = self.by_body.get(body)
        if script is None:
            script = self.create(body)
        return script

    def create(self, body: bytes) -> Script:
        """Compile `body` into the cache (SCRIPT LOAD, first EVAL); errors as Redis words them."""
        sha = hashlib.sha1(body).hexdigest().encode()
        script = self.scripts.get(sha)
        if script is not None:
            self.by_body[body] = script
            return script
        flags, shebang, code = parse_shebang(body)
        fn = self.eval_lua.compile_fn(code, b"@user_script")
        if type(fn) is tuple:
            raise CommandError(b"ERR Error compiling script (new function): " + (fn[1] or b""))
        script = Script(sha, body, fn, flags, shebang, fastpath.plan(code))
        self.scripts[sha] = script
        self.by_body[body] = script
        return script

    def flush(self) -> None:
        """SCRIPT FLUSH: forget every script and start a fresh Lua state, as Redis does
        (so library settings such as cjson.encode_sparse_array are reset too)."""
        self.scripts.clear()
        self.by_body.clear()
        self.last_script = None
        old, self.eval_lua = self.eval_lua, LuaState(self, "eval")
        old.close()

    def eval_command(self, client, args: list, ro: bool, by_sha: bool):
        """EVAL / EVALSHA / EVAL_RO / EVALSHA_RO: the whole command (the hot path)."""
        small = _SMALL_INTS.get(args[2])
        if small is None or small > len(args) - 3:
            numkeys = parse_numkeys(args)
        else:
            numkeys = small
        # (Inside EXEC the script runs undebugged: a session would end the connection
        # in the middle of the transaction's reply.)
        if self.debug_armed and client.lua_debug is not None and client.multi is None:
            if by_sha:
                raise CommandError("ERR Please use EVAL instead of EVALSHA for debugging")
            debugging = True
        else:
            debugging = False
        if by_sha:
            sha = args[1]
            script = self.scripts.get(sha) or (self.scripts.get(sha.lower()) if len(sha) == 40 else None)
            if script is None:
                raise CommandError(NOSCRIPT)
        else:
            # A client repeating one script (the usual case) costs a bytes comparison,
            # not the hash of its body.
            script = self.last_script
            if script is None or script.body != args[1]:
                script = self.by_body.get(args[1])
                if script is None:
                    script = self.create(args[1])
                self.last_script = script
        read_only = ro
        self.idle_ctx.allow_oom = script.allow_oom
        if script.no_writes:
            read_only = True
        elif ro and script.shebang:
            raise CommandError("ERR Can not execute a script with write flag using *_ro command.")
        if debugging:
            return debugger.debug_eval(self, client, args, script, numkeys, read_only)
        plan = script.plan
        if plan is not None and plan.needs_keys <= numkeys and plan.needs_argv <= len(args) - 3 - numkeys:
            return self.run_fast(client, plan, args, numkeys, script.sha, read_only)
        return self.run(client, self.eval_lua, self.eval_client, script.fn, script.sha, True,
                        numkeys, args, read_only)

    def may_write(self, args: list, kind: str, declared: bool = False) -> bool:
        """Does this EVAL/EVALSHA/FCALL count as a write (CLIENT PAUSE WRITE holds it)?

        As Redis's evalGetCommandFlags/fcallGetCommandFlags: a script or function
        that declares flags writes unless it says no-writes; one without a
        shebang, or one not found, may write. With `declared`, only a declared
        write counts (a read-only replica refuses those before they run).
        """
        unknown = not declared
        if len(args) < 2:
            return unknown
        if kind == "fcall":
            func = self.functions.get(args[1].lower())
            return unknown if func is None else "no-writes" not in func.flags
        if kind == "evalsha":
            sha = args[1]
            script = self.scripts.get(sha) or (self.scripts.get(sha.lower()) if len(sha) == 40 else None)
            if script is None or not script.shebang:
                return unknown
            return "no-writes" not in script.flags
        script = self.by_body.get(args[1])
        if script is not None:
            return unknown if not script.shebang else "no-writes" not in script.flags
        try:
            flags, shebang, _ = parse_shebang(args[1])
        except CommandError:
            return unknown
        return unknown if not shebang else "no-writes" not in flags

    def call_writes(self, cmd, args: list) -> bool:
        """Is this call a write by its flags (Redis's getCommandFlags): a write command, or
        an EVAL/EVALSHA/FCALL whose script or function declares it may write."""
        return cmd.is_write or (cmd.name in _DECLARING and self.may_write(args, cmd.name, True))

    def exec_writes(self, client) -> bool:
        """Does the transaction EXEC would run write (Redis's mstate.cmd_flags)?"""
        return any(self.call_writes(cmd, argv) for cmd, argv in client.multi or ())

    def allows_stale(self, args: list, kind: str) -> bool:
        """May this EVAL*/FCALL* run on a stale replica (link down, replica-serve-stale-data
        no)? Only a script or function declaring allow-stale may (Redis's processCommand,
        and scriptPrepareForRun for scripts without a shebang); one not found runs, to
        fail with its own error."""
        if len(args) < 2:
            return True
        if kind.startswith("fcall"):
            func = self.functions.get(args[1].lower())
            return func is None or "allow-stale" in func.flags
        if kind.startswith("evalsha"):
            sha = args[1]
            script = self.scripts.get(sha) or (self.scripts.get(sha.lower()) if len(sha) == 40 else None)
            return script is None or (bool(script.shebang) and "allow-stale" in script.flags)
        script = self.by_body.get(args[1])
        if script is not None:
            return bool(script.shebang) and "allow-stale" in script.flags
        try:
            flags, shebang, _ = parse_shebang(args[1])
        except CommandError:
            return True
        return bool(shebang) and "allow-stale" in flags

    # -- FCALL ------------------------------------------------------------------------------

    def fcall_command(self, client, args: list, ro: bool):
        func = self.functions.get(args[1].lower())
        if func is None:
            raise CommandError("ERR Function not found")
        numkeys = parse_numkeys(args, "ERR Bad number of keys provided")
        if ro and "no-writes" not in func.flags:
            raise CommandError("ERR Can not execute a script with write flag using *_ro command.")
        read_only = ro or "no-writes" in func.flags
        self.idle_ctx.allow_oom = "allow-oom" in func.flags or "no-writes" in func.flags
        return self.run(client, self.function_lua, self.function_client, func.fn, func.name, False,
                        numkeys, args, read_only)

    # -- running ------------------------------------------------------------------------------

    def run(self, caller, state: LuaState, sclient, fn, name: bytes, is_eval: bool, numkeys: int,
            args: list, read_only: bool):
        """Run a compiled script or function for `caller`; returns its reply.

        Effects of the commands it runs are collected and sent to the propagation
        sinks as one MULTI/EXEC block (unless an enclosing EXEC collects them).
        """
        engine = self.engine
        if engine.monitors:
            # EVAL is skip_monitor in the table (as in Redis) so that it shows here,
            # before the commands the script runs.
            engine.feed_monitors(caller, args)
        own_capture = engine.sinks and engine.capture is None
        if own_capture:
            engine.capture = []
        sclient.db = caller.db
        sclient.resp3 = False
        ctx = self.idle_ctx
        ctx.caller, ctx.client, ctx.name, ctx.is_eval = caller, sclient, name, is_eval
        ctx.read_only, ctx.command = read_only, args
        ctx.write_dirty = ctx.killed = ctx.timed_out = ctx.shutdown = False
        ctx.repl = 3
        ctx.start = _monotonic()
        self.ctx = ctx
        try:
            if is_eval:
                result = state.run_eval(fn, numkeys, *args[3:])
            else:
                result = state.run_function(fn, numkeys, *args[3:])
        finally:
            self.ctx = None
            if ctx.timed_out:
                self.end_busy(ctx)
            if ctx.killed:
                state.arm_hook()
            if own_capture:
                effects, engine.capture = engine.capture, None
                propagate_block(engine, effects)
            engine.effects = _NO_EFFECTS    # propagated above, or collected by an enclosing EXEC
        if ctx.shutdown:
            return NO_REPLY     # SHUTDOWN NOSAVE ended it: the server exits without replying
        c = type(result)
        if c is bytes:
            return result
        if c is int:
            return result if -(1 << 63) <= result < (1 << 63) else -(1 << 63)
        if c is float:
            return lua_int(result)
        tag = result[0]
        if tag == 12:
            return None
        if tag == 11:
            return result[1] if sclient.resp3 else (1 if result[1] else None)
        if tag:
            reply = state.table_reply(result, sclient.resp3)
            if tag == 1:
                raise (CountedError if result[2] else CommandError)(reply.message)
            return reply
        msg, source, line, counted = (tuple(result[1:]) + (None, None, None, None))[:4]
        if msg is None:
            msg = b"ERR unknown error"
        elif type(msg) is not bytes:
            msg = number_arg(msg) if isinstance(msg, (int, float)) else str(msg).encode()
        if source is not None and line is not None:
            msg = b"%b script: %b, on %b:%d." % (msg, name, source, line)
        raise (CountedError if counted else CommandError)(msg)

    # -- busy scripts -------------------------------------------------------------------------

    def lua_check(self) -> bool:
        """The count hook: True means the script was killed and must stop."""
        ctx = self.ctx
        if ctx is None:
            # FUNCTION LOAD runs library code with a 500 ms budget, as Redis does.
            return self.loading is not None and _monotonic() > self.load_deadline
        if ctx.killed:
            return True
        if not ctx.timed_out:
            if time.monotonic() - ctx.start < self.threshold:
                return False
            self.begin_busy(ctx)
        self.busy_server.poll(lambda: ctx.killed)
        return ctx.killed

    def begin_busy(self, ctx: RunContext) -> None:
        from .busy import BusyServer
        ctx.timed_out = True
        log.warning("Slow script detected: still in execution after %d milliseconds. You can try "
                    "killing the script using the %s command. Script name is: %s.",
                    int((time.monotonic() - ctx.start) * 1000),
                    "SCRIPT KILL" if ctx.is_eval else "FUNCTION KILL", ctx.name.decode("utf-8", "replace"))
        self.engine.busy |= BUSY_SCRIPT
        self.busy_server = BusyServer(self.engine, ctx.caller)

    def end_busy(self, ctx: RunContext) -> None:
        self.engine.busy &= ~BUSY_SCRIPT
        server, self.busy_server = self.busy_server, None
        if server is not None:
            server.finish()

    def busy_refusal(self, client, cmd, args):
        """Gate check while a script is timed out (called by the transactions gate)."""
        ctx = self.ctx
        if ctx is None or not ctx.timed_out or client is ctx.client:
            return None
        error = BUSY_EVAL if ctx.is_eval else BUSY_FUNCTION
        if not cmd.allow_busy:
            return self.engine.reject(cmd, CommandError(error))
        name = cmd.fullname
        if name == "shutdown":
            if any(a.lower() == b"nosave" for a in args[1:]):
                ctx.killed = ctx.shutdown = True
                return None
            return self.engine.reject(cmd, CommandError(error))
        if name == "function|stats" and ctx.is_eval:
            return self.engine.reject(cmd, CommandError(BUSY_EVAL))
        return None

    def kill(self, is_eval: bool):
        """SCRIPT KILL / FUNCTION KILL."""
        ctx = self.ctx
        if ctx is None:
            raise CommandError(NOTBUSY)
        if ctx.write_dirty:
            raise CommandError(UNKILLABLE)
        if is_eval and not ctx.is_eval:
            raise CommandError(BUSY_FUNCTION)
        if not is_eval and ctx.is_eval:
            raise CommandError(BUSY_EVAL)
        ctx.killed = True

    # -- redis.* callbacks ----------------------------------------------------------------------

    def dispatch(self, argv: list):
        """Run one redis.call() with the script rules; failures come back as ErrorReply
        holding the text the Lua error table gets ("ERR ...", "WRONGTYPE ...")."""
        ctx = self.ctx
        if ctx is None:
            return self._refused(None, _UNKNOWN)
        engine = self.engine
        cmd = engine.lookup.get(argv[0])
        if cmd is None:
            cmd = engine.find_command(argv[0])
            if cmd is None:
                return self._refused(cmd, _UNKNOWN)
        n = len(argv)
        arity = cmd.arity
        if (arity > 0 and n != arity) or n < -arity:
            return self._refused(cmd, _ARITY)
        if cmd.subcommands is not None:
            cmd = cmd.subcommands.get(argv[1].lower())
            if cmd is None:
                return self._refused(cmd, _UNKNOWN)
            arity = cmd.arity
            if (arity > 0 and n != arity) or n < -arity:
                return self._refused(cmd, _ARITY)
        known = self.call_flags.get(cmd)
        flags = self.learn_call_flags(cmd) if known is None else known
        if flags & _CALL_NOSCRIPT:
            return self._refused(cmd, _NOSCRIPT_CMD)
        # A restricted user's client carries GATE_ACL (a C read), as the main dispatch reads it.
        caller = ctx.caller
        if caller is not None and caller.gate & GATE_ACL and caller.acl_restricted:
            refusal = engine.acl.script_refusal(caller, cmd, argv)
            if refusal is not None:
                return self._refused(cmd, refusal)
        is_write = flags & _CALL_WRITE
        if ctx.read_only and flags & _CALL_NOT_READ_ONLY:
            return self._refused(cmd, _READONLY)
        busy = engine.busy
        if busy & (BUSY_REPLICA | BUSY_NOREPLICAS):
            # A read-only replica: scripts may run, but not write (Redis's scriptCall).
            # These state checks stop a script's first write only: one that already
            # wrote cannot be failed halfway by a change of state (a replica lost
            # meanwhile).
            if is_write and busy & BUSY_REPLICA and engine.config["replica-read-only"] \
                    and caller.kind != "master" and not ctx.write_dirty:
                return self._refused(cmd, _REPLICA_READONLY)
            # A stale replica runs allow-stale scripts, whose calls are limited to the
            # commands that serve stale data (Redis's scriptVerifyAllowStale).
            if busy & BUSY_REPLICA and not cmd.stale_ok \
                    and not engine.config["replica-serve-stale-data"]:
                link = engine.master_link
                if link is not None and not link.connected:
                    return self._refused(cmd, _STALE)
            if is_write and busy & BUSY_NOREPLICAS and not ctx.write_dirty:
                refusal = engine.replication_primary.write_refusal()
                if refusal is not None:
                    return self._refused(cmd, refusal)
        # Redis's scriptVerifyOOM: OOM found when the script started stops its first
        # denyoom command, unless the script already wrote (it cannot stop halfway).
        # (oom_state is only ever set while maxmemory is: commands/memory.py.)
        if busy & BUSY_MAXMEMORY and cmd.denyoom and engine.oom_state and not ctx.allow_oom \
                and not ctx.write_dirty:
            return self._refused(cmd, _OOM)
        if is_write:
            ctx.write_dirty = True
        if ctx.repl != 3:
            return self._call_unreplicated(ctx, cmd, argv)
        reply = engine.call(ctx.client, cmd, argv)
        ldb = self.ldb
        if ldb is not None and ldb.step:
            # What the command answered, as a debugger step shows it (its error first).
            if type(reply) is ErrorReply:
                ldb.log_error(b"-" + reply.message)
            ldb.log_reply(reply, ctx.client.resp3)
            ldb.logged = True
        if type(reply) is ErrorReply:
            return ErrorReply(error_text(b"-" + reply.message))
        return reply

    def learn_call_flags(self, cmd) -> int:
        """The script rules' view of a command's flags (_CALL_*), kept per command: a
        command's flags are fixed when the table is built."""
        flags = 0
        if cmd.noscript:
            flags |= _CALL_NOSCRIPT
        if cmd.is_write:
            flags |= _CALL_WRITE
        if cmd.is_write or cmd.may_replicate or cmd.name in _MAY_REPLICATE:
            flags |= _CALL_NOT_READ_ONLY
        self.call_flags[cmd] = flags
        return flags

    def _refused(self, cmd, reply: ErrorReply) -> ErrorReply:
        """A redis.call() the script rules refuse: counted as Redis's scriptCall does (the
        error in errorstats, a rejected call of the command), once, here."""
        if cmd is not None:
            count_rejected(cmd)
        self.engine.count_error(reply.message)
        return reply

    def lua_call_packed(self, table, n: int):
        """redis.call with a long argument list, passed as a Lua table of `n` values."""
        return self.lua_call(*[table[i] for i in range(1, n + 1)])

    def lua_call(self, *args):
        """redis.call / redis.pcall: returns the reply as Lua sees it, or (text, 1) for an
        error, (text, 2) for a status (the Lua wrapper builds those tables)."""
        if self.ctx is None:
            return _ERR_UNKNOWN, 1
        if not args:
            return _ERR_NO_ARGS, 1
        argv = list(args)
        for a in args:
            if type(a) is not bytes:        # numbers (or a wrong type): converted one by one
                argv = _command_argv(args)
                if argv is None:
                    return _ERR_ARG_TYPE, 1
                break
        ldb = self.ldb
        if ldb is not None and ldb.step:
            reply = self._dispatch_logged(ldb, argv)
        else:
            reply = self.dispatch(argv)
        c = type(reply)
        if c is bytes or c is int:
            return reply
        if reply is OK:
            return _OK_FOR_LUA
        if c is Status:
            return reply.text, 2
        if c is ErrorReply:
            return reply.message, 1
        client = self.ctx.client
        if reply is None:
            return None if client.resp3 else False
        state = self.eval_lua if self.ctx.is_eval else self.function_lua
        return state.to_lua(reply, client.resp3)

    def _dispatch_logged(self, ldb, argv: list):
        """dispatch() while the debugger steps: the command, then its reply or refusal."""
        ldb.log_command(argv)
        ldb.logged = False
        reply = self.dispatch(argv)
        if type(reply) is ErrorReply and not ldb.logged:
            # Refused before it ran: Redis logs its own wording of the refusal.
            text = reply.message
            ldb.log_error(text[4:] if text.startswith(b"ERR ") else b"-" + text)
        return reply

    # -- the Lua debugger's callbacks (scripting/debugger.py) ------------------------------------

    def lua_ldb_line(self, is_line: bool, line: int):
        ldb = self.ldb
        return None if ldb is None else ldb.on_line(is_line, line)

    def lua_ldb_debug(self, n: int, *values):
        ldb = self.ldb
        if ldb is not None:
            ldb.debug(list(values[:n]) + [None] * (n - len(values)))

    def lua_ldb_breakpoint(self) -> bool:
        ldb = self.ldb
        if ldb is None:
            return False
        ldb.luabp = True
        return True

    def run_fast(self, caller, plan, args: list, numkeys: int, name: bytes, read_only: bool):
        """Run a script with a static shape (fastpath.Plan) without entering Lua.

        Only what redis.call reads is set up: no Lua code runs, so there is no hook,
        busy state, kill or PRNG to care about.
        """
        engine = self.engine
        self.idle_ctx.caller = caller       # redis.call checks ACL against the caller's user
        if engine.busy & BUSY_MONITOR and engine.monitors:
            engine.feed_monitors(caller, args)
        own_capture = False
        if engine.sinks and engine.capture is None:
            own_capture = True
            engine.capture = []
        sclient = self.eval_client
        sclient.db = caller.db
        sclient.resp3 = False
        # Only what dispatch() reads: nothing else can look at the context meanwhile
        # (no Lua runs, so no hook, no busy state, no SCRIPT KILL).
        ctx = self.idle_ctx
        ctx.client, ctx.read_only, ctx.write_dirty, ctx.repl = sclient, read_only, False, 3
        ctx.caller = caller         # client-side caching tracks the keys for the caller
        ctx.command = args
        self.ctx = ctx
        base = 2 + numkeys
        try:
            if plan.test is not None:
                line, specs = plan.test
                argv = []
                for k, v in specs:      # a loop, not a comprehension: no extra frame
                    argv.append(args[2 + v] if k == 0 else args[base + v] if k == 1 else v)
                reply = self.dispatch(argv)
                if type(reply) is ErrorReply:
                    raise CountedError(b"%b script: %b, on @user_script:%d." % (reply.message, name, line))
                k, v = plan.expected
                expected = args[2 + v] if k == 0 else args[base + v] if k == 1 else v
                if type(reply) is not bytes or reply != expected:
                    return plan.otherwise
            line, specs = plan.call
            argv = []
            for k, v in specs:
                argv.append(args[2 + v] if k == 0 else args[base + v] if k == 1 else v)
            reply = self.dispatch(argv)
            c = type(reply)
            if c is bytes or reply is OK:
                return reply
            if c is ErrorReply:
                raise CountedError(b"%b script: %b, on @user_script:%d." % (reply.message, name, line))
            return fastpath.resp2_roundtrip(reply)
        finally:
            self.ctx = None
            if own_capture:
                effects, engine.capture = engine.capture, None
                propagate_block(engine, effects)
            engine.effects = _NO_EFFECTS

    def _call_unreplicated(self, ctx, cmd, argv):
        """redis.set_repl(REPL_NONE | REPL_AOF | REPL_REPLICA): the command runs; its effects
        go nowhere, or are tagged with the one target they go to (see propagate_block)."""
        engine = self.engine
        capture = engine.capture
        mark = len(capture) if capture is not None else 0
        saved = ctx.repl
        ctx.repl = 3
        try:
            result = self.dispatch(argv)
        finally:
            ctx.repl = saved
        if capture is not None:
            if saved == 0:
                del capture[mark:]
            else:
                # A replicas-only effect (PUBLISH) stays so: the targets intersect.
                capture[mark:] = [(entry[0], entry[1], saved & entry[2] if len(entry) == 3 else saved)
                                  for entry in capture[mark:]]
        return result

    def lua_sha1hex(self, n, *args):
        if n != 1:
            return b"ERR wrong number of arguments", 1
        value = args[0]
        if type(value) is not bytes:
            if isinstance(value, (int, float)) and type(value) is not bool:
                value = _lua_tostring_number(value)
            else:
                value = b""
        return hashlib.sha1(value).hexdigest().encode()

    def lua_log(self, n, *args):
        if n < 2:
            return b"ERR redis.log() requires two arguments or more.", 1
        level = _lua_tonumber(args[0])
        if level is None:
            return b"ERR First argument must be a number (log level).", 1
        level = int(level)
        if not 0 <= level <= 3:
            return b"ERR Invalid debug level.", 1
        parts = []
        for a in args[1:]:
            if type(a) is bytes:
                parts.append(a)
            elif isinstance(a, (int, float)) and type(a) is not bool:
                parts.append(_lua_tostring_number(a))
        log.log(_LOG_LEVELS[level], "%s", b" ".join(parts).decode("utf-8", "replace"))
        return None

    def lua_setresp(self, n, *args):
        if n != 1:
            return b"ERR redis.setresp() requires one argument.", 1
        resp = _lua_tonumber(args[0]) or 0
        resp = int(resp)
        if resp not in (2, 3):
            return b"ERR RESP version must be 2 or 3.", 1
        ctx = self.ctx
        if ctx is not None:
            ctx.client.resp3 = resp == 3
        return None

    def lua_set_repl(self, n, *args):
        if n != 1:
            return b"ERR redis.set_repl() requires two arguments.", 1
        flags = int(_lua_tonumber(args[0]) or 0)
        if flags & ~3:
            return b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.", 1
        ctx = self.ctx
        if ctx is not None:
            ctx.repl = flags
        return None

    def lua_acl_check_cmd(self, *args):
        if not args:
            return _ERR_NO_ARGS, 1
        name = args[0]
        if type(name) is not bytes:
            return b"ERR Invalid command passed to redis.acl_check_cmd()", 1
        cmd = self.engine.find_command(name)
        if cmd is not None and cmd.subcommands is not None:
            sub = args[1] if len(args) > 1 else None
            cmd = cmd.subcommands.get(sub.lower()) if type(sub) is bytes else None
        if cmd is None:
            return b"ERR Invalid command passed to redis.acl_check_cmd()", 1
        argv = _command_argv(args)
        if argv is None:
            return _ERR_ARG_TYPE, 1
        # The calling client's user decides (the caller of EVAL/FCALL, not the script client).
        caller = self.ctx.caller if self.ctx is not None else None
        if caller is None or caller.user is None:
            return True
        return self.engine.acl.check(caller.user, cmd, argv)[0] == 0

    # -- FUNCTION LOAD ----------------------------------------------------------------------------

    def lua_register_function(self, n, *args):
        from .functions import register_function
        return register_function(self, n, args)


def parse_numkeys(args: list, error: str | None = None) -> int:
    numkeys = parse_int(args[2]) if error is None else parse_int(args[2], error)
    if numkeys > len(args) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return numkeys


def propagate_block(engine, effects: list) -> None:
    """Send collected (db, argv) effects to the sinks, wrapped in MULTI/EXEC when
    there are several (a single command is atomic by itself, as Redis 7.0 does).

    An effect may carry a third item, the targets redis.set_repl() chose (1: the AOF,
    2: the replicas); the wrapping is the same for every sink, as in Redis."""
    if not effects:
        return
    if len(effects) > 1:
        effects = [(effects[0][0], [b"MULTI"])] + effects + [(effects[-1][0], [b"EXEC"])]
    to_replicas = engine.replication.sink
    for sink in engine.sinks:
        target = 2 if sink == to_replicas else 1
        for entry in effects:
            if len(entry) == 3 and not entry[2] & target:
                continue
            sink(entry[0], list(entry[1]))


def parse_shebang(body: bytes):
    """EVAL's optional first line ``#!lua [flags=a,b]``: (flags, has_shebang, code to compile).

    The code keeps the newline that ends the shebang so line numbers match Redis's.
    """
    if not body.startswith(b"#!"):
        return frozenset(), False, body
    end = body.find(b"\n")
    line = body[:end] if end >= 0 else body
    code = body[end:] if end >= 0 else b""
    parts = line.split()
    if not parts or parts[0] != b"#!lua":
        raise CommandError(b"ERR Unexpected engine in script shebang: " + (parts[0] if parts else line))
    flags = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise CommandError(b"ERR Unknown lua shebang option: " + part)
        for flag in part[6:].split(b","):
            if not flag:
                continue
            name = flag.decode("utf-8", "replace")
            if name not in FLAG_NAMES:
                raise CommandError(b"ERR Unexpected flag in script shebang: " + flag)
            flags.add(name)
    return frozenset(flags), True, code


def _lua_tonumber(value):
    """Lua's tonumber for what lupa hands us (numbers, or strings that look like numbers)."""
    if type(value) is bool or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if type(value) is bytes:
        text = value.strip()
        try:
            if text[:2].lower() in (b"0x",) or text[:3].lower() in (b"-0x",):
                return int(text, 16)
            return float(text)
        except ValueError:
            return None
    return None


def _lua_tostring_number(value) -> bytes:
    """Lua 5.1's tostring of a number: %.14g."""
    if type(value) is int and -10**14 < value < 10**14:
        return b"%d" % value
    return (b"%.14g" % float(value)).replace(b"inf", b"inf")

# Last, as in engine/blocking.py: the command families import this module.
from ..commands._args import parse_int  # noqa: E402
