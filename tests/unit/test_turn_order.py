"""The order of one event-loop turn's writes: the clients' replies, then the replication stream.

In process: the real Engine, Server and Connections, transports that record what is written,
and a loop stand-in whose callbacks run when the turn ends. What is guaranteed: every reply
of the turn is written before the turn's stream goes to a replica, the stream is written
once per turn and replica, and the backlog and offsets hold the same bytes as the replica got.
"""
from __future__ import annotations

from unittest import mock

from vermilion.config import Config
from vermilion.engine.engine import Engine
from vermilion.server.connection import Connection
from vermilion.server.server import Server


def recorder(name: str, log: list) -> mock.Mock:
    """A transport that takes everything and records (name, bytes) for each write."""
    transport = mock.Mock()
    transport.write.side_effect = lambda data: log.append((name, bytes(data)))
    transport.is_closing.return_value = False
    transport.get_write_buffer_size.return_value = 0
    peer = {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}
    transport.get_extra_info.side_effect = lambda key, default=None: peer.get(key, default)
    return transport


class Turn:
    """call_soon callbacks run at end_turn(), as the server's end-of-turn pass does."""

    def __init__(self):
        self.ready = []

    def call_soon(self, fn, *args):
        self.ready.append((fn, args))

    def end_turn(self):
        while self.ready:
            ready, self.ready = self.ready, []
            for fn, args in ready:
                fn(*args)


def command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def setup(clients: int):
    log: list = []
    engine = Engine(Config())
    engine.loop = Turn()
    server = Server(engine)
    conns = []
    for i in range(clients):
        conn = Connection(server)
        conn.connection_made(recorder(f"client{i}", log))
        conns.append(conn)
    replica = Connection(server)
    replica.connection_made(recorder("replica", log))
    link = engine.replication.attach(replica)
    replica.kind = "replica"
    link.state = "online"
    link.streaming = True
    return engine, conns, log


def test_replies_leave_before_the_stream_in_a_turn_of_several_clients():
    engine, conns, log = setup(3)
    repl = engine.replication
    start = repl.master_repl_offset
    conns[0].data_received(command(b"SET", b"a", b"1"))
    conns[1].data_received(command(b"GET", b"a"))          # a read: no stream of its own
    conns[2].data_received(command(b"SET", b"b", b"2") + command(b"INCR", b"n"))
    assert log == []                                       # nothing leaves before the turn ends
    engine.loop.end_turn()
    assert [name for name, _ in log] == ["client0", "client1", "client2", "replica"]
    assert log[0][1] == b"+OK\r\n" and log[1][1] == b"$1\r\n1\r\n"
    assert log[2][1] == b"+OK\r\n:1\r\n"
    stream = log[3][1]
    assert stream == (command(b"SELECT", b"0") + command(b"SET", b"a", b"1")
                      + command(b"SET", b"b", b"2") + command(b"INCR", b"n"))
    assert repl.master_repl_offset == start + len(stream)
    assert repl.backlog.since(start + 1) == stream


def test_a_turn_without_writes_sends_the_replica_nothing_and_the_next_one_continues():
    engine, conns, log = setup(1)
    repl = engine.replication
    conns[0].data_received(command(b"SET", b"k", b"v"))
    engine.loop.end_turn()
    offset = repl.master_repl_offset
    del log[:]
    conns[0].data_received(command(b"GET", b"k"))
    engine.loop.end_turn()
    assert log == [("client0", b"$1\r\nv\r\n")]
    assert repl.master_repl_offset == offset
    conns[0].data_received(command(b"DEL", b"k"))
    engine.loop.end_turn()
    assert log[1:] == [("client0", b":1\r\n"), ("replica", command(b"DEL", b"k"))]
    assert repl.master_repl_offset == offset + len(command(b"DEL", b"k"))
