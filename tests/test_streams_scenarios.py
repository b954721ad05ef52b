"""The patterns users build on streams, through redis-py, on Vermilion and (to keep
the scenarios honest) on the real redis-server:

* two consumers of one group split the work, each message delivered once;
* a consumer crashes without XACK, another recovers its entries with XAUTOCLAIM
  (delivery counts incremented);
* several groups each receive every entry;
* a message that keeps failing stays pending, its delivery count growing;
* readers blocked in XREAD / XREADGROUP are woken by XADD from another connection;
* long-running consumers under a producer at full speed: nothing lost, nothing
  delivered twice within a group.
"""
from __future__ import annotations

import threading
import time

import pytest
import redis


@pytest.fixture(params=["vermilion", "redis"])
def r(request, reference_server, vermilion_process_server):
    port = vermilion_process_server.port if request.param == "vermilion" else reference_server.port
    client = redis.Redis(port=port, decode_responses=True)
    client.flushall()
    client.port = port
    yield client
    client.close()


def connect(r) -> redis.Redis:
    return redis.Redis(port=r.port, decode_responses=True)


def produce(r, key: str, n: int, start: int = 0) -> list[str]:
    pipe = r.pipeline(transaction=False)
    for i in range(start, start + n):
        pipe.xadd(key, {"job": str(i)})
    return pipe.execute()


def test_two_consumers_split_the_work(r):
    ids = produce(r, "jobs", 100)
    r.xgroup_create("jobs", "workers", id="0")
    seen = {"a": [], "b": []}
    while True:
        got_any = False
        for name in ("a", "b"):
            reply = r.xreadgroup("workers", name, {"jobs": ">"}, count=7)
            for _, entries in reply:
                for entry_id, fields in entries:
                    seen[name].append(entry_id)
                    got_any = True
                r.xack("jobs", "workers", *[e for e, _ in entries])
        if not got_any:
            break
    assert seen["a"] and seen["b"]
    assert not set(seen["a"]) & set(seen["b"])
    assert sorted(seen["a"] + seen["b"]) == sorted(ids)
    assert r.xpending("jobs", "workers")["pending"] == 0
    info = r.xinfo_groups("jobs")[0]
    assert info["lag"] == 0 and info["entries-read"] == 100


def test_crashed_consumer_recovered_with_xautoclaim(r):
    produce(r, "jobs", 10)
    r.xgroup_create("jobs", "workers", id="0")
    crashed = r.xreadgroup("workers", "crashy", {"jobs": ">"}, count=6)[0][1]
    r.xack("jobs", "workers", crashed[0][0])            # it finished one, then died
    # A minute passes for the crashed consumer's entries (XCLAIM ... IDLE sets their idle
    # time; JUSTID leaves their delivery counts alone), not for the healthy one's.
    r.xclaim("jobs", "workers", "crashy", 0, [e for e, _ in crashed[1:]], idle=60_000, justid=True)
    healthy = r.xreadgroup("workers", "healthy", {"jobs": ">"})[0][1]
    assert len(healthy) == 4
    # Only entries idle for 30 s are taken: the crashed consumer's.
    cursor, claimed, deleted = r.xautoclaim("jobs", "workers", "healthy", min_idle_time=30_000,
                                            start_id="0")
    assert [e for e, _ in claimed] == [e for e, _ in crashed[1:]]
    assert cursor == "0-0" and deleted == []
    pending = r.xpending_range("jobs", "workers", "-", "+", 100)
    counts = {p["message_id"]: p["times_delivered"] for p in pending}
    for entry_id, _ in crashed[1:]:
        assert counts[entry_id] == 2
    assert all(p["consumer"] == "healthy" for p in pending)
    r.xack("jobs", "workers", *counts)
    assert r.xpending("jobs", "workers")["pending"] == 0
    consumers = {c["name"]: c["pending"] for c in r.xinfo_consumers("jobs", "workers")}
    assert consumers == {"crashy": 0, "healthy": 0}


def test_xautoclaim_reports_entries_deleted_meanwhile(r):
    ids = produce(r, "jobs", 5)
    r.xgroup_create("jobs", "workers", id="0")
    r.xreadgroup("workers", "a", {"jobs": ">"})
    r.xdel("jobs", ids[1], ids[3])
    cursor, claimed, deleted = r.xautoclaim("jobs", "workers", "b", min_idle_time=0, start_id="0")
    assert [e for e, _ in claimed] == [ids[0], ids[2], ids[4]]
    assert deleted == [ids[1], ids[3]]
    assert r.xpending("jobs", "workers")["pending"] == 3


def test_several_groups_each_get_everything(r):
    r.xgroup_create("events", "audit", id="$", mkstream=True)
    r.xgroup_create("events", "mailer", id="$")
    r.xgroup_create("events", "search", id="$")
    ids = produce(r, "events", 30)
    for group in ("audit", "mailer", "search"):
        got = []
        for consumer in ("x", "y", "z"):
            for _, entries in r.xreadgroup(group, consumer, {"events": ">"}, count=10):
                got += [e for e, _ in entries]
        assert got == ids
    groups = {g["name"]: (g["pending"], g["lag"]) for g in r.xinfo_groups("events")}
    assert groups == {"audit": (30, 0), "mailer": (30, 0), "search": (30, 0)}


def test_failed_message_stays_pending(r):
    ids = produce(r, "jobs", 5)
    r.xgroup_create("jobs", "workers", id="0")
    poison = ids[2]
    for attempt in range(1, 4):
        # Each attempt: new entries first, then this consumer's own history.
        for _, entries in r.xreadgroup("workers", "w", {"jobs": ">" if attempt == 1 else "0"}):
            for entry_id, _ in entries:
                if entry_id != poison:
                    r.xack("jobs", "workers", entry_id)
        pending = r.xpending_range("jobs", "workers", "-", "+", 10)
        assert [(p["message_id"], p["times_delivered"]) for p in pending] == [(poison, attempt)]
    # Handing it to a dead-letter consumer keeps it pending, counted.
    claimed = r.xclaim("jobs", "workers", "dead-letter", 0, [poison], justid=True)
    assert claimed == [poison]
    summary = r.xpending("jobs", "workers")
    assert summary["pending"] == 1 and summary["consumers"] == [{"name": "dead-letter", "pending": 1}]


def test_blocked_readers_woken_by_xadd_from_another_connection(r):
    r.xgroup_create("q", "g", id="$", mkstream=True)
    results = {}

    def read_plain():
        results["xread"] = connect(r).xread({"q": "$"}, block=5000)

    def read_group(name):
        results[name] = connect(r).xreadgroup("g", name, {"q": ">"}, block=5000)

    threads = [threading.Thread(target=read_plain)] + \
        [threading.Thread(target=read_group, args=(n,)) for n in ("c1", "c2")]
    for blocked, t in enumerate(threads, 1):
        t.start()
        # Block in this order: the next reader starts once this one is blocked.
        deadline = time.monotonic() + 30
        while r.info("clients")["blocked_clients"] < blocked and time.monotonic() < deadline:
            time.sleep(0.005)
    producer = connect(r)
    t0 = time.perf_counter()
    first = producer.xadd("q", {"n": "1"})
    second = producer.xadd("q", {"n": "2"})
    for t in threads:
        t.join(5)
    elapsed = time.perf_counter() - t0
    assert elapsed < 4.0        # woken by the XADDs, not by their 5 s timeout
    assert results["xread"] == [["q", [(first, {"n": "1"})]]]
    # FIFO: the reader that blocked first gets the first entry.
    assert results["c1"] == [["q", [(first, {"n": "1"})]]]
    assert results["c2"] == [["q", [(second, {"n": "2"})]]]


def test_long_running_consumers_under_full_speed_producer(r):
    """A producer pipelining XADDs as fast as it can, three consumers of one group
    and one of another, each XREADGROUP BLOCK + XACK in a loop: every entry is
    delivered exactly once per group and nothing stays pending."""
    total = 12000
    r.xgroup_create("firehose", "workers", id="$", mkstream=True)
    r.xgroup_create("firehose", "archive", id="$")
    done = threading.Event()
    delivered: dict[str, list] = {}
    errors: list = []

    def consume(group, name):
        c = connect(r)
        got = delivered.setdefault(f"{group}/{name}", [])
        try:
            idle_rounds = 0
            while idle_rounds < 3:
                reply = c.xreadgroup(group, name, {"firehose": ">"}, count=50, block=100)
                if not reply:
                    if done.is_set():
                        idle_rounds += 1
                    continue
                idle_rounds = 0
                entries = reply[0][1]
                got.extend(e for e, _ in entries)
                c.xack("firehose", group, *[e for e, _ in entries])
        except Exception as exc:       # pragma: no cover - reported below
            errors.append(exc)
        finally:
            c.close()

    consumers = [threading.Thread(target=consume, args=("workers", f"w{i}")) for i in range(3)]
    consumers.append(threading.Thread(target=consume, args=("archive", "a0")))
    for t in consumers:
        t.start()
    producer = connect(r)
    produced = []
    for batch in range(total // 200):
        produced += produce(producer, "firehose", 200, start=batch * 200)
    done.set()
    for t in consumers:
        t.join(30)
    assert not errors
    workers = [e for k, v in delivered.items() if k.startswith("workers/") for e in v]
    assert len(workers) == len(set(workers)) == total
    assert sorted(workers) == sorted(produced)
    assert delivered["archive/a0"] == produced
    assert sum(1 for k, v in delivered.items() if k.startswith("workers/") and v) >= 2
    for group in ("workers", "archive"):
        assert r.xpending("firehose", group)["pending"] == 0
    assert {g["name"]: g["lag"] for g in r.xinfo_groups("firehose")} == {"archive": 0, "workers": 0}
