"""`struct`: Roberto Ierusalimschy's struct library as Redis bundles it (lua_struct.c).

Formats: endianness ``<`` ``>`` (``!n`` sets the maximum alignment), ``b/B``
char, ``h/H`` short, ``l/L`` long (8 bytes), ``T`` size_t, ``i/In`` int of n bytes
(default 4, at most 32), ``f`` float, ``d`` double, ``cn`` n chars (``c0``: the
whole string when packing, a previously unpacked length when unpacking), ``s``
zero-terminated string, ``x`` a padding byte, spaces ignored. Integers are
written from a C long exactly as the C code does (so oversized values wrap).
"""
from __future__ import annotations

import struct as _struct

from .common import arg_error, check_number, check_string, guarded, LuaArgError

_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
MAXINTSIZE = 32
MAXALIGN = 8
_INT_OPTS = "bBhHlLTiI"


class _Format:
    def __init__(self, fmt: bytes):
        self.fmt = fmt.decode("latin-1")
        self.pos = 0
        self.little = True
        self.align = 1

    def getnum(self, default: int) -> int:
        fmt, pos = self.fmt, self.pos
        if pos >= len(fmt) or not fmt[pos].isdigit():
            return default
        a = 0
        while pos < len(fmt) and fmt[pos].isdigit():
            d = ord(fmt[pos]) - 48
            if a > (2**31 - 1) // 10 or a * 10 > (2**31 - 1) - d:
                raise LuaArgError("integral size overflow")
            a = a * 10 + d
            pos += 1
        self.pos = pos
        return a

    def optsize(self, opt: str) -> int:
        if opt in _SIZES:
            return _SIZES[opt]
        if opt == "c":
            return self.getnum(1)
        if opt in "iI":
            size = self.getnum(4)
            if size > MAXINTSIZE:
                raise LuaArgError(f"integral size {size} is larger than limit of {MAXINTSIZE}")
            return size
        return 0

    def toalign(self, length: int, opt: str, size: int) -> int:
        if size == 0 or opt == "c":
            return 0
        if size > self.align:
            size = self.align
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: str, name: str) -> None:
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            a = self.getnum(MAXALIGN)
            if not (a > 0 and a & (a - 1) == 0):
                raise LuaArgError(f"alignment {a} is not a power of 2")
            self.align = a
        else:
            raise arg_error(1, name, f"invalid format option '{opt}'")

    def options(self):
        while self.pos < len(self.fmt):
            opt = self.fmt[self.pos]
            self.pos += 1
            yield opt, self.optsize(opt)


def _c_long(n) -> int:
    """(unsigned long) of a Lua number, as putinteger computes it."""
    if n != n:
        return 0
    n = int(n)            # truncation toward zero, like the C casts
    return n & 0xFFFFFFFFFFFFFFFF


def _pack(count, args):
    fmt = _Format(check_string(args, count, 1, "pack"))
    # b_pack pushes a nil after its arguments, so a missing value reads as nil.
    args = args + (None,)
    count += 1
    out = bytearray()
    arg = 2
    total = 0
    for opt, size in fmt.options():
        pad = fmt.toalign(total, opt, size)
        total += pad
        out += b"\0" * pad
        if opt in _INT_OPTS:
            value = _c_long(check_number(args, count, arg, "pack"))
            arg += 1
            data = bytearray(size)
            for i in range(min(size, 8)):
                data[i] = (value >> (8 * i)) & 0xFF
            out += data if fmt.little else data[::-1]
        elif opt == "x":
            out += b"\0"
        elif opt in "fd":
            value = float(check_number(args, count, arg, "pack"))
            arg += 1
            code = "f" if opt == "f" else "d"
            try:
                out += _struct.pack(("<" if fmt.little else ">") + code, value)
            except OverflowError:
                out += _struct.pack(("<" if fmt.little else ">") + code,
                                    float("inf") if value > 0 else float("-inf"))
        elif opt in "cs":
            data = check_string(args, count, arg, "pack")
            arg += 1
            if size == 0:
                size = len(data)
            if len(data) < size:
                raise arg_error(arg, "pack", "string too short")
            out += data[:size]
            if opt == "s":
                out += b"\0"
                size += 1
        else:
            fmt.control(opt, "pack")
        total += size
    return (bytes(out),)


def _unpack(count, args):
    fmt = _Format(check_string(args, count, 1, "unpack"))
    data = check_string(args, count, 2, "unpack")
    pos = 1
    if count >= 3 and args[2] is not None:
        pos = int(check_number(args, count, 3, "unpack"))
    if pos <= 0:
        raise arg_error(3, "unpack", "offset must be 1 or greater")
    pos -= 1
    ld = len(data)
    results: list = []
    for opt, size in fmt.options():
        pos += fmt.toalign(pos, opt, size)
        if not (size <= ld and pos <= ld - size):
            raise arg_error(2, "unpack", "data string too short")
        if opt in _INT_OPTS:
            chunk = data[pos:pos + size]
            if not fmt.little:
                chunk = chunk[::-1]
            value = int.from_bytes(chunk[:8], "little")
            if opt.islower():
                bits = min(size, 8) * 8
                if value & (1 << (bits - 1)):
                    value -= 1 << bits
            results.append(value if -2**53 <= value <= 2**53 else float(value))
        elif opt == "x":
            pass
        elif opt in "fd":
            code = "f" if opt == "f" else "d"
            (value,) = _struct.unpack(("<" if fmt.little else ">") + code, data[pos:pos + size])
            results.append(value)
        elif opt == "c":
            if size == 0:
                if not results or not isinstance(results[-1], (int, float)):
                    raise LuaArgError("format 'c0' needs a previous size")
                size = int(results.pop())
                if not (size <= ld and pos <= ld - size):
                    raise arg_error(2, "unpack", "data string too short")
            results.append(data[pos:pos + size])
        elif opt == "s":
            end = data.find(b"\0", pos)
            if end < 0:
                raise LuaArgError("unfinished string in data")
            size = end - pos + 1
            results.append(data[pos:end])
        else:
            fmt.control(opt, "unpack")
        pos += size
    results.append(pos + 1)
    return tuple(results)


def _size(count, args):
    fmt = _Format(check_string(args, count, 1, "size"))
    pos = 0
    for opt, size in fmt.options():
        pos += fmt.toalign(pos, opt, size)
        if opt == "s":
            raise arg_error(1, "size", "option 's' has no fixed size")
        if opt == "c" and size == 0:
            raise arg_error(1, "size", "option 'c0' has no fixed size")
        if not opt.isalnum():
            fmt.control(opt, "size")
        pos += size
    return (pos,)


HELPERS = {"pack": guarded(_pack), "unpack": guarded(_unpack), "size": guarded(_size)}

SOURCE = r"""
local py = ...
local select = select
local pack, unpack, size = py.pack, py.unpack, py.size
struct = {
  pack = function(...) return result(pack(select("#", ...), ...)) end,
  unpack = function(...) return result(unpack(select("#", ...), ...)) end,
  size = function(...) return result(size(select("#", ...), ...)) end,
}
"""
