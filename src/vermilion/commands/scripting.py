"""Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL, FCALL_RO, FUNCTION.

The Lua runtime lives in `vermilion.scripting` (one `Scripts` object per engine,
`engine.scripts`), which also runs EVAL/FCALL end to end (Scripts.eval_command is
the hot path) and sends a script's effects to the propagation sinks as one
MULTI/EXEC block, the way Redis 7.0 replicates scripts (effects, never the script
itself, so an AOF replays them deterministically).
"""
from __future__ import annotations

try:
    import cython
except ImportError:                 # not compiled and no Cython: the declarations do nothing
    from .. import _compiling as cython

from ..engine.core import ClientCore
from ..engine.engine import extension
from ..engine.errors import CommandError, subcommand_syntax
from ..engine.replies import OK, RespSet, Status
from ..engine.table import COMMANDS, command, container, numkeys_keys
from ..scripting.debugger import debuggable, owes_replies
from ..scripting.scripts import Scripts
from ._help import help_reply


# EVAL/EVALSHA/FCALL and their _RO forms: argv[3 : 3+numkeys].
_numkeys_positions = numkeys_keys(2)

_SCRIPT_FLAGS = "noscript stale skip_monitor no_mandatory_keys"
# EVAL, EVALSHA and FCALL may write (Redis flags them may_replicate); whether they do
# is the script's or function's declared flags (see Scripts.may_write).
_MAY_WRITE = "may_replicate " + _SCRIPT_FLAGS


@command("eval", arity=-3, flags=_MAY_WRITE, getkeys=_numkeys_positions, acl="scripting",
         group="scripting", since="2.6.0", summary="Executes a server-side Lua script.",
         args="script numkeys:i [key:k0...] [arg...]")
@cython.locals(client=ClientCore, scripts=Scripts)
def eval_(client, args):
    scripts = client.engine.scripts
    return scripts.eval_command(client, args, False, False)


@command("evalsha", arity=-3, flags=_MAY_WRITE, getkeys=_numkeys_positions, acl="scripting",
         group="scripting", since="2.6.0", summary="Executes a server-side Lua script by SHA1 digest.",
         args="sha1 numkeys:i [key:k0...] [arg...]")
@cython.locals(client=ClientCore, scripts=Scripts)
def evalsha(client, args):
    scripts = client.engine.scripts
    return scripts.eval_command(client, args, False, True)


@command("eval_ro", arity=-3, flags="readonly " + _SCRIPT_FLAGS, getkeys=_numkeys_positions,
         acl="scripting", group="scripting", since="7.0.0",
         summary="Executes a read-only server-side Lua script.",
         args="script numkeys:i [key:k0...] [arg...]")
@cython.locals(client=ClientCore, scripts=Scripts)
def eval_ro(client, args):
    scripts = client.engine.scripts
    return scripts.eval_command(client, args, True, False)


@command("evalsha_ro", arity=-3, flags="readonly " + _SCRIPT_FLAGS, getkeys=_numkeys_positions,
         acl="scripting", group="scripting", since="7.0.0",
         summary="Executes a read-only server-side Lua script by SHA1 digest.",
         args="sha1 numkeys:i [key:k0...] [arg...]")
@cython.locals(client=ClientCore, scripts=Scripts)
def evalsha_ro(client, args):
    scripts = client.engine.scripts
    return scripts.eval_command(client, args, True, True)


@command("fcall", arity=-3, flags=_MAY_WRITE, getkeys=_numkeys_positions, acl="scripting",
         group="scripting", since="7.0.0", summary="Invokes a function.",
         args="function numkeys:i [key:k0...] [arg...]")
def fcall(client, args):
    return client.engine.scripts.fcall_command(client, args, False)


@command("fcall_ro", arity=-3, flags="readonly " + _SCRIPT_FLAGS, getkeys=_numkeys_positions,
         acl="scripting", group="scripting", since="7.0.0", summary="Invokes a read-only function.",
         args="function numkeys:i [key:k0...] [arg...]")
def fcall_ro(client, args):
    return client.engine.scripts.fcall_command(client, args, True)


# -- SCRIPT ---------------------------------------------------------------------------------------

container("script", arity=-2, group="scripting", since="2.6.0",
          summary="A container for Lua scripts management commands.")


@command("script|load", arity=3, flags="noscript stale", acl="scripting", since="2.6.0",
         summary="Loads a server-side Lua script to the script cache.",
         args="script",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def script_load(client, args):
    return client.engine.scripts.create(args[2]).sha


@command("script|exists", arity=-3, flags="noscript", acl="scripting", since="2.6.0",
         summary="Determines whether server-side Lua scripts exist in the script cache.",
         args="sha1...",
         tips=("request_policy:all_shards", "response_policy:agg_logical_and"))
def script_exists(client, args):
    cache = client.engine.scripts.scripts
    return [1 if sha.lower() in cache else 0 for sha in args[2:]]


def _flush_mode(args, error: str) -> None:
    if len(args) > 3 or (len(args) == 3 and args[2].lower() not in (b"sync", b"async")):
        raise CommandError(error)


@command("script|flush", arity=-2, flags="noscript", acl="scripting", since="2.6.0",
         summary="Removes all server-side Lua scripts from the script cache.",
         args="[async(ASYNC|SYNC)@6.2.0]",
         tips=("request_policy:all_nodes", "response_policy:all_succeeded"))
def script_flush(client, args):
    _flush_mode(args, "ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    client.engine.scripts.flush()
    return OK


@command("script|kill", arity=2, flags="noscript allow_busy", acl="scripting", since="2.6.0",
         summary="Terminates a server-side Lua script during execution.",
         tips=("request_policy:all_shards", "response_policy:one_succeeded"))
def script_kill(client, args):
    client.engine.scripts.kill(True)
    return OK


@command("script|debug", arity=3, flags="noscript", acl="scripting", since="3.2.0",
         summary="Sets the debug mode of server-side Lua scripts.",
         args="mode(YES|SYNC|NO)")
def script_debug(client, args):
    mode = args[2].lower()
    if owes_replies(client):
        raise CommandError("ERR SCRIPT DEBUG must be called outside a pipeline")
    if mode == b"no":
        client.lua_debug = None
        return OK
    if mode in (b"yes", b"sync"):
        # YES (a forked session in Redis) runs as SYNC here: docs/compatibility.md.
        refusal = debuggable(client)
        if refusal is not None:
            raise CommandError(refusal)
        client.lua_debug = mode
        client.engine.scripts.debug_armed = True
        return OK
    raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


@command("script|help", arity=2, flags="loading stale", acl="scripting", since="5.0.0",
         summary="Returns helpful text about the different subcommands.")
def script_help(client, args):
    return help_reply("SCRIPT", [
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
    ])


# -- FUNCTION -------------------------------------------------------------------------------------

container("function", arity=-2, group="scripting", since="7.0.0",
          summary="A container for function commands.")


@command("function|load", arity=-3, flags="write denyoom noscript", acl="scripting", since="7.0.0",
         summary="Creates a library.",
         args="[REPLACE] function-code",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def function_load(client, args):
    from ..scripting.functions import load_library
    replace = False
    for option in args[2:-1]:
        if option.lower() == b"replace":
            replace = True
        else:
            raise CommandError(b"ERR Unknown option given: " + option)
    name = load_library(client.engine.scripts, args[-1], replace)
    client.engine.dirty += 1
    client.engine.rewrite([b"FUNCTION", b"LOAD", b"REPLACE", args[-1]])
    return name


@command("function|delete", arity=3, flags="write noscript", acl="scripting", since="7.0.0",
         summary="Deletes a library and its functions.",
         args="library-name",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def function_delete(client, args):
    from ..scripting.functions import delete_library
    delete_library(client.engine.scripts, args[2])
    client.engine.dirty += 1
    return OK


@command("function|flush", arity=-2, flags="write noscript", acl="scripting", since="7.0.0",
         summary="Deletes all libraries and functions.",
         args="[async(ASYNC|SYNC)]",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def function_flush(client, args):
    if len(args) > 3:
        raise subcommand_syntax(args)
    _flush_mode(args, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    scripts = client.engine.scripts
    scripts.libraries.clear()
    scripts.functions.clear()
    client.engine.dirty += 1
    return OK


@command("function|kill", arity=2, flags="noscript allow_busy", acl="scripting", since="7.0.0",
         summary="Terminates a function during execution.",
         tips=("request_policy:all_shards", "response_policy:one_succeeded"))
def function_kill(client, args):
    client.engine.scripts.kill(False)
    return OK


@command("function|list", arity=-2, flags="noscript", acl="scripting", since="7.0.0",
         summary="Returns information about all libraries.",
         args="[LIBRARYNAME=library-name-pattern] [WITHCODE]",
         tips=("nondeterministic_output_order",))
def function_list(client, args):
    from ..types.glob import glob_match
    with_code = False
    pattern = None
    i = 2
    while i < len(args):
        arg = args[i]
        low = arg.lower()
        if not with_code and low == b"withcode":
            with_code = True
        elif pattern is None and low == b"libraryname":
            if i >= len(args) - 1:
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = args[i]
        else:
            raise CommandError(b"ERR Unknown argument " + arg)
        i += 1
    out = []
    for lib in client.engine.scripts.libraries.values():
        if pattern is not None and not glob_match(pattern, lib.name, nocase=True):
            continue
        functions = []
        for func in lib.functions.values():
            functions.append({
                b"name": func.name,
                b"description": func.description,
                b"flags": RespSet(Status(f) for f in _flag_order(func.flags)),
            })
        entry = {b"library_name": lib.name, b"engine": b"LUA", b"functions": functions}
        if with_code:
            entry[b"library_code"] = lib.code
        out.append(entry)
    return out


def _flag_order(flags) -> list[str]:
    from ..scripting.scripts import FLAG_NAMES
    return [f for f in FLAG_NAMES if f in flags]


@command("function|stats", arity=2, flags="noscript allow_busy", acl="scripting", since="7.0.0",
         summary="Returns information about a function during execution.",
         tips=("nondeterministic_output", "request_policy:all_shards", "response_policy:special"))
def function_stats(client, args):
    scripts = client.engine.scripts
    ctx = scripts.ctx
    running = None
    if ctx is not None and not ctx.is_eval:
        import time
        running = {b"name": ctx.name, b"command": list(ctx.command),
                   b"duration_ms": int((time.monotonic() - ctx.start) * 1000)}
    functions = sum(len(lib.functions) for lib in scripts.libraries.values())
    return {b"running_script": running,
            b"engines": {b"LUA": {b"libraries_count": len(scripts.libraries),
                                  b"functions_count": functions}}}


@command("function|dump", arity=2, flags="noscript", acl="scripting", since="7.0.0",
         summary="Dumps all libraries into a serialized binary payload.")
def function_dump(client, args):
    from ..scripting.functions import dump
    return dump(client.engine.scripts)


@command("function|restore", arity=-3, flags="write denyoom noscript", acl="scripting",
         since="7.0.0", summary="Restores all libraries from a payload.",
         args="serialized-value [policy(FLUSH|APPEND|REPLACE)]",
         tips=("request_policy:all_shards", "response_policy:all_succeeded"))
def function_restore(client, args):
    from ..scripting.functions import restore
    if len(args) > 4:
        raise subcommand_syntax(args)
    policy = b"append"
    if len(args) == 4:
        policy = args[3].lower()
        if policy not in (b"append", b"replace", b"flush"):
            raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, "
                               "APPEND or REPLACE.")
    restore(client.engine.scripts, args[2], policy)
    client.engine.dirty += 1
    return OK


@command("function|help", arity=2, flags="loading stale", acl="scripting", since="7.0.0",
         summary="Returns helpful text about the different subcommands.")
def function_help(client, args):
    return help_reply("FUNCTION", [
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
    ])


COMMANDS["eval"].may_write = lambda engine, args: engine.scripts.may_write(args, "eval")
COMMANDS["evalsha"].may_write = lambda engine, args: engine.scripts.may_write(args, "evalsha")
COMMANDS["fcall"].may_write = lambda engine, args: engine.scripts.may_write(args, "fcall")


@extension
def _setup(engine) -> None:
    engine.scripts = Scripts(engine)
