"""Client-side caching (CLIENT TRACKING and friends), compared with redis-server.

Each scenario drives a few raw connections against one server and returns what
they saw, frame by frame; `same_on_both` runs it on Redis and on Vermilion.
Pushes are read deterministically: a client that should have been told sends a
PING, and everything before the PONG is what reached it.
"""
from __future__ import annotations

import time

import pytest

from rawclient import Frame, RawClient
from support import same_on_both


def conn(port: int, resp: int = 2) -> RawClient:
    c = RawClient(port)
    if resp == 3:
        c.call("HELLO", "3")
    return c


def drain(c: RawClient) -> list:
    """Everything that reached `c` before the reply to a PING (pushes, messages)."""
    c.send("PING")
    seen = []
    while True:
        frame = c.read()
        if frame in (Frame(("+", b"PONG")),) or (frame.kind == "*" and frame.value and
                                                  frame.value[0] == Frame(("$", b"pong"))):
            return seen
        seen.append(frame)


def wait_gone(c: RawClient, key: str) -> None:
    """Poll until the key's TTL has passed and a lookup removed it."""
    while c.call("EXISTS", key).value:
        time.sleep(0.01)


def idstr(frame, ids: dict):
    """Frames with client ids replaced by names (ids differ between the servers)."""
    if isinstance(frame, (list, tuple)) and not isinstance(frame, Frame):
        return type(frame)(idstr(f, ids) for f in frame)
    if not isinstance(frame, Frame):
        return frame
    kind, value = frame
    if kind == ":" and value in ids:
        return Frame((kind, ids[value]))
    if kind in "*~>" and value is not None:
        return Frame((kind, [idstr(f, ids) for f in value]))
    if kind in "%|":
        return Frame((kind, [(idstr(k, ids), idstr(v, ids)) for k, v in value]))
    return frame


@pytest.mark.parametrize("resp", [2, 3])
def test_default_mode_invalidations(ports, resp):
    def scenario(port):
        a, b = conn(port, resp), conn(port, 3)
        r = conn(port, 2)                           # the redirect target in RESP2
        rid = r.call("CLIENT", "ID").value
        out = [r.call("SUBSCRIBE", "__redis__:invalidate")]
        track = ["CLIENT", "TRACKING", "on"] + (["REDIRECT", str(rid)] if resp == 2 else [])
        out.append(a.call(*track))
        out.append(a.call("GET", "k1"))
        out.append(a.call("MGET", "k2", "k3", "k1"))
        out.append(a.call("HGET", "h", "f"))
        out.append(a.call("STRLEN", "nokey"))
        out += [b.call("SET", "k1", "x"), b.call("MSET", "k2", "1", "k3", "2"), b.call("HSET", "h", "f", "v"),
                b.call("SET", "k1", "y")]           # k1 again: already invalidated once, no repeat
        out.append(("a", drain(a), "r", drain(r)))
        out.append(a.call("GET", "k1"))
        out.append(a.call("SET", "k1", "own"))      # own write: after the reply
        out.append(("a", drain(a), "r", drain(r)))
        # Expiry and DEL invalidate; a read of a missing key tracks it too.
        out.append(a.call("GET", "k2"))
        out.append(a.call("GET", "k3"))
        out.append(b.call("EXPIRE", "k2", "100"))   # a TTL change is a change
        out.append(("a", drain(a), "r", drain(r)))
        out.append(a.call("GET", "k2"))
        out.append(b.call("SET", "k3", "v", "PX", "1000"))     # read below well within its TTL
        out.append(("a", drain(a), "r", drain(r)))
        out.append(a.call("GET", "k3"))
        wait_gone(b, "k3")
        out.append(("a", drain(a), "r", drain(r)))
        out.append(a.call("GET", "k1"))
        out.append(b.call("DEL", "k1"))
        out.append(b.call("FLUSHALL"))              # null invalidation to every tracking client
        out.append(("a", drain(a), "r", drain(r)))
        out.append(a.call("CLIENT", "TRACKING", "off"))
        out.append(a.call("GET", "k1"))
        out.append(b.call("SET", "k1", "z"))
        out.append(("a", drain(a), "r", drain(r)))
        for c in (a, b, r):
            c.close()
        return idstr(out, {rid: "r"})
    same_on_both(ports, scenario)


@pytest.mark.parametrize("resp", [2, 3])
def test_bcast_prefixes_and_noloop(ports, resp):
    def scenario(port):
        a, b, n = conn(port, resp), conn(port, 3), conn(port, 3)
        r = conn(port, 2)
        rid = r.call("CLIENT", "ID").value
        r.call("SUBSCRIBE", "__redis__:invalidate")
        redirect = ["REDIRECT", str(rid)] if resp == 2 else []
        out = [a.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "cfg", *redirect)]
        out.append(n.call("CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"))
        out.append(b.call("MSET", "user:2", "a", "user:1", "b", "other", "c", "cfg", "d"))
        out.append(n.call("SET", "mine", "1"))      # n changed it itself: NOLOOP skips it
        out.append(b.call("SET", "user:3", "x"))
        out.append(("a", drain(a), "r", drain(r), "n", drain(n)))
        out.append(a.call("CLIENT", "TRACKINGINFO"))
        out.append(a.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "users"))   # overlaps user:
        out.append(a.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x", "PREFIX", "xy"))
        out.append(a.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "new"))     # adds one
        out.append(a.call("CLIENT", "TRACKINGINFO"))
        out.append(a.call("CLIENT", "TRACKING", "on"))                              # leave BCAST: no
        out.append(b.call("FLUSHDB"))
        out.append(("a", drain(a), "r", drain(r), "n", drain(n)))
        for c in (a, b, n, r):
            c.close()
        return idstr(out, {rid: "r"})
    same_on_both(ports, scenario)


def test_option_errors_and_info(ports):
    def scenario(port):
        a = conn(port, 3)
        out = []
        for args in (["on", "PREFIX", "p"], ["on", "BCAST", "OPTIN"], ["on", "OPTIN", "OPTOUT"],
                     ["on", "REDIRECT", "999999"], ["on", "REDIRECT", "x"], ["maybe"], ["on", "BOGUS"],
                     ["on", "REDIRECT"], ["on", "PREFIX"]):
            out.append(a.call("CLIENT", "TRACKING", *args))
        out.append(a.call("CLIENT", "CACHING", "yes"))
        out.append(a.call("CLIENT", "GETREDIR"))
        out.append(a.call("CLIENT", "TRACKINGINFO"))
        out.append(a.call("CLIENT", "TRACKING", "on", "OPTIN", "NOLOOP"))
        out.append(a.call("CLIENT", "TRACKING", "on", "OPTOUT"))
        out.append(a.call("CLIENT", "TRACKING", "on", "BCAST"))
        out.append(a.call("CLIENT", "CACHING", "no"))
        out.append(a.call("CLIENT", "CACHING", "maybe"))
        out.append(a.call("CLIENT", "CACHING", "yes"))
        out.append(a.call("CLIENT", "TRACKINGINFO"))
        out.append(a.call("CLIENT", "GETREDIR"))
        info = a.call("INFO", "clients").value + a.call("INFO", "stats").value
        out.append([line for line in info.split(b"\r\n") if line.startswith(b"tracking")])
        flags = a.call("CLIENT", "INFO").value.split()
        out.append([f for f in flags if f.startswith((b"flags=", b"redir="))])
        a.close()
        return out
    same_on_both(ports, scenario)


@pytest.mark.parametrize("resp", [2, 3])
def test_optin_optout_caching(ports, resp):
    def scenario(port):
        a, b = conn(port, 3), conn(port, 3)
        r = conn(port, 2)
        rid = r.call("CLIENT", "ID").value
        r.call("SUBSCRIBE", "__redis__:invalidate")
        redirect = ["REDIRECT", str(rid)] if resp == 2 else []
        out = [a.call("CLIENT", "TRACKING", "on", "OPTIN", *redirect)]
        out.append(a.call("GET", "notcached"))
        out.append(a.call("CLIENT", "CACHING", "yes"))
        out.append(a.call("GET", "cached"))
        out.append(a.call("GET", "notcached2"))     # CACHING covered one command only
        out.append(a.call("CLIENT", "CACHING", "yes"))
        out.append(a.call("MULTI"))
        out.append(a.call("GET", "inmulti1"))
        out.append(a.call("GET", "inmulti2"))
        out.append(a.call("EXEC"))                  # a transaction counts as one command
        out.append(b.call("MSET", "notcached", "1", "cached", "2", "notcached2", "3",
                          "inmulti1", "4", "inmulti2", "5"))
        out.append(("a", drain(a), "r", drain(r)))
        out.append(a.call("CLIENT", "TRACKING", "off"))
        out.append(a.call("CLIENT", "TRACKING", "on", "OPTOUT", *redirect))
        out.append(a.call("GET", "x1"))
        out.append(a.call("CLIENT", "CACHING", "no"))
        out.append(a.call("GET", "x2"))
        out.append(a.call("GET", "x3"))
        out.append(b.call("MSET", "x1", "1", "x2", "2", "x3", "3"))
        out.append(("a", drain(a), "r", drain(r)))
        # Keys read inside a script are tracked for the caller.
        out.append(a.call("EVAL", "return redis.call('get', KEYS[1])", "1", "s1"))
        out.append(b.call("SET", "s1", "v"))
        out.append(("a", drain(a), "r", drain(r)))
        for c in (a, b, r):
            c.close()
        return idstr(out, {rid: "r"})
    same_on_both(ports, scenario)


def test_broken_redirect_and_noloop(ports):
    def scenario(port):
        a, b = conn(port, 3), conn(port, 3)
        gone = conn(port, 2)
        gid = gone.call("CLIENT", "ID").value
        out = [a.call("CLIENT", "TRACKING", "on", "REDIRECT", str(gid))]
        out.append(a.call("GET", "k"))
        gone.close()
        while any(b"id=%d " % gid in line for line in b.call("CLIENT", "LIST").value.split(b"\n")):
            pass                                    # until the server saw the close
        out.append(b.call("SET", "k", "1"))
        out.append(drain(a))
        out.append([f for f in a.call("CLIENT", "TRACKINGINFO").value if f[0].value == b"flags"])
        out.append(a.call("CLIENT", "TRACKING", "on", "NOLOOP"))
        out.append(a.call("GET", "n"))
        out.append(a.call("SET", "n", "own"))       # NOLOOP: its own change is not reported
        out.append(drain(a))
        out.append(a.call("GET", "n"))
        out.append(b.call("SET", "n", "theirs"))
        out.append(drain(a))
        a.close()
        b.close()
        return idstr(out, {gid: "gone"})
    same_on_both(ports, scenario)


def test_tracking_table_max_keys(ports):
    def scenario(port):
        a, b = conn(port, 3), conn(port, 3)
        b.call("CONFIG", "SET", "tracking-table-max-keys", "2")
        out = [a.call("CLIENT", "TRACKING", "on")]
        for k in ("t1", "t2", "t3", "t4"):
            a.send("GET", k)
        a.send("PING")
        frames = []
        while frames[-1:] != [Frame(("+", b"PONG"))]:
            frames.append(a.read())
        # Before each command the table is cut back to 2 keys; Redis invalidates
        # random ones, Vermilion the oldest: compare how many and the replies.
        out.append(sum(1 for f in frames if f.kind == ">"))
        out.append([f for f in frames if f.kind != ">"])
        info = b.call("INFO", "stats").value
        out.append([line for line in info.split(b"\r\n") if line.startswith(b"tracking_total_")])
        b.call("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        a.call("CLIENT", "TRACKING", "off")
        a.close()
        b.close()
        return out
    same_on_both(ports, scenario)


def test_redis_py_client_side_cache(vermilion_process_server, reference_server, monkeypatch):
    """redis-py's own RESP3 client-side cache: a cached value is dropped when another client writes."""
    import redis
    from redis.connection import CacheProxyConnection
    try:
        from redis.cache import CacheConfig
    except ImportError:
        pytest.fail("redis-py with CacheConfig (>= 5.1) is required; see the test extra")
    # redis-py enables its cache only for servers reporting 7.4+ (a product policy:
    # the protocol it uses, CLIENT TRACKING in RESP3, is 6.0's). Both servers here
    # report 7.0.15, so the policy is relaxed for them alike.
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "7.0.0")

    def scenario(port):
        cached = redis.Redis(port=port, protocol=3, cache_config=CacheConfig())
        other = redis.Redis(port=port)
        other.set("csc:k", "v1")
        seen = [cached.get("csc:k"), cached.get("csc:k")]
        cache = cached.get_cache()
        seen.append(cache.size)                     # served from the local cache
        other.set("csc:k", "v2")
        # The server queues the invalidation for `cached` while it runs the write, but
        # may send the writer its reply first (redis-server does, at times): a round
        # trip on `cached` then reads the push before its reply, and the cache is
        # dropped before the next GET looks at it. Without it the GET races the push.
        cached.ping()
        seen.append(cached.get("csc:k"))
        seen.append(cached.get("csc:k"))
        other.delete("csc:k")
        cached.ping()
        seen.append(cached.get("csc:k"))
        cached.close()
        other.close()
        return seen
    same_on_both([reference_server.port, vermilion_process_server.port], scenario)


def test_resp3_redirect_pipelined_own_writes_and_reset(ports):
    def scenario(port):
        a, r3, b = conn(port, 2), conn(port, 3), conn(port, 3)
        rid = r3.call("CLIENT", "ID").value
        out = [a.call("CLIENT", "TRACKING", "on", "REDIRECT", str(rid))]
        out.append(a.call("GET", "p"))
        out.append(b.call("SET", "p", "1"))
        out.append(drain(r3))                       # a RESP3 target gets a push, subscribed or not
        # Pipelined: each own invalidation follows the reply of the write that caused it.
        b.call("CLIENT", "TRACKING", "on")
        b.send("GET", "q")
        b.send("SET", "q", "1")
        b.send("GET", "q")
        b.send("DEL", "q")
        b.send("PING")
        frames = []
        while frames[-1:] != [Frame(("+", b"PONG"))]:
            frames.append(b.read())
        out.append(frames)
        # RESET and a disconnect turn tracking off.
        out.append(b.call("RESET"))
        out.append(b.call("CLIENT", "TRACKINGINFO"))
        a.close()
        while b"tracking_clients:0\r\n" not in b.call("INFO", "clients").value:
            pass
        out.append(b.call("SET", "p", "2"))
        out.append(drain(r3))
        for c in (r3, b):
            c.close()
        return idstr(out, {rid: "r"})
    same_on_both(ports, scenario)


def _script_tracking(port):
    """Which keys a tracking client is told about after scripts that read or only write."""
    a, w = conn(port, 3), conn(port)
    try:
        a.call("CLIENT", "TRACKING", "on")
        out = []
        # A script that runs no read command tracks nothing.
        a.call("EVAL", "redis.call('set', 'st:3', 'bar')", "2", "st:1", "st:2")
        w.call("MSET", "st:2", "1", "st:1", "1")
        out.append(drain(a))
        # One that reads (another key) tracks the keys it was called with, not the key read.
        a.call("EVAL", "return redis.call('get', 'st:3')", "2", "st:1", "st:2")
        w.call("MSET", "st:3", "2")
        w.call("MSET", "st:2", "2", "st:1", "2")
        out.append(drain(a))
        a.call("EVAL_RO", "return redis.call('ping')", "2", "st:1", "st:2")
        w.call("MSET", "st:2", "2", "st:1", "2")
        out.append(drain(a))
        a.call("EVAL_RO", "return redis.call('get', KEYS[1])", "2", "st:1", "st:2")
        w.call("MSET", "st:2", "3", "st:1", "3")
        out.append(drain(a))
        return out
    finally:
        a.close()
        w.close()


def test_scripts_track_the_keys_they_were_called_with(ports):
    out = same_on_both(ports, _script_tracking)
    assert out[0] == [] and out[2] == []
    assert len(out[1]) == 2 and len(out[3]) == 2


def _served_blmove_then_invalidation(port):
    """What a tracking client blocked in BLMOVE receives when it is served."""
    r, rd = conn(port), conn(port, 3)
    try:
        r.call("RPUSH", "bm:dst", "a")
        rd.call("CLIENT", "TRACKING", "on")
        rd.call("LRANGE", "bm:dst", "0", "-1")
        rd.send("BLMOVE", "bm:src", "bm:dst", "LEFT", "LEFT", "0")
        deadline = time.monotonic() + 10
        while b"blocked_clients:1\r\n" not in r.call("INFO", "clients").value:
            assert time.monotonic() < deadline
        r.call("RPUSH", "bm:src", "foo")
        return [rd.read(), rd.read()]
    finally:
        r.close()
        rd.close()


def test_served_blocked_client_gets_its_reply_before_invalidations(ports):
    out = same_on_both(ports, _served_blmove_then_invalidation)
    assert out[0].value == b"foo"


def _tracking_items_through_flushes(port):
    r, other = conn(port), conn(port)
    try:
        other.call("SELECT", "1")
        r.call("CLIENT", "TRACKING", "on")
        r.call("SET", "fl:a", "1")
        r.call("GET", "fl:a")
        out = []

        def items():
            info = r.call("INFO", "stats").value
            return [line for line in info.split(b"\r\n") if line.startswith(b"tracking_total")]

        out.append(items())
        other.call("FLUSHDB")           # another database: the table is emptied all the same
        out.append(items())
        r.call("GET", "fl:a")
        r.call("CLIENT", "TRACKING", "off")
        out.append(items())
        other.call("FLUSHALL")          # nobody tracks any more: still emptied
        out.append(items())
        return out
    finally:
        r.close()
        other.close()


def test_flushes_empty_the_tracking_table(ports):
    out = same_on_both(ports, _tracking_items_through_flushes)
    assert out[2] != out[3] and all(line.endswith(b":0") for line in out[3])
