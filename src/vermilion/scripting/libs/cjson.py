"""`cjson`: lua-cjson 2.1.0 as Redis bundles it, written in Lua.

What is reproduced (checked against Redis 7.0):

* encode: numbers with %.14g (encode_number_precision), NaN/Inf refused unless
  encode_invalid_numbers; strings escaped like cjson's char2escape table (``/`` as
  ``\\/``, control characters and DEL as \\u00XX); a table is an array when all its
  keys are integers >= 1 (holes become null), unless it is "excessively sparse"
  (max key > 2 * count and > 10: an error, or an object with
  encode_sparse_array(true)); an empty table is ``{}``; object keys may be strings
  or numbers; nesting deeper than encode_max_depth (1000) is an error.
* decode: cjson's tokenizer, including its leniency (numbers are read with strtod:
  hex, inf, nan, leading zeros and '+' are accepted while decode_invalid_numbers
  is on), its error texts ("Expected value but found invalid token at character
  1"), a NUL byte ending the input, \\u escapes with surrogate pairs, and null as
  the `cjson.null` sentinel.
"""
from __future__ import annotations

HELPERS: dict = {}

SOURCE = r"""
local py = ...
local type, tostring, tonumber, select, rawget, rawset, next, pairs, setmetatable =
      type, tostring, tonumber, select, rawget, rawset, next, pairs, setmetatable
local floor, huge = math.floor, math.huge
local byte, char, sub, find, format, gsub, concat =
      string.byte, string.char, string.sub, string.find, string.format, string.gsub, table.concat

local null = newproxy(false)

local function new_module()
  local cfg = {
    sparse_convert = false, sparse_ratio = 2, sparse_safe = 10,
    encode_max_depth = 1000, decode_max_depth = 1000,
    encode_invalid_numbers = false, decode_invalid_numbers = true,
    keep_buffer = true, precision = 14,
  }
  local M = {_NAME = "cjson", _VERSION = "2.1.0", null = null}

  local function argcount(name, n)
    if n ~= 1 then raise("bad argument #1 to '" .. name .. "' (expected 1 argument)") end
  end

  -- encode ------------------------------------------------------------------------------------
  local escapes = {["\""] = "\\\"", ["\\"] = "\\\\", ["/"] = "\\/",
                   ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t"}
  for i = 0, 31 do
    local c = char(i)
    if not escapes[c] then escapes[c] = format("\\u%04x", i) end
  end
  escapes["\127"] = "\\u007f"

  local function encode_string(s)
    return "\"" .. gsub(s, "[%c\"\\/\127]", escapes) .. "\""
  end

  local function encode_number(num, what)
    if num ~= num or num == huge or num == -huge then
      local inv = cfg.encode_invalid_numbers
      if inv == false then
        raise("Cannot serialise " .. what .. ": must not be NaN or Inf")
      elseif inv == "null" then
        return "null"
      elseif num ~= num then
        return "nan"
      end
    end
    return format("%." .. cfg.precision .. "g", num)
  end

  local encode_value

  local function array_length(t)
    local max, items = 0, 0
    for k in next, t do
      if type(k) == "number" and k ~= 0 and floor(k) == k and k >= 1 then
        if k > max then max = k end
        items = items + 1
      else
        return -1
      end
    end
    if cfg.sparse_ratio > 0 and max > items * cfg.sparse_ratio and max > cfg.sparse_safe then
      if not cfg.sparse_convert then
        raise("Cannot serialise table: excessively sparse array")
      end
      return -1
    end
    return max
  end

  encode_value = function(v, depth, out)
    local t = type(v)
    if t == "string" then
      out[#out + 1] = encode_string(v)
    elseif t == "number" then
      out[#out + 1] = encode_number(v, "number")
    elseif t == "boolean" then
      out[#out + 1] = v and "true" or "false"
    elseif t == "nil" or v == null then
      out[#out + 1] = "null"
    elseif t == "table" then
      depth = depth + 1
      if depth > cfg.encode_max_depth then
        raise("Cannot serialise, excessive nesting (" .. depth .. ")")
      end
      local len = array_length(v)
      if len > 0 then
        out[#out + 1] = "["
        for i = 1, len do
          if i > 1 then out[#out + 1] = "," end
          encode_value(rawget(v, i), depth, out)
        end
        out[#out + 1] = "]"
      else
        out[#out + 1] = "{"
        local comma = false
        for k, val in next, v do
          if comma then out[#out + 1] = "," else comma = true end
          local kt = type(k)
          if kt == "number" then
            out[#out + 1] = "\"" .. encode_number(k, "number") .. "\":"
          elseif kt == "string" then
            out[#out + 1] = encode_string(k) .. ":"
          else
            raise("Cannot serialise " .. kt .. ": table key must be a number or string")
          end
          encode_value(val, depth, out)
        end
        out[#out + 1] = "}"
      end
    else
      raise("Cannot serialise " .. t .. ": type not supported")
    end
  end

  M.encode = function(...)
    argcount("encode", select("#", ...))
    local out = {}
    encode_value((...), 0, out)
    return concat(out)
  end

  -- decode ------------------------------------------------------------------------------------
  -- Token kinds, named as cjson names them in its error messages.
  local T_OBJ_BEGIN, T_OBJ_END, T_ARR_BEGIN, T_ARR_END = "T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END"
  local T_STRING, T_NUMBER, T_BOOLEAN, T_NULL = "T_STRING", "T_NUMBER", "T_BOOLEAN", "T_NULL"
  local T_COLON, T_COMMA, T_END, T_ERROR = "T_COLON", "T_COMMA", "T_END", "T_ERROR"
  local single = {[123] = T_OBJ_BEGIN, [125] = T_OBJ_END, [91] = T_ARR_BEGIN, [93] = T_ARR_END,
                  [44] = T_COMMA, [58] = T_COLON}
  local unknown = {}
  for _, c in ipairs({"f", "i", "I", "n", "N", "t", "\"", "+", "-"}) do unknown[byte(c)] = true end
  for c = 48, 57 do unknown[c] = true end
  local escape2char = {[34] = "\"", [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f",
                       [110] = "\n", [114] = "\r", [116] = "\t"}

  local function utf8(cp)
    if cp < 0x80 then return char(cp) end
    if cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
    if cp < 0x10000 then
      return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
    end
    return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
                0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end

  local function hex4(s, i)
    local h = sub(s, i, i + 3)
    if #h < 4 or find(h, "[^%x]") then return nil end
    return tonumber(h, 16)
  end

  -- strtod(): the longest prefix it accepts (decimal, hex, inf/infinity, nan).
  local function strtod(s, i)
    local j = i
    local c = byte(s, j)
    if c == 43 or c == 45 then j = j + 1 end
    local rest = sub(s, j, j + 8):lower()
    if sub(rest, 1, 8) == "infinity" then return j + 8 end
    if sub(rest, 1, 3) == "inf" then return j + 3 end
    if sub(rest, 1, 3) == "nan" then
      local k = j + 3
      if byte(s, k) == 40 then
        local close = find(s, "^[%w_]*%)", k + 1)
        if close then local _, e = find(s, "^[%w_]*%)", k + 1); return e + 1 end
      end
      return k
    end
    local _, e = find(s, "^0[xX]%x*%.?%x*", j)
    if e and find(sub(s, j + 2, e), "%x") then
      local _, pe = find(s, "^[pP][+-]?%d+", e + 1)
      return (pe or e) + 1
    end
    local _, d = find(s, "^%d*%.?%d*", j)
    if not d or not find(sub(s, j, d), "%d") then return nil end
    local _, ee = find(s, "^[eE][+-]?%d+", d + 1)
    return (ee or d) + 1
  end

  local function is_invalid_number(s, i)
    local c = byte(s, i)
    if c == 43 then return true end
    if c == 45 then i = i + 1; c = byte(s, i) end
    if c == 48 then
      local c2 = byte(s, i + 1)
      if c2 and (c2 == 120 or c2 == 88 or (c2 >= 48 and c2 <= 57)) then return true end
      return false
    elseif c and c <= 57 then
      return false
    end
    local w = (sub(s, i, i + 2)):lower()
    return w == "inf" or w == "nan"
  end

  M.decode = function(...)
    argcount("decode", select("#", ...))
    local s = ...
    if type(s) == "number" then s = tostring(s)
    elseif type(s) ~= "string" then
      raise("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")")
    end
    if #s >= 2 and (byte(s, 1) == 0 or byte(s, 2) == 0) then
      raise("JSON parser does not support UTF-16 or UTF-32")
    end
    local nul = find(s, "\0", 1, true)
    if nul then s = sub(s, 1, nul - 1) end   -- the C parser stops at a NUL byte
    local len = #s
    local pos = 1
    local depth = 0

    -- next_token returns kind, value, index (1-based character of the token)
    local function next_token()
      local c = byte(s, pos)
      while c == 32 or c == 9 or c == 10 or c == 13 do pos = pos + 1; c = byte(s, pos) end
      local index = pos
      if c == nil then return T_END, nil, index end
      local kind = single[c]
      if kind then pos = pos + 1; return kind, nil, index end
      if not unknown[c] then return T_ERROR, "invalid token", index end
      if c == 34 then
        local parts = {}
        local i = pos + 1
        while true do
          local ch = byte(s, i)
          if ch == nil then return T_ERROR, "unexpected end of string", i end
          if ch == 34 then break end
          if ch == 92 then
            local e = byte(s, i + 1)
            if e == 117 then
              local cp = hex4(s, i + 2)
              local elen = 6
              if cp and cp >= 0xD800 and cp <= 0xDFFF then
                if cp >= 0xDC00 or sub(s, i + 6, i + 7) ~= "\\u" then
                  cp = nil
                else
                  local low = hex4(s, i + 8)
                  if not low or low < 0xDC00 or low > 0xDFFF then
                    cp = nil
                  else
                    cp = (cp - 0xD800) * 1024 + (low - 0xDC00) + 0x10000
                    elen = 12
                  end
                end
              end
              if not cp then return T_ERROR, "invalid unicode escape code", i end
              parts[#parts + 1] = utf8(cp)
              i = i + elen
            else
              local r = e and escape2char[e]
              if not r then return T_ERROR, "invalid escape code", i end
              parts[#parts + 1] = r
              i = i + 2
            end
          else
            local j = find(s, "[\"\\]", i)
            if not j then return T_ERROR, "unexpected end of string", len + 1 end
            parts[#parts + 1] = sub(s, i, j - 1)
            i = j
          end
        end
        pos = i + 1
        return T_STRING, concat(parts), index
      end
      if c == 45 or (c >= 48 and c <= 57) then
        if not cfg.decode_invalid_numbers and is_invalid_number(s, pos) then
          return T_ERROR, "invalid number", index
        end
      elseif sub(s, pos, pos + 3) == "true" then
        pos = pos + 4; return T_BOOLEAN, true, index
      elseif sub(s, pos, pos + 4) == "false" then
        pos = pos + 5; return T_BOOLEAN, false, index
      elseif sub(s, pos, pos + 3) == "null" then
        pos = pos + 4; return T_NULL, nil, index
      elseif not (cfg.decode_invalid_numbers and is_invalid_number(s, pos)) then
        return T_ERROR, "invalid token", index
      end
      local stop = strtod(s, pos)
      if not stop or stop == pos then return T_ERROR, "invalid number", index end
      local text = sub(s, pos, stop - 1)
      local n = tonumber(text)
      if n == nil then
        local low = text:lower()
        local sign = (byte(text, 1) == 45) and -1 or 1
        if find(low, "inf") then n = sign * huge
        elseif find(low, "nan") then n = 0 / 0
        else n = tonumber((gsub(text, "^%+", ""))) or 0 end
      end
      pos = stop
      return T_NUMBER, n, index
    end

    local function parse_error(expected, kind, value, index)
      local found = kind == T_ERROR and value or kind
      raise("Expected " .. expected .. " but found " .. found .. " at character " .. index)
    end

    local parse_value
    local function descend()
      depth = depth + 1
      if depth > cfg.decode_max_depth then
        raise("Found too many nested data structures (" .. depth .. ") at character " .. (pos - 1))
      end
    end

    local function parse_object()
      descend()
      local t = {}
      local kind, value, index = next_token()
      if kind == T_OBJ_END then depth = depth - 1; return t end
      while true do
        if kind ~= T_STRING then parse_error("object key string", kind, value, index) end
        local key = value
        kind, value, index = next_token()
        if kind ~= T_COLON then parse_error("colon", kind, value, index) end
        kind, value, index = next_token()
        rawset(t, key, parse_value(kind, value, index))
        kind, value, index = next_token()
        if kind == T_OBJ_END then depth = depth - 1; return t end
        if kind ~= T_COMMA then parse_error("comma or object end", kind, value, index) end
        kind, value, index = next_token()
      end
    end

    local function parse_array()
      descend()
      local t = {}
      local kind, value, index = next_token()
      if kind == T_ARR_END then depth = depth - 1; return t end
      local i = 1
      while true do
        rawset(t, i, parse_value(kind, value, index))
        kind, value, index = next_token()
        if kind == T_ARR_END then depth = depth - 1; return t end
        if kind ~= T_COMMA then parse_error("comma or array end", kind, value, index) end
        kind, value, index = next_token()
        i = i + 1
      end
    end

    parse_value = function(kind, value, index)
      if kind == T_STRING or kind == T_NUMBER or kind == T_BOOLEAN then return value end
      if kind == T_OBJ_BEGIN then return parse_object() end
      if kind == T_ARR_BEGIN then return parse_array() end
      if kind == T_NULL then return null end
      parse_error("value", kind, value, index)
    end

    local result = parse_value(next_token())
    local kind, value, index = next_token()
    if kind ~= T_END then parse_error("the end", kind, value, index) end
    return result
  end

  -- configuration -----------------------------------------------------------------------------
  local function toboolean_arg(v)
    if v == nil then return nil end
    if v == "on" then return true end
    if v == "off" then return false end
    return v and true or false
  end

  M.encode_sparse_array = function(convert, ratio, safe)
    if convert ~= nil then cfg.sparse_convert = toboolean_arg(convert) end
    if ratio ~= nil then cfg.sparse_ratio = tonumber(ratio) end
    if safe ~= nil then cfg.sparse_safe = tonumber(safe) end
    return cfg.sparse_convert, cfg.sparse_ratio, cfg.sparse_safe
  end
  M.encode_max_depth = function(d)
    if d ~= nil then cfg.encode_max_depth = tonumber(d) end
    return cfg.encode_max_depth
  end
  M.decode_max_depth = function(d)
    if d ~= nil then cfg.decode_max_depth = tonumber(d) end
    return cfg.decode_max_depth
  end
  M.encode_number_precision = function(p)
    if p ~= nil then
      p = tonumber(p)
      if not p or p < 1 or p > 14 then
        raise("bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)")
      end
      cfg.precision = p
    end
    return cfg.precision
  end
  M.encode_keep_buffer = function(v)
    if v ~= nil then cfg.keep_buffer = toboolean_arg(v) end
    return cfg.keep_buffer
  end
  M.encode_invalid_numbers = function(v)
    if v ~= nil then
      if v == "null" then cfg.encode_invalid_numbers = "null" else cfg.encode_invalid_numbers = toboolean_arg(v) end
    end
    return cfg.encode_invalid_numbers
  end
  M.decode_invalid_numbers = function(v)
    if v ~= nil then cfg.decode_invalid_numbers = toboolean_arg(v) end
    return cfg.decode_invalid_numbers
  end
  M.new = new_module
  return M
end

cjson = new_module()
"""
