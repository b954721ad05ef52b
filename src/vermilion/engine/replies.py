"""Reply values that command handlers return, independent of the wire protocol.

Handlers return plain Python values; the connection encodes them for the
client's protocol (RESP2 or RESP3), and Lua converts them to Lua values:

    bytes / bytearray / str   bulk string
    int                       integer
    float                     double (RESP3 ``,``; RESP2 bulk formatted like Redis 7.0: %.17g)
    None                      null (RESP2 ``$-1``)
    NULL_ARRAY                null array (RESP2 ``*-1``)
    list / tuple              array
    dict                      map (RESP3 ``%``; RESP2 flat array of key, value, ...)
    RespSet                   set (RESP3 ``~``; RESP2 array)
    Push                      push (RESP3 ``>``; RESP2 array)
    Status                    simple string (``+OK``)
    ErrorReply                an error value inside an array (EXEC results)
    Verbatim                  verbatim string (RESP3 ``=``; RESP2 bulk)
    BigNumber                 big number (RESP3 ``(``; RESP2 bulk)
    HumanDouble               a double printed as Redis's "human" long double (GEOPOS)
    NoReply                   nothing is written (QUIT after close, blocked clients)

Errors a command fails with are raised as ``CommandError`` (engine/errors.py).
"""
from __future__ import annotations

import math


class Status:
    """A simple string reply such as ``+OK``; kept pre-encoded because it is frequent.

    Never changed once made: vermilion._resp's encoder keeps the bytes of the last
    Status it encoded."""

    __slots__ = ("text", "encoded")

    def __init__(self, text: bytes | str):
        if isinstance(text, str):
            text = text.encode()
        self.text = text
        self.encoded = b"+" + text + b"\r\n"

    def __eq__(self, other):
        return isinstance(other, Status) and other.text == self.text

    def __hash__(self):
        return hash(self.text)

    def __repr__(self):
        return f"Status({self.text!r})"


class ErrorReply:
    """An error reply appearing as a value (e.g. one element of EXEC's array)."""

    __slots__ = ("message",)

    def __init__(self, message: bytes | str):
        if isinstance(message, str):
            message = message.encode()
        self.message = message

    def __eq__(self, other):
        return isinstance(other, ErrorReply) and other.message == self.message

    def __repr__(self):
        return f"ErrorReply({self.message!r})"


class RespSet(list):
    """A set reply: RESP3 ``~``, a plain array in RESP2."""

    __slots__ = ()


class Push(list):
    """An out-of-band push message (pub/sub): RESP3 ``>``, a plain array in RESP2."""

    __slots__ = ()


class Verbatim:
    """A verbatim string (RESP3 ``=``, with a three-letter format such as ``txt``)."""

    __slots__ = ("text", "fmt")

    def __init__(self, text: bytes | str, fmt: bytes = b"txt"):
        self.text = text.encode() if isinstance(text, str) else text
        self.fmt = fmt


class BigNumber:
    __slots__ = ("digits",)

    def __init__(self, digits: bytes | str | int):
        self.digits = str(digits).encode() if not isinstance(digits, bytes) else digits


class HumanDouble:
    """A double that Redis prints with ``%.17Lf`` and its trailing zeros cut
    (addReplyHumanLongDouble: GEOPOS, WITHCOORD): RESP3 ``,``, RESP2 bulk."""

    __slots__ = ("value", "text")

    def __init__(self, value: float):
        self.value = value
        text = b"%.17f" % value
        if b"." in text:
            text = text.rstrip(b"0").rstrip(b".")
        self.text = b"0" if text == b"-0" else text

    def __repr__(self):
        return f"HumanDouble({self.text!r})"


class Deep:
    """A reply nested deeper than Python's default recursion limit lets the encoder
    walk (a script returning a long chain of tables): encoded with a raised limit."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class deep_recursion:
    """Raise the recursion limit for the walk of one deep structure (Python 3.11+
    runs Python-to-Python calls without growing the C stack)."""

    LIMIT = 50000

    def __enter__(self):
        import sys
        self.saved = sys.getrecursionlimit()
        if self.saved < self.LIMIT:
            sys.setrecursionlimit(self.LIMIT)

    def __exit__(self, *exc):
        import sys
        if self.saved < self.LIMIT:
            sys.setrecursionlimit(self.saved)


class _NullArray:
    """RESP2 ``*-1``: the null some commands return where an array was expected."""

    __slots__ = ()

    def __repr__(self):
        return "NULL_ARRAY"


class _NoReply:
    """Returned by handlers that must not write a reply now (blocked, QUIT, subscribed)."""

    __slots__ = ()

    def __repr__(self):
        return "NO_REPLY"


class _Postponed:
    """The command cannot run now (CLIENT PAUSE); the connection keeps it and retries."""

    __slots__ = ()

    def __repr__(self):
        return "POSTPONED"


NULL_ARRAY = _NullArray()
POSTPONED = _Postponed()
NO_REPLY = _NoReply()
OK = Status(b"OK")
QUEUED = Status(b"QUEUED")
PONG = Status(b"PONG")


def format_double(value: float) -> bytes:
    """Redis 7.0 prints doubles with %.17g, and infinities as inf / -inf."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if value != value:  # NaN: C's printf shows the sign bit
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"
    return b"%.17g" % value
