"""Scripts so simple that their meaning is fixed by their text: run without entering Lua.

Two shapes cover most scripts clients actually send on the hot path (a write
through `redis.call`, and the compare-and-delete lock release):

    return redis.call(A, A, ...)
    if redis.call(A, ...) == A then return redis.call(A, ...) else return L end

where an argument A is KEYS[n], ARGV[n], a quoted string without escapes or an
integer literal, and L is an integer, a string, nil, false or true. Inside the
sandbox nothing can rebind `redis`, `KEYS`, `ARGV` or `redis.call` (read-only
globals), so such a script always does exactly this; running it in Python gives
the same commands, effects, checks (redis.call goes through the same dispatch as
from Lua) and reply. The reply takes the same Redis -> Lua -> Redis round trip as
through Lua (`resp2_roundtrip`: the script speaks RESP2, so maps flatten, doubles
become strings, integers pass through a Lua number), and errors carry the same
"script: <sha>, on @user_script:<line>." suffix. A script referring to a KEYS or
ARGV slot the call does not provide runs through Lua (it gets nil there).
"""
from __future__ import annotations

import re

from ..engine.replies import (
    NO_REPLY, NULL_ARRAY, OK, BigNumber, ErrorReply, HumanDouble, Push, RespSet, Status, Verbatim,
)
from ..engine.replies import format_double
from .runtime import error_text, lua_int, number_arg

_TOKEN = re.compile(rb"""
    (?P<ws>[ \t\r]+) | (?P<nl>\n) | (?P<comment>--(?!\[=*\[)[^\n]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*) | (?P<num>\d+(?![.\dxXeE]))
  | (?P<str>'[^'\\\n]*'|"[^"\\\n]*")
  | (?P<op>==|[()\[\],.;])
""", re.VERBOSE)

KEY, ARG, CONST = 0, 1, 2


def _tokens(code: bytes):
    out = []
    pos, line = 0, 1
    while pos < len(code):
        m = _TOKEN.match(code, pos)
        if m is None:
            return None
        kind = m.lastgroup
        text = m.group()
        pos = m.end()
        if kind == "nl":
            line += 1
        elif kind in ("ws", "comment"):
            continue
        else:
            out.append((kind, text, line))
    return out


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.i = 0

    def peek(self, text=None):
        if self.i >= len(self.tokens):
            return None
        tok = self.tokens[self.i]
        if text is not None and tok[1] != text:
            return None
        return tok

    def take(self, text):
        tok = self.peek(text)
        if tok is None:
            raise ValueError(text)
        self.i += 1
        return tok

    def arg(self):
        tok = self.peek()
        if tok is None:
            raise ValueError("arg")
        kind, text, _ = tok
        self.i += 1
        if kind == "name" and text in (b"KEYS", b"ARGV"):
            self.take(b"[")
            num = self.peek()
            if num is None or num[0] != "num" or int(num[1]) < 1:
                raise ValueError("index")
            self.i += 1
            self.take(b"]")
            return (KEY if text == b"KEYS" else ARG, int(num[1]))
        if kind == "str":
            return (CONST, text[1:-1])
        if kind == "num":
            return (CONST, number_arg(int(text)))
        raise ValueError("arg")

    def call(self):
        self.take(b"redis")
        self.take(b".")
        self.take(b"call")
        line = self.take(b"(")[2]
        args = [self.arg()]
        while self.peek(b","):
            self.i += 1
            args.append(self.arg())
        self.take(b")")
        return line, tuple(args)

    def literal(self):
        tok = self.peek()
        if tok is None:
            raise ValueError("literal")
        kind, text, _ = tok
        self.i += 1
        if kind == "num":
            return int(text)
        if kind == "str":
            return text[1:-1]
        if text in (b"nil", b"false"):
            return None
        if text == b"true":
            return 1
        raise ValueError("literal")

    def end(self):
        while self.peek(b";"):
            self.i += 1
        if self.i != len(self.tokens):
            raise ValueError("trailing")


def plan(code: bytes):
    """A Plan for `code` if it has one of the static shapes, else None."""
    tokens = _tokens(code)
    if not tokens:
        return None
    p = _Parser(tokens)
    try:
        if p.peek(b"return"):
            p.i += 1
            call = p.call()
            p.end()
            return Plan(call, None, None, None)
        if p.peek(b"if"):
            p.i += 1
            test = p.call()
            p.take(b"==")
            expected = p.arg()
            p.take(b"then")
            p.take(b"return")
            then = p.call()
            while p.peek(b";"):
                p.i += 1
            p.take(b"else")
            p.take(b"return")
            otherwise = p.literal()
            while p.peek(b";"):
                p.i += 1
            p.take(b"end")
            p.end()
            return Plan(then, test, expected, otherwise)
    except ValueError:
        return None
    return None


class Plan:
    __slots__ = ("call", "test", "expected", "otherwise", "needs_keys", "needs_argv")

    def __init__(self, call, test, expected, otherwise):
        self.call, self.test, self.expected, self.otherwise = call, test, expected, otherwise
        refs = list(call[1]) + (list(test[1]) + [expected] if test is not None else [])
        self.needs_keys = max((n for kind, n in refs if kind == KEY), default=0)
        self.needs_argv = max((n for kind, n in refs if kind == ARG), default=0)


def resp2_roundtrip(reply):
    """What a reply becomes after Redis -> Lua (RESP2) -> Redis."""
    c = type(reply)
    if c is bytes:
        return reply
    if c is int:
        return reply if -9007199254740992 <= reply <= 9007199254740992 else lua_int(float(reply))
    if c is Status:
        return OK if reply.text == b"OK" else reply
    if reply is None or reply is NULL_ARRAY or reply is NO_REPLY:
        return None
    if c is list or c is tuple or c is Push:
        return [resp2_roundtrip(x) for x in reply]
    if c is ErrorReply:
        text = error_text(b"-" + reply.message)
        return ErrorReply(text.replace(b"\r", b" ").replace(b"\n", b" "))
    if c is bytearray or c is memoryview:
        return bytes(reply)
    if c is str:
        return reply.encode()
    if c is float:
        return format_double(reply)
    if c is dict:
        flat = []
        for k, v in reply.items():
            flat.append(resp2_roundtrip(k))
            flat.append(resp2_roundtrip(v))
        return flat
    if c is RespSet:
        return [resp2_roundtrip(x) for x in reply]
    if c is bool:
        return 1 if reply else 0
    if c is Verbatim:
        return reply.text
    if c is BigNumber:
        return reply.digits
    if c is HumanDouble:
        return reply.text
    if isinstance(reply, int):
        return resp2_roundtrip(int(reply))
    return None
