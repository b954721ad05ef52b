"""The libraries Redis bundles for scripts (bit, struct, cjson, cmsgpack), differential.

Every script runs on both servers as EVAL <script> 1 k v in RESP2 and RESP3 and the
replies must be identical, errors included. Binary results are returned as hex
(the `hex` helper is prepended) to keep failure messages readable. Scripts that
change cjson's configuration restore it before returning (it persists per server).
"""
from __future__ import annotations

import pytest

HEX = "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end "


def ids(scripts):
    return [s.strip().replace("\n", " ")[:60] for s in scripts]


BIT = [
    "return bit.tobit(2^32 + 5)",
    "return {bit.tobit(-1), bit.tobit(0.5), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-2.5), bit.tobit(2^52 + 3), bit.tobit(-2^31), bit.tobit(2^31)}",
    "return {bit.tohex(-1), bit.tohex(0x1234, 2), bit.tohex(255, 12), bit.tohex(255, -4), bit.tohex(1, 0), bit.tohex(65535)}",
    "return {bit.bnot(0), bit.band(0xff, 0x0f, 0x3), bit.bor(1,2,4), bit.bxor(5, 3), bit.band(2^40+3, 7), bit.bxor(1)}",
    "return {bit.lshift(1, 31), bit.lshift(1, 32), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.lshift(1, -1), bit.rshift(256, 36)}",
    "return {bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678), bit.tohex(bit.bswap(1)), bit.rol(1, 0), bit.ror(1, 32)}",
    "return {bit.tobit('0x10'), bit.tobit(' 12 '), bit.band('7', 3)}",
    "return bit.tobit(nil)",
    "return bit.tobit()",
    "return bit.band()",
    "return bit.band('x')",
    "return bit.band(1, {})",
    "return bit.lshift(1)",
    "return bit.tohex(1, 'x')",
    "return bit.tohex()",
    "return bit.bor(1, 2, nil)\n"
]

STRUCT = [
    "return struct.pack('>i2<I4!4bBhHlLTdfc3s', 1, 2, 3, 4, 5, 6, 7, 8, 9, 1.5, 2.5, 'abc', 'zz')",
    "return {struct.unpack('>i2', struct.pack('>i2', -2))}",
    "return struct.size('i4d!8i')",
    "return {struct.unpack('c0', '\\3abc')}",
    "return {struct.unpack('bc0', '\\3abcdef')}",
    "return struct.pack('i3', 2^24)",
    "return struct.pack('b', 300)",
    "return struct.pack('B', -1)",
    "return {struct.unpack('s', 'ab\\0cd')}",
    "return struct.pack('x x')",
    "return struct.pack('i17', 1)",
    "return struct.pack('q', 1)",
    "return {struct.unpack('>I4', 'ab')}",
    "return {struct.unpack('>l', '\\255\\255\\255\\255\\255\\255\\255\\254')}",
    "return {struct.unpack('d', struct.pack('d', 0.1))}",
    "return tostring(struct.unpack('f', struct.pack('f', 0.1)))",
    "return struct.pack('!2 b i', 1, 2)",
    "return struct.pack('!i b d', 1, 2, 3)",
    "return {struct.unpack('>i2', '\\0\\1\\0\\2', 3)}",
    "return struct.pack('i')",
    "return struct.pack()",
    "return struct.pack('c5', 'ab')",
    "return struct.pack('c0', 'abcdef')",
    "return struct.pack('!3i', 1)",
    "return struct.pack('i33', 1)",
    "return {struct.unpack('i', 'abcd', 0)}",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('!i q')",
    "return {struct.unpack('s', 'abc')}",
    "return {struct.unpack('<H>H', '\\1\\2\\1\\2')}",
    "return struct.pack('<d>d', 1.5, -2)",
    "return {struct.unpack('<I8', struct.pack('<I8', 2^53))}",
    "return struct.pack('h', '12')",
    "return struct.pack('h', 'x')",
    "return struct.pack(12, 1)",
    "return {struct.unpack('B', 'A', 2)}",
    "return struct.pack('=i', 7)\n"
]

CJSON = [
    "return {cjson._NAME, cjson._VERSION, cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION}",
    "return {cjson.encode_sparse_array()}",
    "return {cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()}",
    "return type(cjson.new)",
    "return cjson.encode(cjson.null)",
    "return {cjson.encode_invalid_numbers(true)}",
    "return cjson.encode(1/0)",
    "cjson.encode_invalid_numbers(false) return 1",
    "return cjson.encode({[0]=1})",
    "return cjson.encode({[-1]=1})",
    "return cjson.encode({1,2,[4]=4})",
    "return cjson.encode({[1]=1,[11]=2})",
    "return cjson.encode({[1]=1,[12]=2})",
    "return cjson.encode('\\0')",
    "return cjson.decode('[1]\\0x')",
    "return cjson.decode('\"a\\0b\"')",
    "return cjson.decode('+1')",
    "return cjson.decode('-')",
    "return cjson.decode('.5')",
    "return cjson.decode('1.5e')",
    "return cjson.decode('\"\\\\ud800\"')",
    "return cjson.decode('\"\\\\u12\"')",
    "return cjson.decode('[[[[1]]]]')[1][1][1][1]",
    "return cjson.encode({a={b={c=1}}})",
    "return cjson.encode(cjson.decode('{\"b\":1,\"a\":2,\"c\":[1,2]}'))",
    "return cjson.decode('\"\\\\u0000\"')",
    "return cjson.encode(2^53)",
    "return cjson.encode(-1.5e-7)",
    "return cjson.decode()",
    "return cjson.encode()",
    "return cjson.encode(1,2)",
    "return cjson.decode('nul')",
    "return cjson.decode('[1 2]')",
    "return cjson.decode('{\"a\" 1}')",
    "return cjson.decode('{\"a\":}')",
    "return cjson.decode(' \\n ')",
    "return cjson.decode('x')",
    "return cjson.decode('[')",
    "return cjson.decode('NaN') ~= nil",
    "return cjson.decode('-nan') ~= nil",
    "return cjson.decode('InFinity')",
    "return cjson.decode('1E400')",
    "return cjson.decode('0x1p4')",
    "return cjson.encode({['a\\1']=1})",
    "return cjson.encode(true)",
    "return cjson.decode('true')",
    "return cjson.decode(12)",
    "return cjson.encode({{}, {{}}})\n",
    "return cjson.encode({1,2,nil,4})",
    "return cjson.encode({[1]=1,[20]=2})",
    "return cjson.encode({a={}})",
    "return cjson.encode('a/b\"\\\\\\n\\1\\127')",
    "return cjson.encode(0.1)",
    "return cjson.encode(1/3)",
    "return cjson.encode(1e20)",
    "return cjson.encode(-0)",
    "return cjson.encode(1/0)",
    "return cjson.encode({[1.5]=1})",
    "return cjson.encode({[true]=1})",
    "return cjson.decode('[1,\"a\",null,true,{\"x\":1.5}]')[3] == cjson.null and 1 or 0",
    "return type(cjson.null)",
    "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')",
    "return cjson.decode('1e2')",
    "return cjson.decode(' [ ] ')[1]",
    "return cjson.decode('0x10')",
    "return cjson.decode('[1,]')",
    "return cjson.decode('{\"a\":1,}')",
    "return cjson.decode('tru')",
    "return cjson.decode('\"abc')",
    "return cjson.decode('')",
    "return cjson.decode('01')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('\"\\\\x\"')",
    "return cjson.decode('{1:2}')",
    "return cjson.decode('{')",
    "return cjson.decode('[1,2')",
    "local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}') return cjson.encode(t)",
    "local t = {} for i = 1, 1002 do t = {t} end return pcall(cjson.encode, t)",
    "local s = string.rep('[', 1001) .. string.rep(']', 1001) return pcall(cjson.decode, s)",
    "cjson.encode_sparse_array(true) local r = cjson.encode({[1]=1,[20]=2}) cjson.encode_sparse_array(false) return r",
    "cjson.encode_number_precision(3) local r = cjson.encode(math.pi) cjson.encode_number_precision(14) return r",
    "cjson.encode_invalid_numbers('null') local r = cjson.encode({1/0, 0/0}) cjson.encode_invalid_numbers(false) return r",
    "cjson.decode_invalid_numbers(false) local ok, e = pcall(cjson.decode, '0x10') cjson.decode_invalid_numbers(true) return e",
    "local j = cjson.new() j.encode_number_precision(2) return {j.encode(1.2345), cjson.encode(1.2345)}"
]

CMSGPACK = [
    "return hex(cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, -32, -33, -128, -129, -32768, -32769, 2^31, 2^32, -2^31, -2^31-1, 2^53, 1.5, 0.1, -0.0, 1/0))",
    "return hex(cmsgpack.pack(1/0, -1/0, 0/0, 2^63, -2^63, 2^64, -2^64, 1e300, 3.4e38, 2^62 + 1024))",
    "return hex(cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('x', 32)))",
    "return #cmsgpack.pack(string.rep('x', 255), string.rep('x',256), string.rep('x', 65536))",
    "return hex(cmsgpack.pack({}, {1,2}, {a=1}, {1, nil, 3}, true, false, nil))",
    "return cmsgpack.pack()",
    "return hex(cmsgpack.pack(function() end))",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2,{x=1}}, true))}",
    "local t = cmsgpack.unpack(cmsgpack.pack({a=1, b={1,2}})) return {t.a, t.b[2]}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 1)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 3)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 4)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), -1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2, 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3))}",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('')",
    "return {cmsgpack.unpack('\\205\\1')}",
    "return cmsgpack.unpack('\\202\\63\\192\\0\\0')",
    "return tostring(cmsgpack.unpack('\\203\\63\\185\\153\\153\\153\\153\\153\\154'))",
    "return {cmsgpack.unpack('\\196\\1a\\199\\1\\1b')}",
    "return cmsgpack.unpack()",
    "return cmsgpack.unpack(12)",
    "local t = {} for i=1,20 do t[i]=i end return hex(cmsgpack.pack(t))",
    "local t = {} for i=1,20 do t['k'..i]=i end return #cmsgpack.pack(t)",
    "local t = {} for i=1,20 do t['k'..i]=i end local u = cmsgpack.unpack(cmsgpack.pack(t)) return {u.k1, u.k20}",
    "return hex(cmsgpack.pack({[1]=1,[3]=3}))",
    "return hex(cmsgpack.pack({['1']=1}))",
    "local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return hex(cmsgpack.pack(t))",
    "return {cmsgpack.unpack(cmsgpack.pack(-1, -33, -129, -32769, -2^31-1, 2^32, -2^40, 2^60))}",
    "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
    "return {cmsgpack.unpack('\\147\\1\\2')}",
    "return hex(cmsgpack.pack(cjson.null))",
    "return {cmsgpack.unpack(cmsgpack.pack({1, {2, {3}}}))}",
    "return {cmsgpack.unpack('\\130\\192\\1\\2\\3')}\n"
]

ROUND_TRIPS = [
    "return cjson.encode(cjson.decode(ARGV[1]))",
    "return hex(cmsgpack.pack(cjson.decode(ARGV[1])))",
    "return cjson.encode(cmsgpack.unpack(cmsgpack.pack(cjson.decode(ARGV[1]))))",
]

JSON_DOCS = [
    '{"a":1}', '[1,2,3]', '{"a":{"b":[true,false,null]},"c":"x\\u0041"}', '"plain"', '12.5',
    '[]', '{}', '[[],{}]', '{"n":-0.0001,"big":123456789012345678}', '["\\ud83d\\ude00", "\\/"]',
]


@pytest.mark.parametrize("script", BIT + STRUCT + CJSON + CMSGPACK, ids=ids(BIT + STRUCT + CJSON + CMSGPACK))
def test_library(pair, script):
    pair.check("EVAL", HEX + script, "1", "k", "v")


@pytest.mark.parametrize("doc", JSON_DOCS)
@pytest.mark.parametrize("script", ROUND_TRIPS, ids=["cjson", "cmsgpack", "cjson-cmsgpack-cjson"])
def test_round_trips(pair2, script, doc):
    pair2.check("EVAL", HEX + script, "0", doc)


def test_struct_round_trip_values(pair2):
    script = HEX + """
    local out = {}
    for _, fmt in ipairs({'b', 'B', 'h', 'H', 'i', 'I', 'l', 'L', '>i3', '<I5', 'd', 'f'}) do
      for _, v in ipairs({0, 1, -1, 127, -128, 255, 65535, -32768, 2^31 - 1, -2^31, 1.5}) do
        local ok, packed = pcall(struct.pack, fmt, v)
        if ok then
          out[#out + 1] = fmt .. ':' .. hex(packed) .. '=' .. tostring((struct.unpack(fmt, packed)))
        else
          out[#out + 1] = fmt .. ':error'
        end
      end
    end
    return out
    """
    pair2.check("EVAL", script, "0")


def test_script_flush_resets_library_settings(pair2):
    pair2.check("EVAL", "cjson.encode_sparse_array(true) return 1", "0")
    pair2.check("EVAL", "return cjson.encode({[1]=1,[20]=2})", "0")
    pair2.check("SCRIPT", "FLUSH")
    pair2.check("EVAL", "return cjson.encode({[1]=1,[20]=2})", "0")
