"""`bit`: Lua BitOp 1.0.2 (Mike Pall), the library Redis bundles.

Numbers are converted like BitOp's barg(): add 2^52+2^51 to the double and keep
the low 32 bits of its mantissa (round to nearest even, wrap modulo 2^32); results
are signed 32-bit. Argument checks (and their "bad argument" texts) are in the Lua
wrappers; the arithmetic is done in Python.
"""
from __future__ import annotations

import struct

_pack_d = struct.Struct("<d").pack
_unpack_q = struct.Struct("<q").unpack


def tobit_u(n) -> int:
    """The unsigned 32-bit value of a Lua number, as BitOp computes it."""
    return _unpack_q(_pack_d(float(n) + 6755399441055744.0))[0] & 0xFFFFFFFF


def _signed(b: int) -> int:
    return b - 0x100000000 if b & 0x80000000 else b


def tobit(x):
    return _signed(tobit_u(x))


def bnot(x):
    return _signed(~tobit_u(x) & 0xFFFFFFFF)


def band(*xs):
    r = 0xFFFFFFFF
    for x in xs:
        r &= tobit_u(x)
    return _signed(r)


def bor(*xs):
    r = 0
    for x in xs:
        r |= tobit_u(x)
    return _signed(r)


def bxor(*xs):
    r = 0
    for x in xs:
        r ^= tobit_u(x)
    return _signed(r)


def lshift(x, n):
    return _signed((tobit_u(x) << (tobit_u(n) & 31)) & 0xFFFFFFFF)


def rshift(x, n):
    return _signed(tobit_u(x) >> (tobit_u(n) & 31))


def arshift(x, n):
    return _signed(tobit_u(x)) >> (tobit_u(n) & 31)


def rol(x, n):
    b, n = tobit_u(x), tobit_u(n) & 31
    return _signed(((b << n) | (b >> (32 - n))) & 0xFFFFFFFF)


def ror(x, n):
    b, n = tobit_u(x), tobit_u(n) & 31
    return _signed(((b >> n) | (b << (32 - n))) & 0xFFFFFFFF)


def bswap(x):
    return _signed(int.from_bytes(tobit_u(x).to_bytes(4, "little"), "big"))


def tohex(x, n=None):
    b = tobit_u(x)
    n = 8 if n is None else _signed(tobit_u(n))
    digits = "0123456789abcdef"
    if n < 0:
        n = -n
        digits = "0123456789ABCDEF"
    n = min(n, 8)
    out = []
    for _ in range(n):
        out.append(digits[b & 15])
        b >>= 4
    return "".join(reversed(out)).encode()


HELPERS = {name: fn for name, fn in (
    ("tobit", tobit), ("bnot", bnot), ("band", band), ("bor", bor), ("bxor", bxor),
    ("lshift", lshift), ("rshift", rshift), ("arshift", arshift), ("rol", rol), ("ror", ror),
    ("bswap", bswap), ("tohex", tohex))}

SOURCE = r"""
local py = ...
local tonumber, type, select, error, unpack = tonumber, type, select, error, unpack

-- BitOp's barg(): a number, or a string Lua can convert; anything else is a
-- "bad argument" error reported at the caller's line.
local function check(name, n, ...)
  local args = {...}
  local count = select("#", ...)
  for i = 1, n do
    local v = args[i]
    local x = tonumber(v)
    if x == nil then
      error("bad argument #" .. i .. " to '" .. name .. "' (number expected, got " ..
            (i <= count and type(v) or "no value") .. ")", 3)
    end
    args[i] = x
  end
  for i = n + 1, count do
    local x = tonumber(args[i])
    if x == nil then
      error("bad argument #" .. i .. " to '" .. name .. "' (number expected, got " ..
            type(args[i]) .. ")", 3)
    end
    args[i] = x
  end
  return unpack(args, 1, count > n and count or n)
end

local function fixed(name, n)
  local f = py[name]
  return function(...) return f(check(name, n, ...)) end
end

bit = {
  tobit = fixed("tobit", 1), bnot = fixed("bnot", 1), bswap = fixed("bswap", 1),
  band = fixed("band", 1), bor = fixed("bor", 1), bxor = fixed("bxor", 1),
  lshift = fixed("lshift", 2), rshift = fixed("rshift", 2), arshift = fixed("arshift", 2),
  rol = fixed("rol", 2), ror = fixed("ror", 2),
  tohex = function(...)
    if select("#", ...) < 2 then return py.tohex(check("tohex", 1, ...)) end
    return py.tohex(check("tohex", 2, ...))
  end,
}
"""
