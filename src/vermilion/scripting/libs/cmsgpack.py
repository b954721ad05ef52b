"""`cmsgpack`: lua-cmsgpack 0.4.0 (Salvatore Sanfilippo) as Redis bundles it.

Written in Lua, with Python helpers for the IEEE float/double and 64-bit integer
byte layouts. Encoding rules reproduced from lua_cmsgpack.c: a number that is an
int64 in value is an integer (smallest of fixint/int8..int64/uint8..uint64),
otherwise a float32 when it survives the round trip, else a float64; strings use
fixstr/str8/str16/str32; a table is an array when its keys are exactly 1..n
(32-bit), else a map; tables nested 16 deep, functions and other values encode as
nil. Decoding accepts what the C code accepts (no bin/ext types: "Bad data format
in input."), and unpack_one/unpack_limit return the next offset first (-1 at the
end), including the C code's quirks (offset 0 and limit 0 mean "everything").
"""
from __future__ import annotations

import struct



def _float(n) -> bytes:
    n = float(n)
    try:
        f = struct.unpack(">f", struct.pack(">f", n))[0]
    except OverflowError:
        f = None
    if f is not None and f == n:
        return b"\xca" + struct.pack(">f", n)
    return b"\xcb" + struct.pack(">d", n)


def _int64(n, signed) -> bytes:
    return struct.pack(">q" if signed else ">Q", int(n))


def _u64(data: bytes):
    value = struct.unpack(">Q", data)[0]
    return value if value <= 2**53 else float(value)


def _i64(data: bytes):
    value = struct.unpack(">q", data)[0]
    return value if -2**53 <= value <= 2**53 else float(value)


def _f32(data: bytes):
    return struct.unpack(">f", data)[0]


def _f64(data: bytes):
    return struct.unpack(">d", data)[0]


HELPERS = {"float": _float, "int64": _int64, "u64": _u64, "i64": _i64, "f32": _f32, "f64": _f64}

SOURCE = r"""
local py = ...
local type, select, next, floor, char, byte, sub, concat, tostring, tonumber =
      type, select, next, math.floor, string.char, string.byte, string.sub, table.concat, tostring, tonumber
local huge = math.huge
local pyfloat, pyint64, u64, i64, f32, f64 = py.float, py.int64, py.u64, py.i64, py.f32, py.f64
local MAX_NESTING = 16

local function be(n, size)           -- n >= 0, below 2^53
  local out = {}
  for i = size, 1, -1 do
    out[i] = char(n % 256)
    n = floor(n / 256)
  end
  return concat(out)
end

local function encode_int(n, out)
  if n >= 0 then
    if n <= 127 then out[#out + 1] = char(n)
    elseif n <= 0xff then out[#out + 1] = "\204" .. char(n)
    elseif n <= 0xffff then out[#out + 1] = "\205" .. be(n, 2)
    elseif n <= 0xffffffff then out[#out + 1] = "\206" .. be(n, 4)
    else out[#out + 1] = "\207" .. pyint64(n, false) end
  else
    if n >= -32 then out[#out + 1] = char(256 + n)
    elseif n >= -128 then out[#out + 1] = "\208" .. char(256 + n)
    elseif n >= -32768 then out[#out + 1] = "\209" .. be(65536 + n, 2)
    elseif n >= -2147483648 then out[#out + 1] = "\210" .. be(4294967296 + n, 4)
    else out[#out + 1] = "\211" .. pyint64(n, true) end
  end
end

local function encode_bytes(s, out)
  local len = #s
  if len < 32 then out[#out + 1] = char(0xa0 + len)
  elseif len <= 0xff then out[#out + 1] = "\217" .. char(len)
  elseif len <= 0xffff then out[#out + 1] = "\218" .. be(len, 2)
  else out[#out + 1] = "\219" .. be(len, 4) end
  out[#out + 1] = s
end

local function is_array(t)
  local count, max = 0, 0
  for k in next, t do
    if type(k) ~= "number" or k <= 0 or k >= 2147483648 or floor(k) ~= k then return false end
    if k > max then max = k end
    count = count + 1
  end
  return max == count
end

local encode
encode = function(v, level, out)
  local t = type(v)
  if t == "table" and level == MAX_NESTING then t = "nil" end
  if t == "string" then
    encode_bytes(v, out)
  elseif t == "boolean" then
    out[#out + 1] = v and "\195" or "\194"
  elseif t == "number" then
    if v == v and v ~= huge and v ~= -huge and floor(v) == v and v >= -9223372036854775808 and v < 9223372036854775808 then
      encode_int(v, out)
    else
      out[#out + 1] = pyfloat(v)
    end
  elseif t == "table" then
    if is_array(v) then
      local len = #v
      if len <= 15 then out[#out + 1] = char(0x90 + len)
      elseif len <= 0xffff then out[#out + 1] = "\220" .. be(len, 2)
      else out[#out + 1] = "\221" .. be(len, 4) end
      for j = 1, len do encode(v[j], level + 1, out) end
    else
      local n = 0
      for _ in next, v do n = n + 1 end
      if n <= 15 then out[#out + 1] = char(0x80 + n)
      elseif n <= 0xffff then out[#out + 1] = "\222" .. be(n, 2)
      else out[#out + 1] = "\223" .. be(n, 4) end
      for k, val in next, v do
        encode(k, level + 1, out)
        encode(val, level + 1, out)
      end
    end
  else
    out[#out + 1] = "\192"
  end
end

local function pack(...)
  local n = select("#", ...)
  if n == 0 then raise("bad argument #0 to 'pack' (MessagePack pack needs input.)") end
  local out = {}
  for i = 1, n do encode((select(i, ...)), 0, out) end
  return concat(out)
end

-- Decoding: `s` from byte `p`, `err` set to "eof" or "badfmt" on failure.
local function unpack_full(name, present, s, limit, offset)
  if type(s) == "number" then s = tostring(s)
  elseif type(s) ~= "string" then
    raise("bad argument #1 to '" .. name .. "' (string expected, got " ..
          (present and type(s) or "no value") .. ")")
  end
  local len = #s
  local decode_all = (limit == 0 and offset == 0)
  if offset < 0 or limit < 0 then
    raise("Invalid request to unpack with offset of " .. offset .. " and limit of " .. len .. ".")
  elseif offset > len then
    raise("Start offset " .. offset .. " greater than input length " .. len .. ".")
  end
  if decode_all then limit = 2147483647 end
  local p = offset + 1
  local err = nil

  local function need(k)
    if len - p + 1 < k then err = "eof"; return false end
    return true
  end

  local decode
  local function decode_array(count)
    local t = {}
    for i = 1, count do
      local v = decode()
      if err then return t end
      t[i] = v
    end
    return t
  end
  local function decode_map(count)
    local t = {}
    for _ = 1, count do
      local k = decode()
      if err then return t end
      local v = decode()
      if err then return t end
      if k == nil then error("table index is nil", 0) end
      if k ~= k then error("table index is NaN", 0) end
      t[k] = v
    end
    return t
  end
  local function ubytes(at, size)
    local n = 0
    for i = at, at + size - 1 do n = n * 256 + byte(s, i) end
    return n
  end

  decode = function()
    if not need(1) then return nil end
    local c = byte(s, p)
    if c < 0x80 then p = p + 1; return c end
    if c >= 0xe0 then p = p + 1; return c - 256 end
    if c >= 0xa0 and c <= 0xbf then
      local l = c - 0xa0
      if not need(1 + l) then return nil end
      local v = sub(s, p + 1, p + l)
      p = p + 1 + l
      return v
    end
    if c >= 0x90 and c <= 0x9f then p = p + 1; return decode_array(c - 0x90) end
    if c >= 0x80 and c <= 0x8f then p = p + 1; return decode_map(c - 0x80) end
    if c == 0xc0 then p = p + 1; return nil end
    if c == 0xc2 then p = p + 1; return false end
    if c == 0xc3 then p = p + 1; return true end
    if c == 0xcc then if not need(2) then return nil end; p = p + 2; return byte(s, p - 1) end
    if c == 0xcd then if not need(3) then return nil end; p = p + 3; return ubytes(p - 2, 2) end
    if c == 0xce then if not need(5) then return nil end; p = p + 5; return ubytes(p - 4, 4) end
    if c == 0xcf then if not need(9) then return nil end; p = p + 9; return u64(sub(s, p - 8, p - 1)) end
    if c == 0xd0 then
      if not need(2) then return nil end
      p = p + 2
      local v = byte(s, p - 1)
      return v >= 128 and v - 256 or v
    end
    if c == 0xd1 then
      if not need(3) then return nil end
      p = p + 3
      local v = ubytes(p - 2, 2)
      return v >= 32768 and v - 65536 or v
    end
    if c == 0xd2 then
      if not need(5) then return nil end
      p = p + 5
      local v = ubytes(p - 4, 4)
      return v >= 2147483648 and v - 4294967296 or v
    end
    if c == 0xd3 then if not need(9) then return nil end; p = p + 9; return i64(sub(s, p - 8, p - 1)) end
    if c == 0xca then if not need(5) then return nil end; p = p + 5; return f32(sub(s, p - 4, p - 1)) end
    if c == 0xcb then if not need(9) then return nil end; p = p + 9; return f64(sub(s, p - 8, p - 1)) end
    if c == 0xd9 then
      if not need(2) then return nil end
      local l = byte(s, p + 1)
      if not need(2 + l) then return nil end
      local v = sub(s, p + 2, p + 1 + l)
      p = p + 2 + l
      return v
    end
    if c == 0xda or c == 0xdb then
      local hl = c == 0xda and 2 or 4
      if not need(1 + hl) then return nil end
      local l = ubytes(p + 1, hl)
      if not need(1 + hl + l) then return nil end
      local v = sub(s, p + 1 + hl, p + hl + l)
      p = p + 1 + hl + l
      return v
    end
    if c == 0xdc or c == 0xdd or c == 0xde or c == 0xdf then
      local hl = (c == 0xdc or c == 0xde) and 2 or 4
      if not need(1 + hl) then return nil end
      local l = ubytes(p + 1, hl)
      p = p + 1 + hl
      if c <= 0xdd then return decode_array(l) end
      return decode_map(l)
    end
    err = "badfmt"
    return nil
  end

  local results, count = {}, 0
  while p <= len and count < limit do
    local v = decode()
    if err == "eof" then raise("Missing bytes in input.") end
    if err == "badfmt" then raise("Bad data format in input.") end
    count = count + 1
    results[count] = v
  end
  if decode_all then return unpack(results, 1, count) end
  return (p > len) and -1 or (p - 1), unpack(results, 1, count)
end

local function int_arg(v, i, name, default)
  if v == nil and default ~= nil then return default end
  local n = tonumber(v)
  if n == nil then
    raise("bad argument #" .. i .. " to '" .. name .. "' (number expected, got " ..
          (v == nil and "no value" or type(v)) .. ")")
  end
  return n >= 0 and floor(n) or -floor(-n)
end

cmsgpack = {
  _NAME = "cmsgpack", _VERSION = "lua-cmsgpack 0.4.0",
  _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
  _DESCRIPTION = "MessagePack C implementation for Lua",
  pack = pack,
  unpack = function(...) return unpack_full("unpack", select("#", ...) > 0, (...), 0, 0) end,
  unpack_one = function(...)
    local s, offset = ...
    return unpack_full("unpack_one", select("#", ...) > 0, s, 1, int_arg(offset, 2, "unpack_one", 0))
  end,
  unpack_limit = function(...)
    local s, limit, offset = ...
    return unpack_full("unpack_limit", select("#", ...) > 0, s, int_arg(limit, 2, "unpack_limit"),
                       int_arg(offset, 3, "unpack_limit", 0))
  end,
}
"""

