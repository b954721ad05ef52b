"""SYNC, master side: the dataset as an RDB payload, then the propagated writes."""
from __future__ import annotations

import socket

from rawclient import RawClient
from support import same_on_both


def _read_line(sock: socket.socket, buf: bytearray) -> bytes:
    while b"\r\n" not in buf:
        chunk = sock.recv(1 << 16)
        assert chunk, "connection closed"
        buf += chunk
    i = buf.index(b"\r\n")
    line = bytes(buf[:i])
    del buf[:i + 2]
    return line


def _read_exact(sock: socket.socket, buf: bytearray, n: int) -> bytes:
    while len(buf) < n:
        chunk = sock.recv(1 << 16)
        assert chunk, "connection closed"
        buf += chunk
    data = bytes(buf[:n])
    del buf[:n]
    return data


def _read_command(sock, buf) -> list[bytes]:
    head = _read_line(sock, buf)
    while head == b"":          # a newline is a keepalive while the payload is made
        head = _read_line(sock, buf)
    assert head[:1] == b"*", head
    out = []
    for _ in range(int(head[1:])):
        size = int(_read_line(sock, buf)[1:])
        out.append(_read_exact(sock, buf, size + 2)[:-2])
    out[0] = out[0].lower()
    return out


def _sync_stream(port: int):
    c = RawClient(port)
    c.call("SET", "before", "1")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"SYNC\r\n")
    buf = bytearray()
    head = _read_line(s, buf)
    while head == b"":
        head = _read_line(s, buf)
    payload = _read_exact(s, buf, int(head[1:]))
    c.call("SET", "foo", "bar")
    c.call("MULTI")
    c.call("INCR", "n")
    c.call("RPUSH", "l", "a", "b")
    c.call("EXEC")
    c.call("EVAL", "redis.call('set', 'x', '1'); redis.call('del', 'x')", "0")
    c.call("SELECT", "2")
    c.call("SET", "other", "db")
    c.call("GET", "other")                     # reads are not propagated
    c.call("DEL", "other")
    seen = [_read_command(s, buf) for _ in range(12)]
    s.close()
    c.close()
    return payload[:5], seen


def test_sync_sends_rdb_then_propagated_writes(ports):
    magic, seen = same_on_both(ports, _sync_stream)
    assert magic == b"REDIS"
    assert seen[0] == [b"select", b"0"]
