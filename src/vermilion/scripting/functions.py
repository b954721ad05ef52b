"""FUNCTION LOAD: library metadata, redis.register_function, and linking into the registry.

A library is Lua code whose first line is ``#!lua name=<library>``. It runs once, at
load time, in the FUNCTION Lua state with only a small API visible (redis.log,
redis.register_function, redis.LOG_*, redis.REDIS_VERSION*); the callbacks it
registers become functions that FCALL runs later with the full API. Errors and
their order follow Redis 7.0's functions.c / function_lua.c.
"""
from __future__ import annotations

import re
import time

from ..engine.errors import CommandError
from .scripts import FLAG_NAMES, Function, Library

LOAD_TIMEOUT = 0.5      # seconds a library's top-level code may run (Redis's load_timeout)
_NAME = re.compile(rb"[A-Za-z0-9_]+\Z")
_BAD_NAME = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"


def _split_args(line: bytes):
    """The shebang's words, quotes handled as Redis's sdssplitargs does (name="foo")."""
    from ..server.parser import split_inline
    parts = split_inline(line)
    if parts is None:
        raise CommandError("ERR Invalid library metadata")
    return parts


def _metadata(code: bytes):
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid library metadata")
    parts = _split_args(code[:end])
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("ERR Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise CommandError(b"ERR Invalid metadata value given: " + part)
    if name is None:
        raise CommandError("ERR Library name was not given")
    return engine, name, code[end:]


def build_library(scripts, code: bytes, existing: dict, replace: bool) -> Library:
    """Run a library's code and collect its functions (not linked yet).

    `existing` is the registry the name is checked against (the live one for
    FUNCTION LOAD, the payload's own for FUNCTION RESTORE).
    """
    engine_name, name, body = _metadata(code)
    if not _NAME.match(name):
        raise CommandError("ERR " + _BAD_NAME)
    if engine_name.lower() != b"lua":
        raise CommandError(b"ERR Engine '" + engine_name + b"' not found")
    if name in existing and not replace:
        raise CommandError(b"ERR Library '" + name + b"' already exists")
    library = Library(name, code)
    scripts.loading = library
    scripts.load_deadline = time.monotonic() + LOAD_TIMEOUT
    try:
        status = scripts.function_lua.load_library(body)
    finally:
        scripts.loading = None
        scripts.function_lua.arm_hook()     # the timeout may have left a line hook
    if status.__class__ is not tuple:
        status = (status,)
    if status[0] == 1:
        raise CommandError(b"ERR Error compiling function: " + (status[1] or b""))
    if status[0] == 2:
        raise CommandError(b"ERR Error registering functions: " + (status[1] or b""))
    if not library.functions:
        raise CommandError("ERR No functions registered")
    return library


def load_library(scripts, code: bytes, replace: bool) -> bytes:
    """FUNCTION LOAD [REPLACE]: build the library, check collisions, link it."""
    library = build_library(scripts, code, scripts.libraries, replace)
    old = scripts.libraries.get(library.name)
    for fname in library.functions:
        existing = scripts.functions.get(fname.lower())
        if existing is not None and existing.library is not old:
            raise CommandError(b"ERR Function " + fname + b" already exists")
    if old is not None:
        delete_library(scripts, library.name)
    _link(scripts, library)
    return library.name


def _link(scripts, library: Library) -> None:
    scripts.libraries[library.name] = library
    # Function names are case-insensitive (FCALL TEST finds "test"), as in Redis.
    for fname, func in library.functions.items():
        scripts.functions[fname.lower()] = func


def dump(scripts) -> bytes:
    """FUNCTION DUMP: the libraries' code as FUNCTION2 records, RDB version and CRC-64."""
    from ..persistence.rdb import functions_payload
    return functions_payload([lib.code for lib in scripts.libraries.values()])


def restore(scripts, payload: bytes, policy: bytes = b"append") -> None:
    """FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE], with Redis 7.0's checks and texts.

    The payload's libraries are built apart first (so a bad payload changes
    nothing), then swapped in (FLUSH) or joined to the live ones (APPEND fails on
    any library name collision, REPLACE replaces those libraries; a function name
    colliding with another library fails either way).
    """
    from ..persistence.rdb import RdbError, read_functions_payload
    try:
        codes = read_functions_payload(payload)
    except RdbError as err:
        text = str(err)
        if "checksum" in text:
            raise CommandError("ERR DUMP payload version or checksum are wrong") from None
        raise CommandError("ERR " + text) from None
    built: dict = {}
    names: dict = {}
    for code in codes:
        library = build_library(scripts, code, built, False)
        for fname in library.functions:
            if fname in names:
                raise CommandError(b"ERR Function " + fname + b" already exists")
            names[fname] = library
        built[library.name] = library
    if policy == b"flush":
        scripts.libraries.clear()
        scripts.functions.clear()
        for library in built.values():
            _link(scripts, library)
        return
    replace = policy == b"replace"
    replaced = []
    for name in built:
        if name in scripts.libraries:
            if not replace:
                raise CommandError(b"ERR Library " + name + b" already exists")
            replaced.append(name)
    for fname, library in names.items():
        existing = scripts.functions.get(fname.lower())
        if existing is not None and existing.library.name not in replaced:
            raise CommandError(b"ERR Function " + fname + b" already exists")
    for name in replaced:
        delete_library(scripts, name)
    for library in built.values():
        _link(scripts, library)


def delete_library(scripts, name: bytes) -> None:
    library = scripts.libraries.pop(name, None)
    if library is None:
        raise CommandError("ERR Library not found")
    for fname in library.functions:
        scripts.functions.pop(fname.lower(), None)


def _is_function(value) -> bool:
    from .runtime import lua_type
    return value.__class__ not in (bytes, int, float, bool) and value is not None \
        and lua_type(value) == "function"


def _string(value):
    """luaGetStringSds: Lua strings and numbers are strings."""
    if value.__class__ is bytes:
        return value
    if value.__class__ in (int, float):
        from .scripts import _lua_tostring_number
        return _lua_tostring_number(value)
    return None


def register_function(scripts, n: int, args: tuple):
    """redis.register_function(name, callback) or redis.register_function{...}."""
    library = scripts.loading
    if library is None:
        return b"ERR redis.register_function can only be called on FUNCTION LOAD command", 1
    if n < 1 or n > 2:
        return b"ERR wrong number of arguments to redis.register_function", 1
    flags = frozenset()
    description = None
    if n == 2:
        name = _string(args[0])
        if name is None:
            return b"ERR first argument to redis.register_function must be a string", 1
        callback = args[1]
        if not _is_function(callback):
            return b"ERR second argument to redis.register_function must be a function", 1
    else:
        table = args[0]
        from .runtime import lua_type
        if table is None or table.__class__ in (bytes, int, float, bool) or lua_type(table) != "table":
            return (b"ERR calling redis.register_function with a single argument is only applicable "
                    b"to Lua table (representing named arguments)."), 1
        name = callback = None
        for key, value in table.items():
            key = _string(key)
            if key is None:
                return b"ERR named argument key given to redis.register_function is not a string", 1
            low = key.lower()
            if low == b"function_name":
                name = _string(value)
                if name is None:
                    return b"ERR function_name argument given to redis.register_function must be a string", 1
            elif low == b"description":
                description = _string(value)
                if description is None:
                    return b"ERR description argument given to redis.register_function must be a string", 1
            elif low == b"callback":
                if not _is_function(value):
                    return b"ERR callback argument given to redis.register_function must be a function", 1
                callback = value
            elif low == b"flags":
                if value is None or value.__class__ in (bytes, int, float, bool) or lua_type(value) != "table":
                    return (b"ERR flags argument to redis.register_function must be a table representing "
                            b"function flags"), 1
                chosen = set()
                for _, flag in value.items():
                    flag = _string(flag)
                    text = flag.decode("utf-8", "replace").lower() if flag is not None else None
                    if text not in FLAG_NAMES:
                        return b"ERR unknown flag given", 1
                    chosen.add(text)
                flags = frozenset(chosen)
            else:
                return b"ERR unknown argument given to redis.register_function", 1
        if name is None:
            return b"ERR redis.register_function must get a function name argument", 1
        if callback is None:
            return b"ERR redis.register_function must get a callback argument", 1
    if not _NAME.match(name):
        return b"ERR " + _BAD_NAME.encode(), 1
    if name in library.functions:
        return b"ERR Function already exists in the library", 1
    library.functions[name] = Function(name, callback, flags, description, library)
    return None
