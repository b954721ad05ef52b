"""RESP2/RESP3 encoding of the reply values in engine/replies.py."""
from __future__ import annotations

from .._native import native_module
from ..engine.errors import CommandError
from ..engine.replies import (  # noqa: F401  (format_double re-exported)
    format_double,
    NO_REPLY, NULL_ARRAY, BigNumber, Deep, ErrorReply, HumanDouble, Push, RespSet, Status, Verbatim,
    deep_recursion,
)


def encode(value, out: list, resp3: bool) -> None:
    """Append the wire form of `value` to `out` (a list of bytes pieces)."""
    t = type(value)
    if t is bytes:
        out.append(b"$%d\r\n%b\r\n" % (len(value), value))
    elif t is int:
        out.append(b":%d\r\n" % value)
    elif t is Status:
        out.append(value.encoded)
    elif value is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif t is list or t is tuple:
        out.append(b"*%d\r\n" % len(value))
        if len(value) > 8 and type(value[0]) is bytes and type(value[-1]) is bytes:
            # Arrays of bulk strings (LRANGE, MGET, field lists) in one comprehension;
            # anything else in them (None, int, nested) raises TypeError: go item by item.
            try:
                out.append(b"".join([b"$%d\r\n%b\r\n" % (len(item), item) for item in value]))
                return
            except TypeError:
                pass
        append = out.append
        for item in value:
            if type(item) is bytes:
                append(b"$%d\r\n%b\r\n" % (len(item), item))
            else:
                encode(item, out, resp3)
    elif t is bytearray or t is memoryview:
        value = bytes(value)
        out.append(b"$%d\r\n%b\r\n" % (len(value), value))
    elif t is str:
        value = value.encode()
        out.append(b"$%d\r\n%b\r\n" % (len(value), value))
    elif t is float:
        text = format_double(value)
        if resp3:
            out.append(b",%b\r\n" % text)
        else:
            out.append(b"$%d\r\n%b\r\n" % (len(text), text))
    elif t is dict:
        out.append((b"%%%d\r\n" if resp3 else b"*%d\r\n") % (len(value) * (1 if resp3 else 2)))
        for k, v in value.items():
            encode(k, out, resp3)
            encode(v, out, resp3)
    elif t is RespSet:
        out.append((b"~%d\r\n" if resp3 else b"*%d\r\n") % len(value))
        for item in value:
            encode(item, out, resp3)
    elif t is Push:
        out.append((b">%d\r\n" if resp3 else b"*%d\r\n") % len(value))
        for item in value:
            encode(item, out, resp3)
    elif t is ErrorReply:
        out.append(b"-%b\r\n" % error_line(value.message))
    elif t is CommandError:
        out.append(b"-%b\r\n" % error_line(value.message))
    elif value is NULL_ARRAY:
        out.append(b"_\r\n" if resp3 else b"*-1\r\n")
    elif t is bool:
        out.append((b"#t\r\n" if value else b"#f\r\n") if resp3 else (b":1\r\n" if value else b":0\r\n"))
    elif t is Verbatim:
        if resp3:
            out.append(b"=%d\r\n%b:%b\r\n" % (len(value.text) + 4, value.fmt, value.text))
        else:
            out.append(b"$%d\r\n%b\r\n" % (len(value.text), value.text))
    elif t is BigNumber:
        if resp3:
            out.append(b"(%b\r\n" % value.digits)
        else:
            out.append(b"$%d\r\n%b\r\n" % (len(value.digits), value.digits))
    elif t is HumanDouble:
        if resp3:
            out.append(b",%b\r\n" % value.text)
        else:
            out.append(b"$%d\r\n%b\r\n" % (len(value.text), value.text))
    elif value is NO_REPLY:
        pass
    elif t is Deep:
        with deep_recursion():
            python_encode(value.value, out, resp3)
    elif isinstance(value, int):  # IntEnum and other int subclasses
        out.append(b":%d\r\n" % int(value))
    else:
        raise TypeError(f"cannot encode reply of type {t.__name__}")


def error_line(message: bytes) -> bytes:
    # Redis never lets an error text break the protocol line.
    if b"\r" in message or b"\n" in message:
        message = message.replace(b"\r", b" ").replace(b"\n", b" ")
    return message


def encode_one(value, resp3: bool = False) -> bytes:
    out: list = []
    encode(value, out, resp3)
    return b"".join(out)


# The reference encoder above; when vermilion._resp is built, `encode` is its C
# twin, which writes the common types itself and hands the others back here.
python_encode = encode
_resp = native_module("_resp")
if _resp is not None:
    _resp.setup_encoder(python_encode, NULL_ARRAY, Status)
    encode = _resp.encode
