"""A tiny RESP2 client: encoder, incremental parser and a raw socket connection.

It exists so preloading a million members or measuring byte-counted pipelines costs as
little client CPU as possible; redis-py is used where convenience matters more.
"""

from __future__ import annotations

import socket
from typing import Iterable, Sequence


class ReplyError(Exception):
    """An error reply (``-ERR ...``) from the server."""


class Incomplete(Exception):
    pass


def _b(x) -> bytes:
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode()
    if isinstance(x, (int, float)):
        return repr(x).encode()
    return bytes(x)


def encode(*args) -> bytes:
    """Encode one command as a RESP multibulk."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = _b(a)
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def encode_many(commands: Iterable[Sequence]) -> bytes:
    return b"".join(encode(*c) for c in commands)


def parse(buf, pos: int = 0):
    """Parse one reply from ``buf`` at ``pos``.  Returns ``(value, new_pos)``.

    Error replies are returned as :class:`ReplyError` instances (not raised), nested ones too.
    Raises :class:`Incomplete` if the buffer does not hold a full reply yet.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind = buf[pos:pos + 1]
    line = bytes(buf[pos + 1:end])
    pos = end + 2
    if kind == b"+":
        return line, pos
    if kind == b"-":
        return ReplyError(line.decode(errors="replace")), pos
    if kind == b":":
        return int(line), pos
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete
        return bytes(buf[pos:pos + n]), pos + n + 2
    if kind == b"*":
        n = int(line)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            v, pos = parse(buf, pos)
            out.append(v)
        return out, pos
    # RESP3 types, in case a server answers with them anyway.
    if kind == b"_":
        return None, pos
    if kind in (b"%", b"~", b">"):
        n = int(line) * (2 if kind == b"%" else 1)
        out = []
        for _ in range(n):
            v, pos = parse(buf, pos)
            out.append(v)
        return out, pos
    if kind == b",":
        return float(line), pos
    if kind == b"#":
        return line == b"t", pos
    raise ValueError(f"bad RESP type byte {kind!r}")


class RawConn:
    """Blocking RESP2 connection over a plain socket."""

    def __init__(self, host: str, port: int, timeout: float | None = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        self.consumed = 0  # reply bytes parsed so far

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_reply(self):
        while True:
            try:
                value, newpos = parse(self.buf, self.pos)
            except Incomplete:
                chunk = self.sock.recv(1 << 18)
                if not chunk:
                    raise ConnectionError("server closed the connection")
                if self.pos:
                    del self.buf[:self.pos]
                    self.pos = 0
                self.buf += chunk
                continue
            self.consumed += newpos - self.pos
            self.pos = newpos
            if self.pos > (1 << 20):
                del self.buf[:self.pos]
                self.pos = 0
            return value

    def call(self, *args, raise_errors: bool = True):
        self.send(encode(*args))
        v = self.read_reply()
        if raise_errors and isinstance(v, ReplyError):
            raise v
        return v

    def pipeline(self, commands: Sequence[Sequence]) -> list:
        self.send(encode_many(commands))
        return [self.read_reply() for _ in commands]

    def bulk(self, commands: Iterable[Sequence], batch: int = 2000) -> tuple[int, ReplyError | None]:
        """Send many commands in pipelined batches.  Returns (replies read, first error)."""
        count = 0
        first_error = None
        pending: list[bytes] = []
        def flush():
            nonlocal count, first_error
            if not pending:
                return
            self.send(b"".join(pending))
            for _ in range(len(pending)):
                v = self.read_reply()
                count += 1
                if first_error is None and isinstance(v, ReplyError):
                    first_error = v
            pending.clear()
        for c in commands:
            pending.append(encode(*c))
            if len(pending) >= batch:
                flush()
        flush()
        return count, first_error

    def bulk_raise(self, commands: Iterable[Sequence], batch: int = 2000) -> int:
        count, err = self.bulk(commands, batch)
        if err is not None:
            raise err
        return count
