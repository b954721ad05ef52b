"""FUNCTION LOAD/LIST/DELETE/FLUSH/STATS/KILL/HELP, FCALL and FCALL_RO, differential.

Libraries and functions are kept in dicts whose order Redis does not define, so
FUNCTION LIST replies are compared with arrays sorted (`unordered`).
"""
from __future__ import annotations

import pytest

from rawclient import normalize

L1 = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return {keys, args} end)\nredis.register_function{function_name='ro', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='read only'}"
STEPS = [("FUNCTION","FLUSH"),("FUNCTION","LOAD",L1),("FUNCTION","LOAD",L1),("FCALL","myfunc","1","k","a"),("FCALL","ro","1","k"),("FCALL_RO","myfunc","0"),("FCALL_RO","ro","1","k"),
("FCALL","nosuch","0"),("FCALL","myfunc","-1"),("FCALL","myfunc","3","a"),
("FUNCTION","LIST"),("FUNCTION","LIST","WITHCODE"),("FUNCTION","LIST","LIBRARYNAME","my"),("FUNCTION","LIST","LIBRARYNAME","my*"),
("FUNCTION","LIST","LIBRARYNAME"),("FUNCTION","LIST","bogus"),("FUNCTION","STATS"),
("FUNCTION","LOAD","return 1"),("FUNCTION","LOAD","#!lua\nreturn 1"),("FUNCTION","LOAD","#!lua name=x\nreturn 1"),
("FUNCTION","LOAD","#!lua name=x foo=bar\nreturn 1"),("FUNCTION","LOAD","#!js name=x\nreturn 1"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function('a b', function() end)"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function('myfunc', function() end)"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function('f1', function() end) redis.register_function('f1', function() end)"),
("FUNCTION","LOAD","#!lua name=x\nredis.call('set','a','b')"),
("FUNCTION","LOAD","#!lua name=x\nlocal a = b"),
("FUNCTION","LOAD","#!lua name=x\nerror('boom')"),
("FUNCTION","LOAD","#!lua name=x\nreturn 1 +"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function('f2', function() end, 'x')"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function{function_name='f2', callback=function() end, flags={'bogus'}}"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function{function_name='f2', callback=function() end, bogus=1}"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function{function_name='f2'}"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function('f2')"),
("FUNCTION","LOAD","#!lua name=x\nredis.register_function()"),
("FUNCTION","LOAD","#!lua name=x\nredis.log(redis.LOG_WARNING, 'x') redis.register_function('f3', function() return redis.setresp and 1 end)"),
("FCALL","f3","0"),
("FUNCTION","LOAD","REPLACE","#!lua name=mylib\nredis.register_function('myfunc2', function(keys, args) error('bad') end)"),
("FCALL","myfunc","0"),("FCALL","myfunc2","0"),
("FUNCTION","LOAD","#!lua name=lib3\nredis.register_function('f4', function(keys, args) return redis.call('nosuch') end)"),("FCALL","f4","0"),
("FUNCTION","DELETE","nosuch"),("FUNCTION","DELETE","lib3"),
("FUNCTION","LOAD","REPLACE","#!lua name=p\nredis.register_function('f', function() local t = {} for k in pairs(_G) do t[#t+1]=k end table.sort(t) return t end)\nredis.register_function('g', function() local t = {} for k in pairs(redis) do t[#t+1]=k end table.sort(t) return t end)\nredis.register_function('k', function(keys, args) return {type(KEYS), #keys} end)"),
("FCALL","f","0"),("FCALL","g","0"),("FCALL","k","1","x"),
("FUNCTION","LOAD","REPLACE","#!lua name=p\nredis.register_function('f', function() x = 1 end)\nredis.register_function('g', function() string.x = 1 end)\nredis.register_function('h', function() redis.register_function('q', function() end) end)"),
("FCALL","f","0"),("FCALL","g","0"),("FCALL","h","0"),
("FUNCTION","LOAD","REPLACE","#!lua name=p\nx = 5\nredis.register_function('f', function() return 1 end)"),
("FUNCTION","LOAD","REPLACE","#!lua name=p\nlocal x = 5\nredis.register_function('f', function() return x end)\nredis.register_function{function_name='g', callback=function() return 1 end, flags={'no-writes','allow-oom','allow-stale','no-cluster','allow-cross-slot-keys'}}"),
("FUNCTION","LIST","LIBRARYNAME","p"),
("FUNCTION","LOAD","#!lua name=p2 name=p3\nredis.register_function('f9', function() return 1 end)"),
("FUNCTION","LOAD","#!lua  name=p4 \nredis.register_function('f8', function() return 1 end)"),
("FUNCTION","LOAD","#!lua name=\nredis.register_function('f8', function() return 1 end)"),
("FUNCTION","LOAD","#!lua name=a-b\nredis.register_function('f8', function() return 1 end)"),
("FUNCTION","LOAD","REPLACE","#!lua name=ab\nredis.register_function('f8', function() return 1 end) redis.register_function('', function() return 1 end)"),
("FUNCTION","LOAD","REPLACE","#!lua name=ab\nredis.register_function(1, function() return 1 end)"),
("FUNCTION","LOAD","REPLACE","#!lua name=ab\nredis.register_function('x', 1)"),
("FUNCTION","LOAD","REPLACE","#!lua name=ab\nredis.register_function{function_name='x', callback=function() end, flags='no-writes'}"),
("FUNCTION","LOAD","REPLACE","#!lua name=ab\nredis.register_function{function_name='x', callback=function() end, description=1}"),
("FUNCTION","LOAD","REPLACE","#!lua name=ab\nredis.register_function{function_name=1, callback=function() end}"),
("FUNCTION","LOAD","REPLACE","#!lua name=ab\nredis.register_function{callback=function() end}"),
("FUNCTION","LOAD","REPLACE","#!lua name=ab\nredis.register_function{function_name='x', callback=function() end, flags={'NO-WRITES'}}"),
("FUNCTION","FLUSH","bogus"),("FUNCTION","FLUSH"),("FUNCTION","LIST"),("FUNCTION","STATS"),("FUNCTION","KILL"),("FUNCTION","HELP"),("SCRIPT","HELP"),
("FUNCTION","LOAD","REPLACE"),("FUNCTION","LOAD","BOGUS", "x"),
]


def test_function_session(pair):
    """The whole sequence runs on both servers; every reply must match."""
    pair.check("FUNCTION", "FLUSH")
    for step in STEPS:
        expected, actual = pair.both(*step)
        assert normalize(actual, True) == normalize(expected, True), (step, expected, actual)


LIB = """#!lua name=lib
local function incr_by(keys, args)
  return redis.call('INCRBY', keys[1], args[1])
end
redis.register_function('incr_by', incr_by)
redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end,
                        flags={'no-writes'}}
redis.register_function('boom', function(keys, args)
  local t = nil
  return t.x
end)
redis.register_function('resp3', function(keys, args)
  redis.setresp(3)
  return {map={a=1}, double=1.5}
end)
redis.register_function('types', function(keys, args)
  return {type(keys), type(args), #keys, #args, type(KEYS)}
end)
"""


@pytest.mark.parametrize("steps", [
    [("FCALL", "incr_by", "1", "n", "5"), ("FCALL", "incr_by", "1", "n", "x"), ("GET", "n")],
    [("SET", "k", "v"), ("FCALL", "peek", "1", "k"), ("FCALL_RO", "peek", "1", "k"),
     ("FCALL_RO", "incr_by", "1", "k", "1")],
    [("FCALL", "boom", "0")],
    [("FCALL", "resp3", "0")],
    [("FCALL", "types", "2", "a", "b", "c")],
    [("FCALL", "nosuch", "0"), ("FCALL", "incr_by"), ("FCALL", "incr_by", "x"), ("FCALL", "incr_by", "2", "a")],
    [("FUNCTION", "DELETE", "lib"), ("FCALL", "peek", "1", "k"), ("FUNCTION", "DELETE", "lib")],
    [("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "l*"), ("FUNCTION", "LIST", "LIBRARYNAME", "LIB"),
     ("FUNCTION", "STATS")],
])
def test_functions(pair, steps):
    pair.check("FUNCTION", "FLUSH")
    pair.check("FUNCTION", "LOAD", LIB)
    for step in steps:
        expected, actual = pair.both(*step)
        assert normalize(actual, True) == normalize(expected, True), (step, expected, actual)


def test_replace_keeps_old_library_on_error(pair):
    pair.check("FUNCTION", "FLUSH")
    pair.check("FUNCTION", "LOAD", LIB)
    pair.check_error("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib\nerror('x')")
    pair.check_error("FUNCTION", "LOAD", "REPLACE", "#!lua name=other\nredis.register_function('peek', function() end)")
    pair.check("FCALL", "peek", "1", "k")
    pair.check("FUNCTION", "LOAD", "REPLACE", "#!lua name=lib\nredis.register_function('only', function() return 7 end)")
    pair.check_error("FCALL", "peek", "1", "k")
    pair.check("FCALL", "only", "0")


def _lib(name, func):
    return f"#!lua name={name}\nredis.register_function('{func}', function() return '{name}' end)"


def test_function_dump_and_restore_across_servers(pair2):
    """A payload dumped by either server restores on both, with the same replies."""
    from vermilion.persistence.rdb import functions_payload
    for source in ("ref", "ver"):
        pair2.check("FUNCTION", "FLUSH")
        pair2.check("FUNCTION", "LOAD", _lib("a", "fa"))
        payload = getattr(pair2, source).call("FUNCTION", "DUMP").value
        steps = [
            (payload,), (payload, "APPEND"), (payload, "REPLACE"), (payload, "FLUSH"),
            (payload, "bogus"), (payload, "FLUSH", "x"), (b"xx",),
            (functions_payload([_lib("b", "fb").encode()]),),
            (functions_payload([_lib("c", "fa").encode()]),),
            (functions_payload([_lib("a", "fz").encode()]), "REPLACE"),
            (functions_payload([b"#!lua name=x\nreturn 1 +"]),),
            (functions_payload([b"#!lua name=x\nreturn 1"]),),
            (functions_payload([_lib("d", "fd").encode(), _lib("d", "fe").encode()]),),
            (functions_payload([_lib("e", "fx").encode(), _lib("f", "fx").encode()]),),
            (functions_payload([]),),
        ]
        for step in steps:
            pair2.check("FUNCTION", "RESTORE", *step)
        pair2.check("FUNCTION", "LIST", unordered=True)
        pair2.check("FCALL", "fz", "0")
    pair2.check("SET", "k", "v")
    key_dump = pair2.ref.call("DUMP", "k").value
    pair2.check("FUNCTION", "RESTORE", key_dump)
    pair2.check_error("FUNCTION", "RESTORE")


def test_function_load_timeout(pair2):
    pair2.check_error("FUNCTION", "LOAD", "#!lua name=spin\nwhile true do end")
    pair2.check("FUNCTION", "LOAD", "REPLACE", "#!lua name=ok\nredis.register_function('f', function() return 1 end)")
    pair2.check("FCALL", "f", "0")


def test_function_names_case_insensitive_quoted_metadata_and_flush_arity(pair):
    pair.check("FUNCTION", "FLUSH")
    pair.check("FUNCTION", "LOAD", "#!lua name=\"quoted\"\nredis.register_function('Hello', function() return 1 end)")
    pair.check("FCALL", "HELLO", "0")
    pair.check("FCALL", "hello", "0")
    pair.check("FUNCTION", "LIST")
    pair.check_error("FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('HELLO', function() return 2 end)")
    pair.check_error("FUNCTION", "FLUSH", "sync", "extra_arg")
    pair.check_error("FUNCTION", "FLUSH", "bad_arg")
    pair.check("FUNCTION", "DELETE", "quoted")
    pair.check_error("FCALL", "hello", "0")


def test_errors_name_the_line_of_every_function(pair):
    # Each callback tail-calls redis.call; the error names its function and line, for the
    # first function of the library and the later ones alike (nested, with locals and
    # upvalues before them).
    library = "\n".join([
        "#!lua name=lines",
        "local prefix = 'p'",
        "redis.register_function('f1', function() return redis.call('get', 'x') end)",
        "redis.register_function{function_name='f2', callback=function(keys, args)",
        "  local unused = prefix .. 'y'",
        "  return redis.call('get', 'x')",
        "end}",
        "redis.register_function{function_name='f3',",
        "  callback=function() return redis.call('nosuch') end, flags={'no-writes'}}",
        "redis.register_function('f4', function() local t = {1, 2}",
        "  return redis.pcall('get', 'x') end)",
    ])
    pair.check("RPUSH", "x", "a")
    pair.check("FUNCTION", "LOAD", library)
    for name in ("f1", "f2", "f3", "f4"):
        pair.check_error("FCALL", name, "0")
