"""A raw RESP2/RESP3 client for tests: sends exactly what we say, returns typed frames.

Client libraries hide the frames (a RESP3 map and a RESP2 flat array look alike
through redis-py), so differential tests talk through this instead and compare
the type of every frame as well as its value.
"""
from __future__ import annotations

import socket


class Frame(tuple):
    """(type, value): type is one of + - : $ * % ~ , _ # ( = > | and value is parsed."""

    __slots__ = ()

    @property
    def kind(self):
        return self[0]

    @property
    def value(self):
        return self[1]

    def __repr__(self):
        return f"{self[0]}{self[1]!r}"


def encode_command(args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawClient:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0, unix: str | None = None,
                 source: str | None = None):
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout,
                                                 source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, *args) -> None:
        self.send_raw(encode_command(args))

    def call(self, *args) -> Frame:
        self.send(*args)
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self) -> Frame:
        line = self._line()
        t, rest = chr(line[0]), line[1:]
        if t in "+-":
            return Frame((t, rest))
        if t == ":":
            return Frame((t, int(rest)))
        if t == ",":
            return Frame((t, rest))
        if t == "(":
            return Frame((t, int(rest)))
        if t == "#":
            return Frame((t, rest == b"t"))
        if t == "_":
            return Frame((t, None))
        if t in "$=!":
            n = int(rest)
            if n < 0:
                return Frame((t, None))
            return Frame((t, self._exact(n)))
        if t in "*~>":
            n = int(rest)
            if n < 0:
                return Frame((t, None))
            return Frame((t, [self.read() for _ in range(n)]))
        if t in "%|":
            n = int(rest)
            return Frame((t, [(self.read(), self.read()) for _ in range(n)]))
        raise ValueError(f"bad frame type {line!r}")

    def closed_by_server(self, wait: float = 2.0) -> bool:
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def normalize(frame: Frame, unordered: bool = False):
    """Make a frame comparable: optionally sort arrays/sets/maps whose order is unspecified."""
    t, v = frame
    if t in "*~>" and v is not None:
        items = [normalize(x, unordered) for x in v]
        if unordered or t == "~":
            items = sorted(items, key=repr)
        return (t, items)
    if t in "%|":
        pairs = [(normalize(k, unordered), normalize(x, unordered)) for k, x in v]
        return (t, sorted(pairs, key=repr))
    return (t, v)


def attach_replica(port: int) -> RawClient:
    """A connection that did SYNC and skipped the RDB: what follows is the replication stream."""
    replica = RawClient(port)
    replica.send("SYNC")
    while True:
        line = replica._line().lstrip(b"\n")        # newlines are keepalives
        if line.startswith(b"$"):
            break
    replica._exact(int(line[1:]) - 2)               # the RDB has no CRLF after it
    return replica


def read_stream_until(replica: RawClient, end_key: bytes) -> list[list[bytes]]:
    """The commands of the replication stream (PINGs left out) up to the one on `end_key`."""
    seen = []
    while True:
        args = [item[1] for item in replica.read()[1]]
        if args[0].lower() == b"ping":
            continue
        seen.append(args)
        if args[1:2] == [end_key]:
            return seen
