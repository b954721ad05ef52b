"""Framing, pipelining, protocol errors and limits, compared with real redis-server."""
from __future__ import annotations

import socket
import time

import pytest

from rawclient import RawClient


def both(reference_server, vermilion_process_server):
    return RawClient(reference_server.port), RawClient(vermilion_process_server.port)


def exchange(port: int, payload: bytes, replies: int, split: int | None = None):
    """Send raw bytes (optionally split in two writes) and read `replies` frames."""
    c = RawClient(port)
    try:
        if split is None:
            c.send_raw(payload)
        else:
            c.send_raw(payload[:split])
            time.sleep(0.02)
            c.send_raw(payload[split:])
        frames = [c.read() for _ in range(replies)]
        closed = c.closed_by_server(0.3)
        return frames, closed
    finally:
        c.close()


CASES = [
    ("inline", b"PING\r\nECHO hello\r\n", 2),
    ("inline quotes", b'ECHO "a b\\x41\\n" \r\n', 1),
    ("inline single quotes", b"ECHO 'it\\'s'\r\n", 1),
    ("inline lf only", b"PING\nPING\n", 2),
    ("inline empty lines", b"\r\n\r\nPING\r\n", 1),
    ("pipeline", b"*1\r\n$4\r\nPING\r\n" * 5, 5),
    ("mixed inline then multibulk", b"PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n", 2),
    ("empty multibulk", b"*0\r\n*1\r\n$4\r\nPING\r\n", 1),
    ("null multibulk", b"*-1\r\n*1\r\n$4\r\nPING\r\n", 1),
    ("bad multibulk length", b"*x\r\n", 1),
    ("bad bulk length", b"*1\r\n$x\r\n", 1),
    ("negative bulk length", b"*1\r\n$-5\r\n", 1),
    ("expected dollar", b"*1\r\n:1\r\n", 1),
    ("expected dollar after good", b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n:1\r\n", 2),
    ("unbalanced quotes", b'ECHO "abc\r\n', 1),
    ("closing quote then letter", b'ECHO "abc"d\r\n', 1),
    ("bulk over proto-max-bulk-len", b"*2\r\n$3\r\nSET\r\n$600000000\r\n", 1),
    ("multibulk over INT_MAX", b"*3000000000\r\n", 1),
    ("leading zero count", b"*01\r\n$4\r\nPING\r\n", 1),
    ("status element in a request", b"*2\r\n$4\r\nECHO\r\n+x\r\n", 1),
    ("nested array in a request", b"*2\r\n$4\r\nECHO\r\n*1\r\n$1\r\nx\r\n", 1),
    # The request splitter (server/framing.py) takes the plain shape itself and hands
    # everything else to the parser of record: these sit just outside (or inside) what it takes.
    ("leading zero bulk length", b"*1\r\n$04\r\nPING\r\n", 1),
    ("plus sign in count", b"*+1\r\n$4\r\nPING\r\n", 1),
    ("plus sign in bulk length", b"*1\r\n$+4\r\nPING\r\n", 1),
    ("empty bulk", b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n", 2),
    ("bulk longer than announced", b"*2\r\n$4\r\nECHO\r\n$1\r\nab\r\n*1\r\n$4\r\nPING\r\n", 2),
    ("count without lf", b"*1\r$4\r\nPING\r\n", 1),
    ("empty multibulk between requests", b"*1\r\n$4\r\nPING\r\n*0\r\n*1\r\n$4\r\nPING\r\n", 2),
    ("inline after multibulk", b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*1\r\n$4\r\nPING\r\n", 3),
    ("lowercase command", b"*2\r\n$4\r\necho\r\n$2\r\nhi\r\n", 1),
    ("inline separators", b"ECHO\t\x0bhi\x0c \r\nECHO a\rb\r\n  \t\r\nPING\r\nECHO\x0bhi\r\n", 4),
    ("inline binary word", b"ECHO \xff\x80\x7f\r\n", 1),
    ("inline then quotes", b"PING\r\nECHO \"a b\"\r\nPING\r\n", 3),
    ("unknown command", b"*2\r\n$3\r\nFOO\r\n$3\r\nbar\r\n", 1),
    ("unknown inline command with long args", b"FOO " + b"a" * 200 + b" b c\r\n", 1),
    ("wrong arity", b"*1\r\n$4\r\nECHO\r\n", 1),
]


@pytest.mark.parametrize("name,payload,replies", CASES, ids=[c[0] for c in CASES])
def test_framing_matches_redis(reference_server, vermilion_process_server, name, payload, replies):
    expected = exchange(reference_server.port, payload, replies)
    actual = exchange(vermilion_process_server.port, payload, replies)
    assert actual == expected


@pytest.mark.parametrize("name,payload,replies", CASES[:9], ids=[c[0] for c in CASES[:9]])
@pytest.mark.parametrize("split", [1, 3, 7, 12])
def test_split_reads_match_redis(reference_server, vermilion_process_server, name, payload, replies, split):
    if split >= len(payload):
        pytest.skip("payload shorter than split")
    expected = exchange(reference_server.port, payload, replies, split)
    actual = exchange(vermilion_process_server.port, payload, replies, split)
    assert actual == expected


def test_inline_request_with_a_nul_waits_until_the_buffer_is_too_big(reference_server,
                                                                      vermilion_process_server):
    # Redis finds the end of an inline request with strchr, which stops at the NUL:
    # nothing is answered, not even the PING after it, until 64 KB have piled up.
    seen = []
    for port in (reference_server.port, vermilion_process_server.port):
        c = RawClient(port)
        try:
            c.send_raw(b"ECHO a\x00b\r\nPING\r\n")
            c.sock.settimeout(0.3)
            try:
                quiet = c.sock.recv(1) == b"NOTHING"
            except socket.timeout:
                quiet = True
            c.sock.settimeout(5)
            c.send_raw(b"x" * 70000)
            seen.append((quiet, c.read(), c.closed_by_server(1.0)))
        finally:
            c.close()
    assert seen[1] == seen[0]
    assert seen[0][0]


def test_hello_in_the_middle_of_a_read_switches_the_replies_after_it(reference_server,
                                                                      vermilion_process_server):
    payload = (b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n*3\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n"
               b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n"
               b"*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n")
    # A fresh one-field hash: the servers are shared, and a hash another test grew past
    # the listpack limits replies in its hashtable's order.
    setup = b"*2\r\n$3\r\nDEL\r\n$1\r\nh\r\n*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n"
    results = []
    for port in (reference_server.port, vermilion_process_server.port):
        exchange(port, setup, 2)
        frames, closed = exchange(port, payload, 6)
        # The HELLO replies name the server: compare everything else.
        results.append(([frames[i] for i in (0, 1, 3, 5)], closed))
    assert results[1] == results[0]


def test_every_split_point_of_a_pipeline(vermilion_process_server):
    payload = (b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n" b"PING\r\n"
               b"*3\r\n$4\r\nECHO\r\n$1\r\na\r\n$1\r\nb\r\n" b"*1\r\n$4\r\nPING\r\n")
    for split in range(1, len(payload)):
        frames, closed = exchange(vermilion_process_server.port, payload, 4, split)
        assert [f.value for f in frames] == [
            b"hello", b"PONG", b"ERR wrong number of arguments for 'echo' command", b"PONG"], split
        assert not closed


def test_large_value_across_many_reads(vermilion_process_server):
    c = RawClient(vermilion_process_server.port)
    body = bytes(range(256)) * 4096   # 1 MiB, every byte value
    payload = b"*2\r\n$4\r\nECHO\r\n$%d\r\n%s\r\n" % (len(body), body)
    for i in range(0, len(payload), 65536):
        c.send_raw(payload[i:i + 65536])
    assert c.read().value == body
    assert c.call("PING").value == b"PONG"


def test_huge_announced_bulk_is_not_allocated(vermilion_process_server):
    """A client announcing 500 MB and sending little must cost the server nothing."""
    c = RawClient(vermilion_process_server.port)
    c.send_raw(b"*2\r\n$4\r\nECHO\r\n$500000000\r\n" + b"x" * 1000)
    other = RawClient(vermilion_process_server.port)
    assert other.call("PING").value == b"PONG"
    c.close()


def test_query_buffer_limit_closes_client(vermilion_process_server):
    admin = RawClient(vermilion_process_server.port)
    assert admin.call("CONFIG", "SET", "client-query-buffer-limit", "1mb").value == b"OK"
    try:
        c = RawClient(vermilion_process_server.port)
        c.send_raw(b"*2\r\n$4\r\nECHO\r\n$3000000\r\n")
        with pytest.raises(OSError):
            for _ in range(40):
                c.send_raw(b"y" * 65536)
                time.sleep(0.001)
            c.read()
        assert admin.call("PING").value == b"PONG"
    finally:
        admin.call("CONFIG", "SET", "client-query-buffer-limit", "1gb")


def test_maxclients(reference_server, vermilion_process_server):
    for port in (reference_server.port, vermilion_process_server.port):
        admin = RawClient(port)
        current = int(admin.call("INFO", "clients").value.split(b"connected_clients:")[1].split(b"\r\n")[0])
        admin.call("CONFIG", "SET", "maxclients", str(current + 1))
        try:
            extra = RawClient(port)
            assert extra.call("PING").value == b"PONG"
            refused = RawClient(port)
            assert refused.read() == ("-", b"ERR max number of clients reached")
            assert refused.closed_by_server()
            assert admin.call("PING").value == b"PONG"
            extra.close()
        finally:
            time.sleep(0.05)
            admin.call("CONFIG", "SET", "maxclients", "10000")


def test_unauthenticated_limits(vermilion_process_server):
    admin = RawClient(vermilion_process_server.port)
    admin.call("CONFIG", "SET", "requirepass", "secret")
    try:
        c = RawClient(vermilion_process_server.port)
        assert c.call("GET", "x") == ("-", b"NOAUTH Authentication required.")
        c.send_raw(b"*11\r\n")
        assert c.read() == ("-", b"ERR Protocol error: unauthenticated multibulk length")
        assert c.closed_by_server()
        c = RawClient(vermilion_process_server.port)
        assert c.call("AUTH", "secret").value == b"OK"
        c.call("HELLO", "3")
        assert c.call("PING").value == b"PONG"
    finally:
        admin.call("AUTH", "secret")
        admin.call("CONFIG", "SET", "requirepass", "")


def test_unix_socket(tmp_path):
    import vermilion
    path = str(tmp_path / "v.sock")
    with vermilion.embedded(unixsocket=path) as server:
        c = RawClient(0, unix=path)
        assert c.call("PING").value == b"PONG"
        r = server.client()
        assert r.ping()


def test_tcp_nodelay_is_set(vermilion_process_server):
    # Small replies must not wait for Nagle: 200 sequential round trips stay fast.
    c = RawClient(vermilion_process_server.port)
    start = time.perf_counter()
    for _ in range(200):
        c.call("PING")
    assert time.perf_counter() - start < 2.0


# -- generated framings ------------------------------------------------------------------------
# The C request loop parses the plain multibulk shape itself and hands everything else,
# and any request a read cuts short, to the parser of record. Generated pipelines of
# well-formed requests in every framing Redis accepts, cut into reads at arbitrary
# points, must get the same replies as from Redis.

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_values = st.binary(min_size=0, max_size=12)
_words = st.text(alphabet="abcxyz019", min_size=1, max_size=6).map(str.encode)


def _multibulk(args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


_requests = st.one_of(
    st.tuples(st.just(True), _values.map(lambda v: _multibulk([b"ECHO", v]))),
    st.tuples(st.just(True), st.tuples(_words, _values).map(lambda kv: _multibulk([b"SET", b"g:" + kv[0], kv[1]]))),
    st.tuples(st.just(True), _words.map(lambda k: _multibulk([b"GET", b"g:" + k]))),
    st.tuples(st.just(True), _words.map(lambda k: _multibulk([b"incr", b"n:" + k]))),
    st.tuples(st.just(True), st.tuples(_words, st.sampled_from([b"\r\n", b"\n"]))
              .map(lambda w: b"ECHO " + w[0] + w[1])),
    st.tuples(st.just(True), st.just(b"PING\r\n")),
    st.tuples(st.just(False), st.sampled_from([b"*0\r\n", b"*-1\r\n", b"\r\n"])),  # no reply
)


def _exchange_in_reads(port: int, chunks: list[bytes], replies: int):
    c = RawClient(port)
    try:
        for i, chunk in enumerate(chunks):
            if i:
                time.sleep(0.003)   # separate reads on the server, most of the time
            c.send_raw(chunk)
        return [c.read() for _ in range(replies)]
    finally:
        c.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(_requests, min_size=1, max_size=8), cuts=st.lists(st.floats(0, 1), max_size=3))
def test_generated_framings_in_arbitrary_reads_match_redis(reference_server, vermilion_process_server,
                                                            requests, cuts):
    # Every example starts from empty servers: the session-scoped servers keep what
    # earlier tests and examples wrote, and an INCR reply depends on that history.
    for port in (reference_server.port, vermilion_process_server.port):
        c = RawClient(port)
        try:
            c.call("FLUSHALL")
        finally:
            c.close()
    payload = b"".join(r for _, r in requests)
    replies = sum(1 for answered, _ in requests if answered)
    points = sorted({int(c * len(payload)) for c in cuts} - {0, len(payload)})
    chunks = [payload[a:b] for a, b in zip([0] + points, points + [len(payload)])]
    expected = _exchange_in_reads(reference_server.port, chunks, replies)
    assert _exchange_in_reads(vermilion_process_server.port, chunks, replies) == expected
