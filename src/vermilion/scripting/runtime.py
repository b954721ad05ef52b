"""One Lua 5.1 state (lupa's `lupa.lua51`) with Redis's sandbox, and the conversions.

Two states exist per engine, as in Redis: one for EVAL scripts and one for
FUNCTION libraries. Each is built by running the libraries (bit, struct, cjson,
cmsgpack) and then `prelude.PRELUDE`, which returns the handful of Lua functions
Python drives (compile, run_eval, run_function, classify ...).

Conversions follow Redis 7.0's script_lua.c exactly:

* Redis reply -> Lua (`to_lua`, for redis.call/pcall results), by the script's
  protocol (redis.setresp): RESP2 maps/sets/doubles arrive as arrays/bulks and
  null as false; RESP3 gives {map=}, {set=}, {double=}, {big_number=},
  {verbatim_string=}, booleans and nil.
* Lua -> Redis reply (`from_lua`, for the script's result): numbers are cast to
  64-bit integers the way C casts them (out of range -> INT64_MIN), tables are
  checked for err/ok/double/big_number/verbatim_string/map/set in that order and
  otherwise read as arrays up to the first nil, booleans depend on setresp.
"""
from __future__ import annotations

import math

import lupa.lua51 as lua51

from ..engine.client import Client
from ..engine.replies import (
    NO_REPLY, NULL_ARRAY, OK, BigNumber, Deep, ErrorReply, HumanDouble, Push, RespSet, Status,
    Verbatim, deep_recursion,
)
from ..engine.replies import format_double
from .bytecode import untail
from .libs import LIBRARIES
from .prelude import PRELUDE

lua_type = lua51.lua_type
INT64_MIN = -(1 << 63)
INT64_LIMIT = 1 << 63
# Redis converts a script's result recursively on Lua's C stack (LUAI_MAXCSTACK,
# 8000 slots); a chain of tables 7995 deep (a table that contains itself) runs
# out, and the element at that depth becomes the error below.
REPLY_DEPTH_LIMIT = 7995
_STACK_LIMIT = ErrorReply(b"ERR reached lua stack limit")
_DEEP_FROM = 200        # from this depth on the walk runs with a raised recursion limit


class ScriptClient(Client):
    """The client scripts run their redis.call()s as: no socket, never blocks."""

    kind = "script"

    def __init__(self, engine):
        super().__init__(engine)
        self.deny_blocking = True
        self.flags = "lua"
        self.update_gate()


def lua_int(value: float) -> int:
    """C's (long long) cast of a double on x86-64: truncation, INT64_MIN when out of range."""
    if value != value or value >= INT64_LIMIT or value < INT64_MIN:
        return INT64_MIN
    return int(value)


def number_arg(value) -> bytes:
    """A Lua number passed to redis.call becomes its %.17g text, as in Redis 7.0."""
    if value.__class__ is int and -10**17 < value < 10**17:
        return b"%d" % value
    value = float(value)
    if value != value:
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value


def error_text(message: bytes) -> bytes:
    """luaPushErrorBuff: "-CODE msg" keeps its code, anything else gets ERR; no CR/LF at the end."""
    if message[:1] == b"-":
        code, sep, msg = message[1:].partition(b" ")
        if not sep:
            code, msg = b"ERR", message[1:]
    else:
        code, msg = b"ERR", message
    return code + b" " + msg.strip(b"\r\n")


def _mapchars(text: bytes) -> bytes:
    if b"\r" in text or b"\n" in text:
        return text.replace(b"\r", b" ").replace(b"\n", b" ")
    return text


_BARE_BYTES: list = []


def _bare_state_bytes() -> float:
    """Heap of a Lua state with only the standard libraries (measured once)."""
    if not _BARE_BYTES:
        bare = lua51.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
        bare.eval('collectgarbage("collect")')
        _BARE_BYTES.append(bare.eval('collectgarbage("count")') * 1024)
    return _BARE_BYTES[0]


class LuaState:
    """A sandboxed Lua state; `host` supplies the redis.* callbacks (see Scripts)."""

    def __init__(self, host, mode: str):
        self.host = host
        self.mode = mode
        lua = lua51.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                               register_eval=False, register_builtins=False)
        self.lua = lua
        g = lua.globals()
        loader = g.loadstring
        for name, source in LIBRARIES:
            chunk = loader(source.encode(), b"=vermilion")
            chunk(lua.table_from(host.lib_helpers(name)))
        py = {
            b"call": host.lua_call,
            b"call_packed": host.lua_call_packed,
            b"check": host.lua_check,
            b"sha1hex": host.lua_sha1hex,
            b"error_text": lambda text: error_text(b"-" + text if text[:1] != b"-" else text),
            b"log": host.lua_log,
            b"setresp": host.lua_setresp,
            b"set_repl": host.lua_set_repl,
            b"acl_check_cmd": host.lua_acl_check_cmd,
            b"register_function": host.lua_register_function,
            b"version": host.engine.version.encode(),
            b"version_num": _version_num(host.engine.version),
            b"untail": untail,
            b"lrand48": host.lrand48,
            b"srand48": host.srand48,
            b"ldb_line": host.lua_ldb_line,
            b"ldb_debug": host.lua_ldb_debug,
            b"ldb_breakpoint": host.lua_ldb_breakpoint,
        }
        prelude = loader(PRELUDE.encode(), b"=vermilion")
        api = prelude(lua.table_from(py), mode.encode())
        self.compile_fn = api.compile
        self.run_eval = api.run_eval
        self.run_function = api.run_function
        self.classify = api.classify
        self.slice = api.slice
        self.arm_hook = api.arm_hook
        self.load_library = api.load_library
        self.ldb = api.ldb                  # the debugger's helpers (EVAL's state only)
        self.ldb_arm = self.ldb.arm
        self.mkmap = api.mkmap
        self.mkset = api.mkset
        self.wrap = api.wrap
        self.verbatim = api.verbatim
        self.table_from = lua.table_from
        self._gc_count = lua.eval('function() return collectgarbage("count") end')
        # The sandbox and the redis.* API are Lua code here, where Redis's are C outside
        # the Lua heap: what they occupy once built is left out of the state's size, so
        # it is a bare Lua state's plus whatever scripts and their data add (a leak
        # still shows as growth).
        lua.eval('collectgarbage("collect")')
        self._sandbox_bytes = max(0.0, self._gc_count() * 1024 - _bare_state_bytes())

    def close(self) -> None:
        self.lua = None

    def memory_bytes(self) -> float:
        """Memory the Lua state uses (collectgarbage("count") is in KiB), less the
        sandbox's own code and tables."""
        return self._gc_count() * 1024 - self._sandbox_bytes

    # -- Redis reply -> Lua ---------------------------------------------------------------

    def to_lua(self, reply, resp3: bool):
        """Convert a nested reply value (an element of an array) to a Lua value."""
        c = reply.__class__
        if c is bytes or c is int:
            return reply
        if reply is None or reply is NULL_ARRAY:
            return None if resp3 else False
        if c is list or c is tuple or c is Push:
            return self.array_to_lua(reply, resp3)
        if c is Status:
            return self.wrap(b"ok", reply.text)
        if c is ErrorReply:
            return self.wrap(b"err", error_text(b"-" + reply.message))
        if c is bytearray or c is memoryview:
            return bytes(reply)
        if c is str:
            return reply.encode()
        if c is float:
            return self.wrap(b"double", reply) if resp3 else format_double(reply)
        if c is dict:
            flat = []
            for k, v in reply.items():
                flat.append(self.to_lua(k, resp3))
                flat.append(self.to_lua(v, resp3))
            if resp3:
                return self.wrap(b"map", self.mkmap(*flat))
            return self.table_from(flat)
        if c is RespSet:
            items = [self.to_lua(x, resp3) for x in reply]
            if resp3:
                return self.wrap(b"set", self.mkset(*items))
            return self.table_from(items)
        if c is bool:
            return reply if resp3 else (1 if reply else 0)
        if c is Verbatim:
            return self.verbatim(reply.text, reply.fmt) if resp3 else reply.text
        if c is BigNumber:
            return self.wrap(b"big_number", reply.digits) if resp3 else reply.digits
        if c is HumanDouble:
            # Lua reads the printed text back, as Redis's parser does.
            return self.wrap(b"double", float(reply.text)) if resp3 else reply.text
        if reply is NO_REPLY:
            return None if resp3 else False
        if isinstance(reply, int):
            return int(reply)
        return None if resp3 else False

    def array_to_lua(self, items, resp3: bool):
        for x in items:
            if x.__class__ is not bytes:
                return self.table_from([self.to_lua(y, resp3) for y in items])
        return self.table_from(items)

    # -- Lua -> Redis reply ---------------------------------------------------------------

    def from_lua(self, value, bool_resp3: bool, depth: int = 0):
        c = value.__class__
        if c is bytes:
            return value
        if c is int:
            if INT64_MIN <= value < INT64_LIMIT:
                return value
            return INT64_MIN
        if c is float:
            return lua_int(value)
        if value is None:
            return None
        if c is bool:
            if bool_resp3:
                return value
            return 1 if value else None
        if lua_type(value) != "table":
            return None         # functions, userdata (cjson.null), threads
        if depth >= REPLY_DEPTH_LIMIT:
            return _STACK_LIMIT
        if depth == _DEEP_FROM:
            with deep_recursion():
                return Deep(self.table_reply(self.classify(value), bool_resp3, depth + 1))
        return self.table_reply(self.classify(value), bool_resp3, depth + 1)

    def table_reply(self, shape, bool_resp3: bool, depth: int = 1):
        """Build the reply for a classified table: (tag, ...) as `classify` returns it."""
        tag = shape[0]
        if tag == 8:
            from_lua = self.from_lua
            return [from_lua(v, bool_resp3, depth) for v in shape[2:]]
        if tag == 2:
            text = shape[1]
            return OK if text == b"OK" else Status(_mapchars(text))
        if tag == 1:
            return ErrorReply(_mapchars(shape[1]))
        if tag == 3:
            return float(shape[1])
        if tag == 4:
            return BigNumber(_mapchars(shape[1]))
        if tag == 5:
            return Verbatim(shape[1], shape[2][:3])
        if tag == 9:        # too large to unpack at once: fetch in slices
            _, sub, table, n = shape
            items: list = []
            for start in range(1, n + 1, 4000):
                part = self.slice(table, start, min(start + 3999, n))
                if part.__class__ is not tuple:
                    part = (part,)
                items.extend(part)
            return self.table_reply((sub, n, *items), bool_resp3, depth)
        from_lua = self.from_lua
        if tag == 6:
            flat = shape[2:]
            result = {}
            for i in range(0, len(flat), 2):
                key = from_lua(flat[i], bool_resp3, depth)
                try:
                    if key in result:
                        # Two Lua keys that convert to equal replies (1 and true, 1 and
                        # 1.5): keep both, the integer under a key equal only to itself.
                        if key.__class__ is int:
                            key = _MapKey(key)
                        else:
                            result = {(_MapKey(k) if k.__class__ is int and k == key else k): v
                                      for k, v in result.items()}
                    result[key] = from_lua(flat[i + 1], bool_resp3, depth)
                except TypeError:
                    # A key Python cannot hash (a table): the flat form (exact in RESP2).
                    return [from_lua(v, bool_resp3, depth) for v in flat]
            return result
        if tag == 7:
            return RespSet(from_lua(v, bool_resp3, depth) for v in shape[2:])
        return None


class _MapKey(int):
    """An integer map key that is distinct from every other key (encodes as an integer)."""

    __slots__ = ()
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other


def _version_num(version: str) -> int:
    major, minor, patch = (int(x) for x in version.split(".")[:3])
    return (major << 16) | (minor << 8) | patch
