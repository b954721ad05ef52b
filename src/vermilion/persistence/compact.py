"""The compact encodings Redis serializes small values with: listpack, ziplist
(read only: Redis < 7 wrote it, 7.0 still loads it), intset and zipmap (read
only, Redis < 2.6).

Listpack (Redis >= 7.0 for hashes, sorted sets, list nodes and stream nodes)::

    <total bytes u32le> <element count u16le, 65535 = unknown> <element>* 0xFF

and each element is an encoding byte (and payload) followed by its back-length,
the size of encoding+payload written in 7-bit groups so the listpack can be
walked backwards. Strings that read as a canonical 64-bit integer are stored as
integers of the smallest width (7-bit, 13-bit, 16/24/32/64-bit), exactly as
``lpAppend`` does, so a listpack we write is byte-identical to Redis's for the
same elements.

Decoders return ``bytes`` for strings and ``int`` for integers; callers that
want Redis's string view of an integer use ``b"%d" % v``.
"""
from __future__ import annotations

import struct

_u16 = struct.Struct("<H")
_i16 = struct.Struct("<h")
_i32 = struct.Struct("<i")
_i64 = struct.Struct("<q")
_u32 = struct.Struct("<I")
_u32be = struct.Struct(">I")

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


class EncodingError(ValueError):
    """A listpack/ziplist/intset/zipmap that does not parse."""


def as_int64(s) -> int | None:
    """The integer a string stands for if it is a canonical int64 (Redis's
    string2ll: no sign on 0, no leading zeros, no spaces), else None."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    c = s[0]
    if c == 45:                          # '-'
        if n == 1 or s[1] == 48 or not s[1:].isdigit():
            return None
    elif not s.isdigit() or (c == 48 and n > 1):
        return None
    v = int(s)
    if _INT64_MIN <= v <= _INT64_MAX:
        return v
    return None


# -- listpack -----------------------------------------------------------------------------


def _backlen(size: int) -> bytes:
    if size <= 127:
        return bytes((size,))
    if size < 16383:
        return bytes((size >> 7, (size & 127) | 128))
    if size < 2097151:
        return bytes((size >> 14, ((size >> 7) & 127) | 128, (size & 127) | 128))
    if size < 268435455:
        return bytes((size >> 21, ((size >> 14) & 127) | 128, ((size >> 7) & 127) | 128,
                      (size & 127) | 128))
    return bytes((size >> 28, ((size >> 21) & 127) | 128, ((size >> 14) & 127) | 128,
                  ((size >> 7) & 127) | 128, (size & 127) | 128))


_SMALL_INTS = [bytes((v, 1)) for v in range(128)]


def lp_int(v: int) -> bytes:
    """One listpack integer element (with its back-length)."""
    if 0 <= v <= 127:
        return _SMALL_INTS[v]
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + _i16.pack(v) + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + _i32.pack(v) + b"\x05"
    return b"\xf4" + _i64.pack(v) + b"\x09"


def lp_str(s) -> bytes:
    """One listpack element for a string (stored as an integer when it is one)."""
    n = len(s)
    if n <= 20 and n:
        c = s[0]
        if 48 <= c <= 57 or c == 45:
            v = as_int64(s)
            if v is not None:
                return lp_int(v)
    if n < 64:
        return bytes((0x80 | n,)) + s + bytes((n + 1,))
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + s + _backlen(n + 2)
    return b"\xf0" + _u32.pack(n) + s + _backlen(n + 5)


def lp_build(elements: list[bytes], count: int) -> bytes:
    """A listpack from already encoded elements (lp_str / lp_int results)."""
    body = b"".join(elements)
    return _u32.pack(len(body) + 7) + _u16.pack(count if count < 65535 else 65535) + body + b"\xff"


def lp_encode(items) -> bytes:
    """A listpack holding `items` (bytes, or ints) in order."""
    els = [lp_int(x) if x.__class__ is int else lp_str(x) for x in items]
    return lp_build(els, len(els))


def lp_decode(data) -> list:
    """The elements of a listpack: bytes for strings, int for integers."""
    n = len(data)
    if n < 7 or _u32.unpack_from(data, 0)[0] != n or data[n - 1] != 0xFF:
        raise EncodingError("listpack header or terminator is invalid")
    out = []
    append = out.append
    p = 6
    end = n - 1
    while p < end:
        b = data[p]
        if b < 0x80:
            append(b)
            p += 2
            continue
        if b < 0xC0:                     # 6-bit string
            ln = b & 0x3F
            q = p + 1 + ln
            append(bytes(data[p + 1:q]))
            p = q + (1 if ln + 1 <= 127 else 2)
            continue
        if b < 0xE0:                     # 13-bit int
            v = ((b & 0x1F) << 8) | data[p + 1]
            append(v - 8192 if v >= 4096 else v)
            p += 3
            continue
        if b < 0xF0:                     # 12-bit string
            ln = ((b & 0x0F) << 8) | data[p + 1]
            q = p + 2 + ln
            append(bytes(data[p + 2:q]))
            size = ln + 2
        elif b == 0xF0:
            ln = _u32.unpack_from(data, p + 1)[0]
            q = p + 5 + ln
            append(bytes(data[p + 5:q]))
            size = ln + 5
        elif b == 0xF1:
            append(_i16.unpack_from(data, p + 1)[0])
            p += 4
            continue
        elif b == 0xF2:
            v = int.from_bytes(data[p + 1:p + 4], "little", signed=True)
            append(v)
            p += 5
            continue
        elif b == 0xF3:
            append(_i32.unpack_from(data, p + 1)[0])
            p += 6
            continue
        elif b == 0xF4:
            append(_i64.unpack_from(data, p + 1)[0])
            p += 10
            continue
        else:
            raise EncodingError("invalid listpack element encoding 0x%02x" % b)
        if q > end:
            raise EncodingError("listpack element past the end")
        p = q + (1 if size <= 127 else 2 if size < 16383 else 3 if size < 2097151
                 else 4 if size < 268435455 else 5)
    if p != end:
        raise EncodingError("listpack element past the end")
    return out


def as_bytes(items: list) -> list[bytes]:
    """Decoded elements as Redis's strings (integers in decimal)."""
    return [x if x.__class__ is bytes else b"%d" % x for x in items]


# -- ziplist (read only) ------------------------------------------------------------------------


def zl_decode(data) -> list:
    """The elements of a ziplist (Redis <= 6.2's compact encoding)."""
    n = len(data)
    if n < 11 or _u32.unpack_from(data, 0)[0] != n or data[n - 1] != 0xFF:
        raise EncodingError("ziplist header or terminator is invalid")
    out = []
    append = out.append
    p = 10
    end = n - 1
    while p < end:
        p += 1 if data[p] < 254 else 5            # prevlen
        b = data[p]
        kind = b >> 6
        if kind == 0:
            ln = b & 0x3F
            append(bytes(data[p + 1:p + 1 + ln]))
            p += 1 + ln
        elif kind == 1:
            ln = ((b & 0x3F) << 8) | data[p + 1]
            append(bytes(data[p + 2:p + 2 + ln]))
            p += 2 + ln
        elif kind == 2:
            ln = _u32be.unpack_from(data, p + 1)[0]
            append(bytes(data[p + 5:p + 5 + ln]))
            p += 5 + ln
        elif b == 0xC0:
            append(_i16.unpack_from(data, p + 1)[0])
            p += 3
        elif b == 0xD0:
            append(_i32.unpack_from(data, p + 1)[0])
            p += 5
        elif b == 0xE0:
            append(_i64.unpack_from(data, p + 1)[0])
            p += 9
        elif b == 0xF0:
            append(int.from_bytes(data[p + 1:p + 4], "little", signed=True))
            p += 4
        elif b == 0xFE:
            append(int.from_bytes(data[p + 1:p + 2], "little", signed=True))
            p += 2
        elif 0xF1 <= b <= 0xFD:
            append((b & 0x0F) - 1)
            p += 1
        else:
            raise EncodingError("invalid ziplist entry encoding 0x%02x" % b)
    if p != end:
        raise EncodingError("ziplist entry past the end")
    return out


# -- intset -------------------------------------------------------------------------------------

_INTSET_FORMATS = {2: "h", 4: "i", 8: "q"}


def intset_decode(data) -> list[int]:
    if len(data) < 8:
        raise EncodingError("intset too short")
    width, count = struct.unpack_from("<II", data, 0)
    fmt = _INTSET_FORMATS.get(width)
    if fmt is None or len(data) != 8 + width * count:
        raise EncodingError("intset header is invalid")
    return list(struct.unpack_from("<%d%s" % (count, fmt), data, 8))


def intset_encode(values: list[int]) -> bytes:
    """An intset of `values` (sorted here), with Redis's narrowest width."""
    values = sorted(values)
    if not values or (values[0] >= -32768 and values[-1] <= 32767):
        width, fmt = 2, "h"
    elif values[0] >= -2147483648 and values[-1] <= 2147483647:
        width, fmt = 4, "i"
    else:
        width, fmt = 8, "q"
    return struct.pack("<II", width, len(values)) + struct.pack("<%d%s" % (len(values), fmt), *values)


# -- zipmap (read only) ---------------------------------------------------------------------------


def zipmap_decode(data) -> list[bytes]:
    """Field, value, field, value ... of a zipmap (hashes in Redis < 2.6)."""
    out = []
    p = 1
    n = len(data)
    while p < n:
        b = data[p]
        if b == 0xFF:
            return out
        if b < 254:
            ln, p = b, p + 1
        else:
            ln, p = _u32.unpack_from(data, p + 1)[0], p + 5
        out.append(bytes(data[p:p + ln]))
        p += ln
        b = data[p]
        if b < 254:
            ln, p = b, p + 1
        else:
            ln, p = _u32.unpack_from(data, p + 1)[0], p + 5
        free = data[p]
        p += 1
        out.append(bytes(data[p:p + ln]))
        p += ln + free
    raise EncodingError("zipmap without terminator")
