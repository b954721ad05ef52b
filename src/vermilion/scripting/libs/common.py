"""Shared by the library modules: Lua's type names and argument checks, seen from Python,
and the Lua preamble every library chunk starts with."""
from __future__ import annotations

import lupa.lua51 as lua51

# Lua side: `raise(msg)` reports an error the way luaL_error does from a C
# function, prefixed with the position of the calling script line.
PREAMBLE = r"""
local getinfo, error = debug.getinfo, error
local INTERNAL = "=vermilion"
local function raise(msg)
  local level = 2
  while true do
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.source ~= INTERNAL and info.what ~= "tail" then
      -- The library function's caller: a C caller (pcall) gives no position,
      -- as luaL_where(L, 1) does for the C function Redis has there.
      if info.what == "C" then break end
      error(info.short_src .. ":" .. info.currentline .. ": " .. msg, 0)
    end
    level = level + 1
  end
  error(msg, 0)
end
local function result(ok, ...)
  if not ok then raise((...)) end
  return ...
end
"""


class LuaArgError(Exception):
    """Raised by helpers; the wrapper turns it into (False, message)."""


def type_name(value, present: bool = True) -> str:
    if not present:
        return "no value"
    if value is None:
        return "nil"
    c = value.__class__
    if c is bool:
        return "boolean"
    if c is bytes:
        return "string"
    if c is int or c is float:
        return "number"
    return lua51.lua_type(value) or "userdata"


def to_number(value):
    """lua_tonumber: numbers, and strings that read as numbers; None otherwise."""
    c = value.__class__
    if c is int or c is float:
        return value
    if c is bytes:
        text = value.strip()
        try:
            low = text.lower()
            if low.startswith((b"0x", b"-0x", b"+0x")):
                return int(text, 16)
            if low in (b"inf", b"-inf", b"+inf", b"nan", b"-nan", b"infinity", b"-infinity") or b"_" in text:
                return None
            number = float(text)
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        except ValueError:
            return None
    return None


def arg_error(index: int, name: str, message: str) -> LuaArgError:
    return LuaArgError(f"bad argument #{index} to '{name}' ({message})")


def check_number(args, count: int, index: int, name: str):
    value = args[index - 1] if index <= len(args) else None
    number = to_number(value) if index <= count else None
    if number is None:
        raise arg_error(index, name, f"number expected, got {type_name(value, index <= count)}")
    return number


def check_string(args, count: int, index: int, name: str) -> bytes:
    value = args[index - 1] if index <= len(args) else None
    if index <= count:
        if value.__class__ is bytes:
            return value
        if value.__class__ in (int, float):
            from ..scripts import _lua_tostring_number
            return _lua_tostring_number(value)
    raise arg_error(index, name, f"string expected, got {type_name(value, index <= count)}")


def guarded(fn):
    """Wrap a helper: (True, results...) or (False, message) for the Lua `result`."""
    def call(count, *args):
        try:
            out = fn(count, args)
        except LuaArgError as err:
            return False, str(err).encode()
        return (True, *out)
    return call
