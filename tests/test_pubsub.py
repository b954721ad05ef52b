"""Pub/Sub against real redis-server 7.0, frame by frame, in RESP2 and RESP3.

Pub/sub needs several connections per scenario, so `Twin` opens the same
connection to both servers; `twin.check(...)` sends a command to both and
asserts identical frames, `twin.expect(n)` reads pushed frames from both.
Channel names are unique per test so that a subscriber of an earlier test
whose disconnect is still being processed never shows in the counts.
"""
from __future__ import annotations

import socket
import time

import pytest

from rawclient import Frame, RawClient, normalize

SUBSCRIBED_ERR = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                  "QUIT / RESET are allowed in this context")


class Twin:
    """One connection to the reference and one to Vermilion, driven in lockstep."""

    def __init__(self, ref_port: int, ver_port: int, resp: int):
        self.ref = RawClient(ref_port)
        self.ver = RawClient(ver_port)
        self.resp = resp
        if resp == 3:
            self.check("HELLO", "3", compare=False)

    def send(self, *args) -> None:
        self.ref.send(*args)
        self.ver.send(*args)

    def read(self, compare: bool = True):
        expected, actual = self.ref.read(), self.ver.read()
        if compare:
            assert actual == expected, f"redis={expected!r} vermilion={actual!r}"
        return actual

    def check(self, *args, compare: bool = True):
        """Send to both, read one reply from each, assert they are identical."""
        self.send(*args)
        return self.read(compare)

    def expect(self, n: int, unordered: bool = False) -> list:
        """Read `n` frames from each side and compare them (optionally as multisets)."""
        expected = [self.ref.read() for _ in range(n)]
        actual = [self.ver.read() for _ in range(n)]
        if unordered:
            assert sorted(map(repr, actual)) == sorted(map(repr, expected)), (expected, actual)
        else:
            assert actual == expected, f"redis={expected!r} vermilion={actual!r}"
        return actual

    def expect_unsubscribed(self, n: int) -> None:
        """`n` unsubscribe-all frames: Redis walks a dict (hash order), so compare the
        names as a set and the remaining-subscription counts in order."""
        ref = [self.ref.read() for _ in range(n)]
        ver = [self.ver.read() for _ in range(n)]
        assert [(f.kind, f.value[0], f.value[2]) for f in ver] == \
            [(f.kind, f.value[0], f.value[2]) for f in ref], (ref, ver)
        assert sorted(f.value[1].value for f in ver) == sorted(f.value[1].value for f in ref)

    def quiet(self, wait: float = 0.05) -> None:
        """Neither side has anything more to say."""
        time.sleep(wait)
        for side in (self.ref, self.ver):
            assert not side.buf, side.buf
            side.sock.setblocking(False)
            try:
                data = side.sock.recv(65536)
            except (BlockingIOError, socket.timeout):
                data = b""
            finally:
                side.sock.setblocking(True)
                side.sock.settimeout(10)
            assert data == b"", data

    def close(self) -> None:
        self.ref.close()
        self.ver.close()


class Twins:
    """Factory for Twin connections in the test's protocol; closes them all at the end."""

    def __init__(self, ref_port: int, ver_port: int, resp: int):
        self.ports = (ref_port, ver_port)
        self.resp = resp
        self.opened: list[Twin] = []

    def __call__(self, resp: int | None = None) -> Twin:
        twin = Twin(*self.ports, resp or self.resp)
        self.opened.append(twin)
        return twin

    def close(self) -> None:
        for twin in self.opened:
            twin.close()


def _reset(port: int) -> None:
    c = RawClient(port)
    try:
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
    finally:
        c.close()


def wait_pubsub_idle(port: int, timeout: float = 3.0) -> bool:
    """Wait until no channel, pattern or shard channel has a subscriber left."""
    c = RawClient(port)
    try:
        deadline = time.time() + timeout
        while True:
            idle = (c.call("PUBSUB", "CHANNELS").value == [] and
                    c.call("PUBSUB", "NUMPAT").value == 0 and
                    c.call("PUBSUB", "SHARDCHANNELS").value == [])
            if idle or time.time() > deadline:
                return idle
            time.sleep(0.01)
    finally:
        c.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def twins(request, reference_server, vermilion_process_server):
    ports = (reference_server.port, vermilion_process_server.port)
    for port in ports:
        _reset(port)
        wait_pubsub_idle(port)
    factory = Twins(*ports, request.param)
    yield factory
    factory.close()


def push(resp: int, *items) -> Frame:
    """The frame a pushed array of bulks/integers/nulls reads as."""
    out = []
    for item in items:
        if item is None:
            out.append(Frame(("_" if resp == 3 else "$", None)))
        elif isinstance(item, int):
            out.append(Frame((":", item)))
        else:
            out.append(Frame(("$", item.encode() if isinstance(item, str) else item)))
    return Frame((">" if resp == 3 else "*", out))


# -- confirmations -------------------------------------------------------------------------------

def test_subscribe_confirmations_and_counts(twins):
    sub = twins()
    sub.send("SUBSCRIBE", "c1", "c2", "c1")
    frames = sub.expect(3)
    assert frames[-1] == push(sub.resp, "subscribe", "c1", 2)
    sub.check("PSUBSCRIBE", "p1*", "p2?")
    sub.read()
    # Shard subscriptions have their own count.
    sub.send("SSUBSCRIBE", "s1", "s2")
    assert sub.expect(2)[-1] == push(sub.resp, "ssubscribe", "s2", 2)
    # Unsubscribing names never subscribed still replies, once per name.
    sub.send("UNSUBSCRIBE", "nope", "c2")
    assert sub.expect(2) == [push(sub.resp, "unsubscribe", "nope", 4),
                             push(sub.resp, "unsubscribe", "c2", 3)]
    sub.send("PUNSUBSCRIBE", "p2?", "zz")
    sub.expect(2)
    sub.send("SUNSUBSCRIBE", "s1")
    sub.expect(1)
    sub.quiet()


def test_unsubscribe_everything_without_subscriptions_replies_null(twins):
    c = twins()
    for cmd in ("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"):
        reply = c.check(cmd)
        assert reply == push(c.resp, cmd.lower(), None, 0)
    c.check("PING")     # not in subscribed mode afterwards
    c.quiet()


def test_unsubscribe_everything_replies_once_per_channel(twins):
    c = twins()
    c.send("SUBSCRIBE", "u1", "u2", "u3")
    c.expect(3)
    c.send("PSUBSCRIBE", "x*")
    c.expect(1)
    c.send("UNSUBSCRIBE")
    c.expect_unsubscribed(3)
    # Then nothing left: one frame with a null name.
    c.check("UNSUBSCRIBE")
    c.quiet()


def test_punsubscribe_everything_in_subscription_order(twins):
    c = twins()
    c.send("PSUBSCRIBE", "z*", "a*", "m?")
    c.expect(3)
    c.send("PUNSUBSCRIBE")
    assert c.expect(3) == [push(c.resp, "punsubscribe", p, n) for p, n in (("z*", 2), ("a*", 1), ("m?", 0))]
    c.check("PUNSUBSCRIBE")
    c.quiet()


def test_sunsubscribe_everything(twins):
    c = twins()
    c.send("SSUBSCRIBE", "sa", "sb")
    c.expect(2)
    c.send("SUBSCRIBE", "plain")
    c.expect(1)
    c.send("SUNSUBSCRIBE")
    c.expect_unsubscribed(2)
    c.check("SUNSUBSCRIBE")
    c.check("UNSUBSCRIBE")
    c.quiet()


def test_arity_errors(twins):
    c = twins()
    for args in (("SUBSCRIBE",), ("PSUBSCRIBE",), ("SSUBSCRIBE",), ("PUBLISH", "c"),
                 ("PUBLISH", "c", "m", "x"), ("SPUBLISH", "c"), ("PUBSUB",), ("PUBSUB", "NUMPAT", "x"),
                 ("PUBSUB", "HELP", "x")):
        assert c.check(*args).kind == "-"
    c.quiet()


# -- delivery ---------------------------------------------------------------------------------

def test_publish_without_subscribers(twins):
    c = twins()
    c.check("PUBLISH", "nobody-listens", "hello")
    c.check("SPUBLISH", "nobody-listens", "hello")


def test_channel_and_pattern_both_deliver(twins):
    sub, pub = twins(), twins()
    sub.send("SUBSCRIBE", "news.tech")
    sub.expect(1)
    sub.send("PSUBSCRIBE", "news.*")
    sub.expect(1)
    assert pub.check("PUBLISH", "news.tech", "hello").value == 2
    assert sub.expect(2) == [push(sub.resp, "message", "news.tech", "hello"),
                             push(sub.resp, "pmessage", "news.*", "news.tech", "hello")]
    assert pub.check("PUBLISH", "news.sport", "goal").value == 1
    sub.expect(1)
    assert pub.check("PUBLISH", "other", "x").value == 0
    sub.quiet()


def test_publish_counts_every_receiver(twins):
    subs = [twins() for _ in range(4)]
    for i, s in enumerate(subs):
        s.send("SUBSCRIBE" if i % 2 == 0 else "PSUBSCRIBE", "cnt" if i % 2 == 0 else "cn?")
        s.expect(1)
    pub = twins()
    assert pub.check("PUBLISH", "cnt", "m").value == 4
    for s in subs:
        s.expect(1)
        s.quiet(0)


def test_pattern_families(twins):
    sub, pub = twins(), twins()
    sub.send("PSUBSCRIBE", "orders.*", "user.[ab]?", "lit\\*eral", "inv.[^x]")
    sub.expect(4)
    for channel, delivered in (("orders.created", 1), ("orders.cancelled", 1), ("orders", 0),
                               ("ordersXcreated", 0), ("user.a1", 1), ("user.c1", 0), ("user.b", 0),
                               ("lit*eral", 1), ("litXeral", 0), ("inv.y", 1), ("inv.x", 0)):
        assert pub.check("PUBLISH", channel, "payload").value == delivered, channel
        if delivered:
            sub.expect(1)
    sub.quiet()


def test_binary_safe_names_and_payloads(twins):
    sub, pub = twins(), twins()
    channel = b"bin\r\n\x00\xff"
    sub.send("SUBSCRIBE", channel)
    sub.expect(1)
    pub.check("PUBLISH", channel, b"\r\n$5\r\n\x00" + b"x" * 1000)
    sub.expect(1)
    pub.check("PUBLISH", channel, b"")
    sub.expect(1)


def test_sharded_channels(twins):
    sub, pub = twins(), twins()
    sub.send("SSUBSCRIBE", "sh1")
    sub.expect(1)
    sub.send("SUBSCRIBE", "sh2")
    sub.expect(1)
    assert pub.check("SPUBLISH", "sh1", "a").value == 1
    assert sub.expect(1) == [push(sub.resp, "smessage", "sh1", "a")]
    # Plain PUBLISH and SPUBLISH are separate namespaces.
    assert pub.check("PUBLISH", "sh1", "b").value == 0
    assert pub.check("SPUBLISH", "sh2", "b").value == 0
    pub.check("PUBSUB", "SHARDNUMSUB", "sh1", "sh2")
    pub.check("PUBSUB", "SHARDCHANNELS")
    pub.check("PUBSUB", "SHARDCHANNELS", "sh*")
    pub.check("PUBSUB", "SHARDCHANNELS", "zz*")
    sub.quiet()


def test_publisher_subscribed_to_itself(twins):
    # RESP3: the push comes before PUBLISH's own reply, as in Redis.
    c = twins()
    if c.resp == 2:
        pytest.skip("RESP2 subscribed mode refuses PUBLISH (covered elsewhere)")
    c.send("SUBSCRIBE", "self")
    c.expect(1)
    c.send("PUBLISH", "self", "hi")
    assert c.expect(2) == [push(3, "message", "self", "hi"), Frame((":", 1))]
    # Pipelined: replies and pushes stay in execution order.
    c.ref.send_raw(b"PING\r\nPUBLISH self a\r\nECHO e\r\nPUBLISH self b\r\n")
    c.ver.send_raw(b"PING\r\nPUBLISH self a\r\nECHO e\r\nPUBLISH self b\r\n")
    c.expect(6)
    c.quiet()


def test_many_subscribers_receive_everything_in_order(twins):
    subs = [twins() for _ in range(20)]
    for i, s in enumerate(subs):
        s.send("SUBSCRIBE" if i % 2 == 0 else "PSUBSCRIBE", "fan" if i % 2 == 0 else "fa*")
        s.expect(1)
    pub = twins()
    n = 200
    payload = b"p" * 40
    pipeline = b"".join(b"*3\r\n$7\r\nPUBLISH\r\n$3\r\nfan\r\n$%d\r\n%b\r\n" % (len(payload) + 4,
                                                                             payload + b"%04d" % i)
                        for i in range(n))
    pub.ref.send_raw(pipeline)
    pub.ver.send_raw(pipeline)
    assert pub.expect(n) == [Frame((":", 20))] * n
    for i, s in enumerate(subs):
        frames = s.expect(n)
        assert frames[-1].value[-1].value == payload + b"%04d" % (n - 1)
    for s in subs:
        s.quiet(0)


# -- subscribed mode -----------------------------------------------------------------------

def test_subscribed_mode_rules(twins):
    c = twins()
    c.send("SUBSCRIBE", "mode")
    c.expect(1)
    if c.resp == 2:
        assert c.check("ECHO", "x").value == (SUBSCRIBED_ERR % "echo").encode()
        assert c.check("PUBSUB", "NUMPAT").value == (SUBSCRIBED_ERR % "pubsub|numpat").encode()
        assert c.check("PUBLISH", "mode", "x").kind == "-"
        assert c.check("PING") == push(2, "pong", "")
        assert c.check("PING", "hey") == push(2, "pong", "hey")
    else:
        assert c.check("ECHO", "x").value == b"x"
        assert c.check("PING").kind == "+"
        c.check("PUBSUB", "NUMSUB", "mode")
    c.check("PING", "a", "b")           # arity is checked first, in both protocols
    c.check("NOSUCHCOMMAND")
    # Shard subscriptions also keep RESP2 in subscribed mode.
    c.send("SSUBSCRIBE", "shmode")
    c.expect(1)
    c.send("UNSUBSCRIBE")
    c.expect(1)
    c.check("ECHO", "still")
    c.send("SUNSUBSCRIBE")
    c.expect(1)
    assert c.check("ECHO", "free").value == b"free"
    c.quiet()


def test_hello_switches_subscribed_mode(twins):
    c = twins(3)
    c.send("SUBSCRIBE", "hello-switch")
    c.expect(1)
    c.check("ECHO", "ok")
    c.check("HELLO", "2", compare=False)
    assert c.check("ECHO", "no").kind == "-"
    c.check("HELLO", "3", compare=False)
    c.check("ECHO", "yes")
    c.quiet()


def test_reset_leaves_subscribed_mode(twins):
    c, probe = twins(), twins()
    c.send("SUBSCRIBE", "rst1", "rst2")
    c.expect(2)
    c.send("PSUBSCRIBE", "rst*")
    c.expect(1)
    c.send("SSUBSCRIBE", "rsts")
    c.expect(1)
    assert c.check("RESET").value == b"RESET"
    c.check("ECHO", "after-reset")
    probe.check("PUBSUB", "NUMSUB", "rst1", "rst2")
    probe.check("PUBSUB", "NUMPAT")
    probe.check("PUBSUB", "SHARDNUMSUB", "rsts")
    assert probe.check("PUBLISH", "rst1", "x").value == 0
    c.quiet()


def test_quit_while_subscribed(twins):
    c = twins()
    c.send("SUBSCRIBE", "q")
    c.expect(1)
    assert c.check("QUIT").value == b"OK"
    assert c.ref.closed_by_server() and c.ver.closed_by_server()


def test_disconnect_drops_subscriptions(twins, reference_server, vermilion_process_server):
    probe = twins()
    subs = [twins() for _ in range(3)]
    for s in subs:
        s.send("SUBSCRIBE", "gone")
        s.expect(1)
        s.send("PSUBSCRIBE", "gone-pattern*")
        s.expect(1)
    probe.check("PUBSUB", "NUMSUB", "gone")
    for s in subs:
        s.close()
    for port in (reference_server.port, vermilion_process_server.port):
        assert wait_pubsub_idle(port)
    probe.check("PUBSUB", "NUMSUB", "gone")
    probe.check("PUBSUB", "NUMPAT")
    assert probe.check("PUBLISH", "gone", "x").value == 0


# -- PUBSUB introspection -----------------------------------------------------------------------

def test_pubsub_introspection(twins):
    a, b, probe = twins(), twins(), twins()
    a.send("SUBSCRIBE", "intro.a", "intro.b", "other")
    a.expect(3)
    b.send("SUBSCRIBE", "intro.a")
    b.expect(1)
    a.send("PSUBSCRIBE", "intro.*", "x?")
    a.expect(2)
    b.send("PSUBSCRIBE", "intro.*")
    b.expect(1)
    ref, ver = probe.ref.call("PUBSUB", "CHANNELS"), probe.ver.call("PUBSUB", "CHANNELS")
    assert normalize(ver, True) == normalize(ref, True)
    ref, ver = probe.ref.call("PUBSUB", "CHANNELS", "intro.*"), probe.ver.call("PUBSUB", "CHANNELS", "intro.*")
    assert normalize(ver, True) == normalize(ref, True)
    probe.check("PUBSUB", "CHANNELS", "intro.a")
    probe.check("PUBSUB", "CHANNELS", "nothing*")
    probe.check("PUBSUB", "NUMSUB")
    probe.check("PUBSUB", "NUMSUB", "intro.a", "intro.b", "missing", "intro.a")
    assert probe.check("PUBSUB", "NUMPAT").value == 2     # unique patterns
    probe.check("PUBSUB", "SHARDNUMSUB")
    probe.check("PUBSUB", "SHARDNUMSUB", "x")
    probe.check("pubsub", "numsub", "intro.b")
    probe.check("PUBSUB", "HELP")
    probe.check("PUBSUB", "CHANNELS", "a", "b")
    probe.check("PUBSUB", "SHARDCHANNELS", "a", "b")
    probe.check("PUBSUB", "NOSUCH")
    probe.check("PUBSUB", "NUMPAT", "extra")


def test_command_info_and_docs(twins):
    c = twins()
    for name in ("subscribe", "unsubscribe", "psubscribe", "punsubscribe", "publish", "ssubscribe",
                 "sunsubscribe", "spublish", "pubsub|numpat", "pubsub|help", "pubsub|channels"):
        ref, ver = c.ref.call("COMMAND", "INFO", name), c.ver.call("COMMAND", "INFO", name)
        info_ref, info_ver = ref.value[0].value, ver.value[0].value
        # name, arity, flags, first/last/step, ACL categories
        assert info_ver[:7] == info_ref[:7], name


# -- CLIENT LIST accounting --------------------------------------------------------------------

def _client_fields(raw: RawClient) -> dict:
    line = raw.call("CLIENT", "INFO").value.decode().strip()
    return dict(item.split("=", 1) for item in line.split(" "))


def test_client_info_shows_subscription_counts(twins):
    c = twins(3)      # RESP3 so CLIENT INFO is allowed while subscribed
    c.send("SUBSCRIBE", "ci1", "ci2")
    c.expect(2)
    c.send("PSUBSCRIBE", "ci*")
    c.expect(1)
    c.send("SSUBSCRIBE", "cis")
    c.expect(1)
    for side in (c.ref, c.ver):
        fields = _client_fields(side)
        assert (fields["sub"], fields["psub"], fields["ssub"]) == ("2", "1", "1")
        assert "P" in fields["flags"]
        assert fields["omem"] == "0"
    c.send("RESET")
    c.read(compare=False)
    for side in (c.ref, c.ver):
        fields = _client_fields(side)
        assert (fields["sub"], fields["psub"], fields["ssub"], fields["flags"]) == ("0", "0", "0", "N")


def test_subscribe_inside_multi(twins):
    c = twins()
    c.check("MULTI")
    c.check("SUBSCRIBE", "in-multi")
    c.check("SSUBSCRIBE", "in-multi-shard")
    c.check("PSUBSCRIBE", "in-multi*")
    c.check("EXEC")          # confirmations are EXEC's elements; SSUBSCRIBE is refused
    c.check("ECHO", "after")
    c.send("UNSUBSCRIBE")
    c.expect(1)
    c.send("PUNSUBSCRIBE")
    c.expect(1)
    c.quiet()


# -- the pure index (types/pubsub.py) ------------------------------------------------------------

def test_index_bookkeeping_without_a_server():
    from vermilion.types.pubsub import ChannelIndex, PatternIndex

    channels, patterns = ChannelIndex(), PatternIndex()
    a_owned, b_owned, a_pats = {}, {}, {}
    assert channels.subscribe(a_owned, "a", b"ch")
    assert not channels.subscribe(a_owned, "a", b"ch")          # already subscribed
    assert channels.subscribe(b_owned, "b", b"ch")
    assert channels.subscribe(a_owned, "a", b"other")
    assert list(channels.subscribers[b"ch"]) == ["a", "b"]     # subscription order
    assert channels.count(b"ch") == 2 and len(channels) == 2
    assert sorted(channels.names(b"o*")) == [b"other"]
    assert not channels.unsubscribe(b_owned, "b", b"other")     # never subscribed
    assert channels.unsubscribe(b_owned, "b", b"ch") and channels.unsubscribe(a_owned, "a", b"ch")
    assert b"ch" not in channels.subscribers                   # empty channels disappear
    assert patterns.subscribe(a_pats, "a", b"news.*") and patterns.subscribe({}, "b", b"news.*")
    match = patterns.entries[b"news.*"][0]
    patterns.subscribe({}, "c", b"news.*")
    assert patterns.entries[b"news.*"][0] is match              # compiled once per pattern
    assert [p for p, _ in patterns.matching(b"news.x")] == [b"news.*"]
    assert list(patterns.matching(b"sport")) == []
    assert len(patterns) == 1 and list(a_pats) == [b"news.*"]


# -- CLIENT REPLY OFF / SKIP do not silence pushes ---------------------------------------------------

@pytest.mark.parametrize("resp", [2, 3])
def test_reply_off_and_skip_keep_subscribe_confirmations_and_messages(ports, resp):
    """Confirmations and messages are pushes (Redis's CLIENT_PUSHING): a client that
    turned replies off still gets them; the replies of other commands stay silent."""
    from support import same_on_both

    def scenario(port):
        a, b = RawClient(port), RawClient(port)
        if resp == 3:
            a.call("HELLO", "3")
        a.send("CLIENT", "REPLY", "OFF")
        a.send("SUBSCRIBE", "c1", "c2")
        seen = [a.read(), a.read()]                 # both confirmations arrive
        b.call("PUBLISH", "c1", "m")
        seen.append(a.read())
        a.send("UNSUBSCRIBE", "c2", "c1")
        a.send("GET", "x")                          # silent
        a.send("CLIENT", "REPLY", "SKIP")
        a.send("SUBSCRIBE", "c3")                   # uses up the SKIP, confirmation still sent
        a.send("UNSUBSCRIBE", "c3")
        a.send("CLIENT", "REPLY", "ON")
        a.send("PING")
        while seen[-1] != Frame(("+", b"PONG")):
            seen.append(a.read())
        a.close()
        b.close()
        return seen
    same_on_both(ports, scenario)
def _subscribe_with_replies_off(port: int, resp: int):
    from support import connect
    sub = connect(port, resp)
    pub = connect(port)
    sub.send("CLIENT", "REPLY", "OFF")
    sub.send("SUBSCRIBE", "chan")
    sub.send("PSUBSCRIBE", "ch*")
    sub.send("PING")                         # an ordinary reply: still suppressed
    seen = [sub.read(), sub.read()]
    pub.call("PUBLISH", "chan", "hello")
    seen += [sub.read(), sub.read()]
    sub.send("CLIENT", "REPLY", "SKIP")
    sub.send("UNSUBSCRIBE", "chan")
    sub.send("PUNSUBSCRIBE")
    seen += [sub.read(), sub.read()]
    sub.close()
    pub.close()
    return seen


@pytest.mark.parametrize("resp", [2, 3])
def test_subscribe_confirmations_ignore_client_reply_off(ports, resp):
    # Redis sends (un)subscribe confirmations and messages whatever CLIENT REPLY says.
    from support import same_on_both
    same_on_both(ports, _subscribe_with_replies_off, resp)
