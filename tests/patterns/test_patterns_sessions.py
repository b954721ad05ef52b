"""SessionStore: fields, lifetimes, regeneration, log-out-everywhere (sync + asyncio)."""

import threading
import time

import pytest

from vermilion.patterns import SessionStore, aio
from vermilion.patterns.sessions import LoginRevoked

from patterns_support import ALL_SETUPS

pytestmark = pytest.mark.needs("eval")


def test_field_level_reads_and_writes(r, uid):
    s = SessionStore(r, uid)
    sid = s.create({"user_id": "42", "role": "admin"})
    assert len(sid) >= 43 and sid != s.create()  # 256 random bits each
    assert s.get(sid, "role") == "admin" and s.get(sid, "nope") is None
    assert s.set(sid, {"theme": "dark"})
    assert s.incr(sid, "views", 2) == 2 and s.incr(sid, "views") == 3
    assert s.delete(sid, "theme") == 1
    assert s.get_all(sid) == {"user_id": "42", "role": "admin", "views": 3}
    assert s.get_many(sid, "role", "views", "x") == {"role": "admin", "views": 3, "x": None}
    with pytest.raises(ValueError):
        s.set(sid, {":user": "mallory"})  # our bookkeeping fields are not writable


def test_concurrent_field_writes_do_not_clobber(r, uid):
    s = SessionStore(r, uid)
    sid = s.create()
    threads = [threading.Thread(target=s.set, args=(sid, {f"f{i}": str(i)})) for i in range(20)]
    threads += [threading.Thread(target=s.incr, args=(sid, "n")) for _ in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    data = s.get_all(sid)
    assert data["n"] == 20 and all(data[f"f{i}"] == str(i) for i in range(20))


def test_sliding_and_absolute_lifetimes(r, uid):
    """The server decides expiry, so each assertion is made only where the client's clock
    brackets the server's: a request sent at `sent` and answered at `done` ran in between.
    A stall of the machine can make a step inconclusive (then it is tried again), never
    wrong, so no margin of time decides the result."""
    idle, absolute = 0.3, 0.8
    s = SessionStore(r, uid, idle=idle, absolute=absolute)

    def timed(call, *args):
        sent = time.monotonic()
        result = call(*args)
        return sent, result, time.monotonic()

    # Activity keeps a session alive past its idle timeout: reads each no more than `idle`
    # after the previous one (bounded from the client's side) all find it.
    for _attempt in range(20):
        created_sent, sid, created_done = timed(s.create, {"a": "1"})
        previous_sent = created_sent
        for _ in range(4):
            time.sleep(idle / 3)
            sent, value, done = timed(s.get, sid, "a")
            if done - previous_sent >= idle:     # stalled: this gap proves nothing
                break
            assert value == "1"
            previous_sent = sent
        else:
            assert previous_sent - created_done > idle   # alive past `idle` after creation
            break
    else:
        raise AssertionError("the machine never let four reads land within the idle time")

    # ...inactivity does not: the next read is certainly more than `idle` after the last.
    time.sleep(idle + 0.05)
    assert s.get(sid, "a") is None and not s.exists(sid)

    # Constant activity cannot outlive the absolute lifetime.
    for _attempt in range(20):
        created_sent, sid, created_done = timed(s.create, {"a": "1"})
        last_sent, last_ok_sent = created_sent, None
        while True:
            sent, alive, done = timed(s.touch, sid)
            if not alive:
                break
            last_ok_sent, last_sent = sent, sent
            time.sleep(idle / 4)
        if done - last_sent >= idle:             # may have died idle, not absolute
            continue
        # It lived until at least the last good touch, and died no later than the failed one.
        assert last_ok_sent is not None and last_ok_sent - created_done < absolute
        assert done - created_sent >= absolute
        break
    else:
        raise AssertionError("the machine never kept touches within the idle time")


def test_destroyed_session_cannot_be_resurrected(r, uid):
    s = SessionStore(r, uid)
    sid = s.create({"a": "1"}, user="u1")
    assert s.destroy(sid) and not s.destroy(sid)
    assert s.set(sid, {"a": "2"}) is False
    assert s.incr(sid, "n") is None and s.touch(sid) is False
    assert s.get_all(sid) is None and s.regenerate(sid) is None
    assert not s.exists(sid) and s.sessions_of("u1") == []


def test_regenerate_moves_data_and_binds_user(r, uid):
    s = SessionStore(r, uid, idle=60)
    anon = s.create({"cart": "3 items"})
    sid = s.regenerate(anon, user="alice")  # at login: new id, same data
    assert sid != anon and not s.exists(anon)
    assert s.get_all(sid) == {"cart": "3 items"} and s.user(sid) == "alice"
    assert s.sessions_of("alice") == [sid]
    again = s.regenerate(sid)
    assert s.sessions_of("alice") == [again] and 59 < s.ttl(again) <= 60
    with pytest.raises(ValueError):
        s.regenerate(again, user="bob")


def test_log_out_everywhere(r, uid):
    s = SessionStore(r, uid)
    mine = [s.create({"d": str(i)}, user="carol") for i in range(3)]
    other = s.create(user="dave")
    mine[0] = s.regenerate(mine[0])
    assert sorted(s.sessions_of("carol")) == sorted(mine)
    assert s.destroy_user("carol") == 3
    assert all(s.get_all(x) is None and not s.set(x, {"a": "1"}) for x in mine)
    assert s.sessions_of("carol") == [] and s.exists(other)
    fresh = s.create(user="carol")  # logging in again afterwards works
    assert s.sessions_of("carol") == [fresh]


def test_log_out_everywhere_races_with_regeneration(r, uid):
    s = SessionStore(r, uid)
    for round_ in range(10):
        sids = [s.create(user="eve") for _ in range(3)]
        t = threading.Thread(target=lambda: [s.regenerate(x) for x in sids])
        t.start()
        s.destroy_user("eve")
        t.join()
        s.destroy_user("eve")
        # whatever interleaving happened, nothing of eve's survives a final logout
        assert s.sessions_of("eve") == [] and r.keys(f"{s.base}:s:*") == []


async def test_async_session_store(ar, uid):
    s = aio.SessionStore(ar, uid, idle=60)
    sid = await s.create({"a": "1"}, user="zed")
    assert await s.set(sid, {"b": "2"}) and await s.get(sid, "b") == "2"
    new = await s.regenerate(sid)
    assert await s.get_all(new) == {"a": "1", "b": "2"} and await s.get_all(sid) is None
    assert await s.destroy_user("zed") == 1
    assert await s.set(new, {"c": "3"}) is False and await s.sessions_of("zed") == []


def test_values_go_through_the_serializer_and_updates_stay_field_level(r, uid):
    s = SessionStore(r, uid)
    sid = s.create({"cart": [1, 2, {"sku": "é"}], "flag": True, "n": 5, "price": 1.5, "no": None})
    assert s.get_all(sid) == {"cart": [1, 2, {"sku": "é"}], "flag": True, "n": 5, "price": 1.5,
                              "no": None}
    assert r.hget(s.key(sid), "cart") == '[1,2,{"sku":"é"}]'  # JSON on the wire
    assert s.get(sid, "n") == 5 and s.incr(sid, "n", 2) == 7 and s.get(sid, "n") == 7
    assert s.update(sid, set={"flag": False, "new": "x"}, delete=["cart", "price"])
    assert s.get_all(sid) == {"flag": False, "n": 7, "new": "x", "no": None}
    assert s.get(sid, "new") == "x" and r.hget(s.key(sid), "new") == '"x"'
    s.destroy(sid)
    assert s.update(sid, set={"a": 1}) is False and not r.exists(s.key(sid))


def test_msgpack_and_custom_serializers(backend, uid):
    import redis
    raw = redis.Redis.from_url(backend.url)  # msgpack is binary: no decode_responses
    s = SessionStore(raw, uid, serializer="msgpack")
    sid = s.create({"blob": b"\x00\xff", "list": [1, "two"], "n": 1})
    assert s.incr(sid, "n") == 2
    assert s.get_all(sid) == {"blob": b"\x00\xff", "list": [1, "two"], "n": 2}

    class Upper:
        def dumps(self, value):
            return "U:" + str(value).upper()

        def loads(self, data):
            return data.decode()[2:]

    c = SessionStore(raw, uid + "c", serializer=Upper())
    sid = c.create({"a": "hello"})
    assert c.get(sid, "a") == "HELLO" and raw.hget(c.key(sid), "a") == b"U:HELLO"
    with pytest.raises(ValueError, match="serializer"):
        SessionStore(raw, uid, serializer="pickle")
    raw.close()


@ALL_SETUPS
def test_log_out_everywhere_wins_against_a_flood_of_logins(r, uid):
    """Logins from several threads (thousands a second) never make destroy_user fail,
    and every session that existed before it ran is gone when it returns."""
    s = SessionStore(r, uid)
    stop, errors, made = threading.Event(), [], []

    def login():
        try:
            while not stop.is_set():
                made.append(s.create({"x": 1}, user="mallory"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=login) for _ in range(4)]
    [t.start() for t in threads]
    try:
        for _ in range(30):
            deadline = time.monotonic() + 10
            while len(made) < 20 and not errors:  # let logins pile up between logouts
                assert time.monotonic() < deadline
                time.sleep(0.001)
            assert errors == []
            before = list(made)
            made.clear()
            s.destroy_user("mallory")
            with r.pipeline(transaction=False) as pipe:
                for x in before:
                    pipe.exists(s.key(x))
                alive = pipe.execute()
            assert not any(alive)  # everything created before the logout is gone
    finally:
        stop.set()
        [t.join() for t in threads]
    assert errors == []
    s.destroy_user("mallory")
    assert s.sessions_of("mallory") == [] and r.keys(f"{s.base}:s:*") == []


@ALL_SETUPS
def test_a_login_authenticated_before_log_out_everywhere_is_refused(r, uid):
    s = SessionStore(r, uid)
    gen = s.generation("erin")  # read before checking the password
    anon = s.create({"cart": 1})
    s.create(user="erin")
    assert s.destroy_user("erin") == 1  # e.g. the password changed meanwhile
    with pytest.raises(LoginRevoked):
        s.create(user="erin", generation=gen)
    with pytest.raises(LoginRevoked):
        s.regenerate(anon, user="erin", generation=gen)
    assert s.sessions_of("erin") == [] and s.user(anon) is None  # nothing was bound
    fresh = s.generation("erin")
    assert fresh == gen + 1
    sid = s.regenerate(anon, user="erin", generation=fresh)
    assert s.sessions_of("erin") == [sid] and s.get(sid, "cart") == 1
    assert 0 < r.pttl(s.generation_key("erin")) <= 86_400_000


def test_bind_keeps_the_id(r, uid):
    s = SessionStore(r, uid)
    sid = s.create({"a": 1})
    assert s.bind(sid, "frank") and s.user(sid) == "frank" and s.sessions_of("frank") == [sid]
    assert not s.bind("nope", "frank")
