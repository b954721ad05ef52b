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

from ..engine.engine import BUSY_SCRIPT
from ..engine.errors import CommandError
from ..engine.replies import ErrorReply, Status
from .runtime import LuaState, ScriptClient, error_text, number_arg

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

_LOG_LEVELS = (logging.DEBUG, logging.INFO, 25, logging.WARNING)

# Script flags (the #!lua shebang of EVAL scripts and register_function's flags).
FLAG_NAMES = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")


class Script:
    __slots__ = ("sha", "body", "fn", "flags", "shebang")

    def __init__(self, sha, body, fn, flags, shebang):
        self.sha, self.body, self.fn, self.flags, self.shebang = sha, body, fn, flags, shebang


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
                 "start", "timed_out", "repl", "command", "shutdown")

    def __init__(self, caller, client, name, is_eval, read_only, command):
        self.caller, self.client, self.name = caller, client, name
        self.is_eval, self.read_only, self.command = is_eval, read_only, command
        self.write_dirty = self.killed = self.timed_out = self.shutdown = False
        self.start = time.monotonic()
        self.repl = 3


class Scripts:
    def __init__(self, engine):
        self.engine = engine
        self.ctx: RunContext | None = None
        self.busy_server = None
        self.scripts: dict[bytes, Script] = {}     # sha1 hex -> script
        self.by_body: dict[bytes, Script] = {}     # script body -> script (EVAL's lookup)
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}
        self.loading: Library | None = None        # library being registered by FUNCTION LOAD
        # Created now so that, as in Redis, the two script clients take ids 1 and 2.
        self.eval_client = ScriptClient(engine)
        self.function_client = ScriptClient(engine)
        self.eval_lua = LuaState(self, "eval")
        self.function_lua = LuaState(self, "function")

    # redisLrand48 (rand.c): X = (0x5DEECE66D * X + 0xB) mod 2^48, returning X >> 17.
    # The state starts at 0x1234ABCD330E (rand.c's initial x[]) and is shared by
    # every script and function, as in Redis.
    rand_state = 0x1234ABCD330E

    def lrand48(self) -> int:
        x = (0x5DEECE66D * self.rand_state + 0xB) & 0xFFFFFFFFFFFF
        self.rand_state = x
        return x >> 17

    def srand48(self, seed) -> None:
        self.rand_state = ((int(seed) & 0xFFFFFFFF) << 16) | 0x330E

    def lib_helpers(self, name: str) -> dict:
        from .libs import helpers_for
        return helpers_for(name)

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
        if fn.__class__ is tuple:
            raise CommandError(b"ERR Error compiling script (new function): " + (fn[1] or b""))
        script = Script(sha, body, fn, flags, shebang)
        self.scripts[sha] = script
        self.by_body[body] = script
        return script

    def flush(self) -> None:
        self.scripts.clear()
        self.by_body.clear()
        # Redis also recreates the Lua state; ours holds no script globals worth resetting
        # (the sandbox forbids creating them), so the compiled functions just go away.

    def eval(self, client, args: list, script: Script, numkeys: int, ro: bool):
        read_only = ro
        if script.shebang:
            if "no-writes" in script.flags:
                read_only = True
            elif ro:
                raise CommandError("ERR Can not execute a script with write flag using *_ro command.")
        return self.run(client, self.eval_lua, self.eval_client, script.fn, script.sha, True,
                        numkeys, args[3:], read_only, args)

    # -- FCALL ------------------------------------------------------------------------------

    def fcall(self, client, args: list, numkeys: int, ro: bool):
        func = self.functions.get(args[1])
        if func is None:
            raise CommandError("ERR Function not found")
        read_only = ro or "no-writes" in func.flags
        if ro and "no-writes" not in func.flags:
            raise CommandError("ERR Can not execute a script with write flag using *_ro command.")
        return self.run(client, self.function_lua, self.function_client, func.fn, func.name, False,
                        numkeys, args[3:], read_only, args)

    # -- running ------------------------------------------------------------------------------

    def run(self, caller, state: LuaState, sclient, fn, name: bytes, is_eval: bool, numkeys: int,
            argv: list, read_only: bool, command: list):
        sclient.db = caller.db
        sclient.resp3 = False
        sclient.user = caller.user
        ctx = RunContext(caller, sclient, name, is_eval, read_only, command)
        self.threshold = self.engine.config["busy-reply-threshold"] / 1000.0
        self.ctx = ctx
        try:
            if is_eval:
                result = state.run_eval(fn, numkeys, *argv)
            else:
                result = state.run_function(fn, numkeys, *argv)
        finally:
            self.ctx = None
            if ctx.timed_out:
                self.end_busy(ctx)
            if ctx.killed:
                state.arm_hook()
        if result.__class__ is not tuple:
            result = (result,)
        if result[0] == 10:
            value = result[1] if len(result) > 1 else None
            c = value.__class__
            if c is bytes or c is int:
                return value if c is bytes or -(1 << 63) <= value < (1 << 63) else state.from_lua(value, False)
            return state.from_lua(value, sclient.resp3)
        msg, source, line = (tuple(result[1:]) + (None, None, None))[:3]
        if msg is None:
            msg = b"ERR unknown error"
        elif msg.__class__ is not bytes:
            msg = number_arg(msg) if isinstance(msg, (int, float)) else str(msg).encode()
        if source is not None and line is not None:
            msg = b"%b script: %b, on %b:%d." % (msg, name, source, line)
        raise CommandError(msg)

    # -- busy scripts -------------------------------------------------------------------------

    def lua_check(self) -> bool:
        """The count hook: True means the script was killed and must stop."""
        ctx = self.ctx
        if ctx is None:
            return False
        if ctx.killed:
            return True
        if not ctx.timed_out:
            if time.monotonic() - ctx.start < self.threshold:
                return False
            self.begin_busy(ctx)
        self.busy_server.poll()
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

    def lua_call(self, *args):
        """redis.call / redis.pcall: returns the reply as Lua sees it, or (text, 1) for an
        error, (text, 2) for a status (the Lua wrapper builds those tables)."""
        ctx = self.ctx
        if ctx is None:
            return _ERR_UNKNOWN, 1
        if not args:
            return _ERR_NO_ARGS, 1
        argv = []
        for a in args:
            c = a.__class__
            if c is bytes:
                argv.append(a)
            elif c is int or c is float:
                argv.append(number_arg(a))
            else:
                return _ERR_ARG_TYPE, 1
        engine = self.engine
        cmd = engine.lookup.get(argv[0])
        if cmd is None:
            cmd = engine.find_command(argv[0])
            if cmd is None:
                return _ERR_UNKNOWN, 1
        n = len(argv)
        arity = cmd.arity
        if (arity > 0 and n != arity) or n < -arity:
            return _ERR_ARITY, 1
        if cmd.subcommands is not None:
            cmd = cmd.subcommands.get(argv[1].lower())
            if cmd is None:
                return _ERR_UNKNOWN, 1
            arity = cmd.arity
            if (arity > 0 and n != arity) or n < -arity:
                return _ERR_ARITY, 1
        if cmd.noscript:
            return _ERR_NOSCRIPT, 1
        if cmd.is_write or cmd.may_replicate:
            if ctx.read_only:
                return _ERR_READONLY, 1
            if cmd.is_write:
                ctx.write_dirty = True
        client = ctx.client
        if ctx.repl != 3:
            return self._call_unreplicated(ctx, client, cmd, argv)
        reply = engine.call(client, cmd, argv)
        c = reply.__class__
        if c is bytes or c is int:
            return reply
        if c is Status:
            return reply.text, 2
        if c is ErrorReply:
            return error_text(b"-" + reply.message), 1
        if reply is None:
            return None if client.resp3 else False
        return self.eval_lua.to_lua(reply, client.resp3) if ctx.is_eval else \
            self.function_lua.to_lua(reply, client.resp3)

    def _call_unreplicated(self, ctx, client, cmd, argv):
        """redis.set_repl(REPL_NONE ...): the command runs but its effects are not propagated."""
        engine = self.engine
        capture = engine.capture
        mark = len(capture) if capture is not None else 0
        saved = ctx.repl
        ctx.repl = 3
        try:
            result = self.lua_call(*argv)
        finally:
            ctx.repl = saved
        if capture is not None and saved == 0:
            del capture[mark:]
        return result

    def lua_sha1hex(self, n, *args):
        if n != 1:
            return b"ERR wrong number of arguments", 1
        value = args[0]
        if value.__class__ is not bytes:
            if isinstance(value, (int, float)) and value.__class__ is not bool:
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
            if a.__class__ is bytes:
                parts.append(a)
            elif isinstance(a, (int, float)) and a.__class__ is not bool:
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
            # Effects feed both the AOF and replication here: any flag keeps them.
            ctx.repl = 3 if flags else 0
        return None

    def lua_acl_check_cmd(self, *args):
        if not args:
            return _ERR_NO_ARGS, 1
        name = args[0]
        if name.__class__ is not bytes:
            return b"ERR Invalid command passed to redis.acl_check_cmd()", 1
        cmd = self.engine.find_command(name)
        if cmd is not None and cmd.subcommands is not None:
            sub = args[1] if len(args) > 1 else None
            cmd = cmd.subcommands.get(sub.lower()) if sub.__class__ is bytes else None
        if cmd is None:
            return b"ERR Invalid command passed to redis.acl_check_cmd()", 1
        return True     # no ACL users yet: the default user may run everything

    # -- FUNCTION LOAD ----------------------------------------------------------------------------

    def lua_register_function(self, n, *args):
        from .functions import register_function
        return register_function(self, n, args)


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
    if value.__class__ is bool or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if value.__class__ is bytes:
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
    if value.__class__ is int and -10**14 < value < 10**14:
        return b"%d" % value
    return (b"%.14g" % float(value)).replace(b"inf", b"inf")
