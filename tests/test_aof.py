"""The append-only file: layout, effects, fsync policies, truncated and corrupted
files, BGREWRITEAOF (also under load and automatic), turning it on at runtime,
and interoperability with redis-server 7.0 / redis-check-aof."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from persistence_support import (diff, populate, redis_server, snapshot, vermilion,
                                 without_read_counters)
from support import require_reference
from vermilion.config import Config
from vermilion.engine.engine import Engine
from vermilion.persistence.aof import AofLoadError, CommandReplayer, Manifest, replay_aof


def aof_dir(path) -> str:
    return os.path.join(str(path), "appendonlydir")


def manifest(path) -> Manifest:
    with open(os.path.join(aof_dir(path), "appendonly.aof.manifest"), "rb") as fh:
        return Manifest.parse(fh.read())


def incr_bytes(path) -> bytes:
    m = manifest(path)
    with open(os.path.join(aof_dir(path), m.incrs[-1].name), "rb") as fh:
        return fh.read()


def normalized(snap: dict, loose: bool = False) -> dict:
    """Drop what an AOF replay legitimately changes: consumers' seen-time (the
    replayed XCLAIM/XREADGROUP happen now) and, after a command rewrite, the
    node layout of streams (deleted entries are not rewritten)."""
    out = {}
    for k, v in snap.items():
        if isinstance(v, list) and v and v[0] == b"stream":
            info = _strip(v[3], loose)
            v = v[:3] + [info]
        out[k] = v
    return out


def _strip(value, loose):
    drop = {b"seen-time"} | ({b"radix-tree-keys", b"radix-tree-nodes"} if loose else set())
    if isinstance(value, dict):
        return {k: _strip(v, loose) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        out = []
        skip = False
        for i, x in enumerate(value):
            if skip:
                skip = False
                continue
            if x in (b"seen-time",) or (loose and x in (b"radix-tree-keys", b"radix-tree-nodes")):
                skip = True
                continue
            out.append(_strip(x, loose))
        return out
    return value


def wait_for(cond, timeout=30.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return False


def wait_rewrite(r):
    assert wait_for(lambda: not r.info("persistence")["aof_rewrite_in_progress"]
                    and not r.info("persistence")["aof_rewrite_scheduled"])


# -- layout, effects, reload ---------------------------------------------------------------------

def test_multipart_layout_and_reload(tmp_path):
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--appendfsync", "always",
                    "--save", "").start()
    r = ver.client()
    populate(r)
    before = normalized(snapshot(r))
    m = manifest(tmp_path)
    assert m.base.name == "appendonly.aof.1.base.rdb" and m.base.type == "b"
    assert [i.name for i in m.incrs] == ["appendonly.aof.1.incr.aof"]
    data = incr_bytes(tmp_path)
    assert data.startswith(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
    assert b"$6\r\nSELECT\r\n$1\r\n3\r\n" in data and b"$6\r\nSELECT\r\n$2\r\n15\r\n" in data
    ver.kill()                                        # SIGKILL: nothing flushed at exit
    check = subprocess.run(["redis-check-aof", os.path.join(aof_dir(tmp_path), "appendonly.aof.manifest")],
                           capture_output=True, text=True)
    assert "All AOF files and manifest are valid" in check.stdout, check.stdout
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
    try:
        assert diff(before, normalized(snapshot(ver.client()))) == []
    finally:
        ver.kill()


def test_nondeterministic_commands_are_written_as_effects(tmp_path):
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--appendfsync", "always",
                    "--save", "").start()
    r = ver.client()
    r.set("k1", "v", ex=1000)
    r.set("k2", "v", px=500000)
    r.set("plain", "v")
    r.expire("plain", 2000)
    r.set("f", "1.5")
    r.incrbyfloat("f", 0.25)
    r.sadd("set", *range(20))
    r.spop("set", 3)
    sid = r.xadd("stream", {"a": "1"})
    r.xgroup_create("stream", "g", "0")
    r.xreadgroup("g", "c1", {"stream": ">"})
    r.rpush("l", "x")
    r.blpop("l", 1)
    r.eval("redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', 'evalctr'); "
           "redis.call('SPOP', 'set')", 1, "evalkey", "v")
    with r.pipeline(transaction=True) as tx:
        tx.incr("txctr").lpush("txlist", "a", "b").expire("txlist", 100)
        tx.execute()
    before = normalized(snapshot(r))
    data = incr_bytes(tmp_path)
    assert b"$5\r\nMULTI\r\n" in data.upper() and b"$4\r\nEVAL\r\n" not in data.upper()
    assert b"PXAT" in data and b"PEXPIREAT" in data
    assert b"\r\nEX\r\n" not in data.upper() and b"\r\nEXPIRE\r\n" not in data.upper()
    assert sid in data                                # XADD with the concrete ID
    assert b"SREM" in data.upper() and b"SPOP" not in data.upper()
    assert b"BLPOP" not in data.upper()
    assert b"KEEPTTL" in data.upper()
    ver.kill()
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
    try:
        after = normalized(snapshot(ver.client()))
        assert after[(0, b"stream")][3][b"groups"][0][b"entries-read"] is None
        assert diff(without_read_counters(before), without_read_counters(after)) == []
    finally:
        ver.kill()


def test_always_reply_comes_after_the_write_is_on_disk(tmp_path):
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--appendfsync", "always",
                    "--save", "").start()
    try:
        r = ver.client()
        path = os.path.join(aof_dir(tmp_path), manifest(tmp_path).incrs[-1].name)
        for i in range(50):
            r.set(f"key{i}", f"value-{i}-end")
            with open(path, "rb") as fh:
                assert f"value-{i}-end".encode() in fh.read()
        # Reads made while a write is not yet synced wait for it too: pipelined
        # batches from several clients all come back complete.
        def writer(n):
            c = ver.client()
            p = c.pipeline(transaction=False)
            for j in range(200):
                p.incr(f"ctr{n}")
                p.get(f"ctr{n}")
            out = p.execute()
            assert out[-1] == b"200"
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        info = r.info("persistence")
        assert info["aof_last_write_status"] == "ok" and info["aof_enabled"] == 1
    finally:
        ver.kill()


@pytest.mark.parametrize("policy", ["everysec", "no"])
def test_other_policies_write_promptly(tmp_path, policy):
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--appendfsync", policy,
                    "--save", "").start()
    try:
        r = ver.client()
        r.set("k", "payload-1")
        assert wait_for(lambda: b"payload-1" in incr_bytes(tmp_path), 2)
        r.config_set("appendfsync", "always")
        r.set("k2", "payload-2")
        assert b"payload-2" in incr_bytes(tmp_path)
        r.config_set("appendfsync", policy)
        r.set("k3", "payload-3")
        assert wait_for(lambda: b"payload-3" in incr_bytes(tmp_path), 2)
    finally:
        ver.kill()


# -- truncated and corrupted files (in process, every cut position) ------------------------------

def _engine():
    cfg = Config()
    return Engine(cfg)


def _cmd(*args) -> bytes:
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%b\r\n" % (len(a), a)
    return out


def _run(data: bytes, truncate_ok: bool, last_file: bool = True):
    engine = _engine()
    gen = replay_aof(engine, data, "appendonly.aof.1.incr.aof", CommandReplayer(engine),
                     truncate_ok=truncate_ok, last_file=last_file)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return engine, stop.value


HEAD = _cmd("SELECT", 0) + _cmd("SET", "a", "1") + _cmd("RPUSH", "l", "x", "y") + \
    b"#TS:1700000000\r\n" + _cmd("MULTI") + _cmd("INCR", "a") + _cmd("EXEC")
LAST = _cmd("SET", "last", "value")


def test_every_cut_of_the_last_command():
    for cut in range(1, len(LAST)):
        data = HEAD + LAST[:cut]
        engine, (n, valid, truncated) = _run(data, truncate_ok=True)
        assert truncated and valid == len(HEAD), cut
        db = engine.dbs[0]
        assert db.get(b"a") == b"2" and db.get(b"last") is None and len(db.get(b"l")) == 2
        with pytest.raises(AofLoadError) as err:
            _run(data, truncate_ok=False)
        assert err.value.truncated and err.value.offset == len(HEAD)
        assert "appendonly.aof.1.incr.aof" in str(err.value) and f"offset {len(HEAD)}" in str(err.value)
    engine, (n, valid, truncated) = _run(HEAD + LAST, truncate_ok=False)
    assert not truncated and valid == len(HEAD + LAST)
    assert engine.dbs[0].get(b"last") == b"value"


def test_cut_inside_multi_reverts_the_transaction():
    block = _cmd("MULTI") + _cmd("SET", "x", "1") + _cmd("SET", "y", "2") + _cmd("EXEC")
    base = _cmd("SET", "a", "1")
    for cut in range(1, len(block)):
        engine, (n, valid, truncated) = _run(base + block[:cut], truncate_ok=True)
        assert truncated and valid == len(base), cut
        assert engine.dbs[0].get(b"x") is None and engine.dbs[0].get(b"y") is None


def test_truncation_only_tolerated_in_the_last_file():
    with pytest.raises(AofLoadError) as err:
        _run(HEAD + LAST[:5], truncate_ok=True, last_file=False)
    assert "not the last file" in str(err.value)


@pytest.mark.parametrize("garbage", [b"garbage\r\n", b"*2\r\n$3\r\nSET\r\n:1\r\n", b"*x\r\n",
                                     b"*1\r\n$3\r\nfoo\r\n", b"*0\r\n", b"$3\r\nSET\r\n"])
def test_corruption_in_the_middle_names_the_offset(garbage):
    data = HEAD + garbage + LAST
    with pytest.raises(AofLoadError) as err:
        _run(data, truncate_ok=True)
    assert not err.value.truncated
    assert err.value.offset == len(HEAD)
    assert f"offset {len(HEAD)}" in str(err.value) and "appendonly.aof.1.incr.aof" in str(err.value)


def _setup_aof(tmp_path) -> tuple[str, bytes]:
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--appendfsync", "always",
                    "--save", "").start()
    r = ver.client()
    r.set("a", "1")
    r.set("b", "2")
    r.set("last", "value")
    ver.kill()
    path = os.path.join(aof_dir(tmp_path), manifest(tmp_path).incrs[-1].name)
    with open(path, "rb") as fh:
        return path, fh.read()


def test_truncated_file_at_startup(tmp_path):
    path, data = _setup_aof(tmp_path)
    last = _cmd("SET", "last", "value")
    assert data.endswith(last)
    cut = len(data) - 7
    with open(path, "wb") as fh:
        fh.write(data[:cut])
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "",
                    "--aof-load-truncated", "no").start(wait=False)
    assert ver.wait_exit() != 0
    log = ver.log_text()
    assert "appendonly.aof.1.incr.aof" in log and f"offset {len(data) - len(last)}" in log
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
    try:
        r = ver.client()
        assert r.mget("a", "b", "last") == [b"1", b"2", None]
        assert os.path.getsize(path) == len(data) - len(last)        # cut back
        r.set("after", "restart")
    finally:
        ver.kill()
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "",
                    "--aof-load-truncated", "no").start()
    try:
        assert ver.client().get("after") == b"restart"   # (always: on disk before the reply)
    finally:
        ver.kill()


def test_corrupted_file_at_startup(tmp_path):
    path, data = _setup_aof(tmp_path)
    at = data.index(b"*3\r\n$3\r\nSET\r\n$1\r\nb")
    with open(path, "wb") as fh:
        fh.write(data[:at] + b"\x00garbage\r\n" + data[at:])
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start(wait=False)
    assert ver.wait_exit() != 0
    log = ver.log_text()
    assert "Bad file format" in log and f"offset {at}" in log and "appendonly.aof.1.incr.aof" in log


# -- rewrite ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_bgrewriteaof(tmp_path, preamble):
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "",
                    "--aof-use-rdb-preamble", preamble).start()
    r = ver.client()
    populate(r)
    for i in range(100):
        r.incr("counter")
    r.bgrewriteaof()
    wait_rewrite(r)
    r.set("written", "after the rewrite")
    m = manifest(tmp_path)
    assert m.base.seq == 2 and m.base.name.endswith(".rdb" if preamble == "yes" else ".aof")
    assert [i.seq for i in m.incrs] == [2]
    assert sorted(os.listdir(aof_dir(tmp_path))) == sorted(
        [m.base.name, m.incrs[0].name, "appendonly.aof.manifest"])
    assert r.info("persistence")["aof_rewrites"] == 1
    before = normalized(snapshot(r), loose=preamble == "no")
    ver.stop()
    check = subprocess.run(["redis-check-aof", os.path.join(aof_dir(tmp_path), "appendonly.aof.manifest")],
                           capture_output=True, text=True)
    assert "All AOF files and manifest are valid" in check.stdout, check.stdout
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
    try:
        after = normalized(snapshot(ver.client()), loose=preamble == "no")
        assert diff(without_read_counters(before), without_read_counters(after)) == []
    finally:
        ver.kill()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_rewrite_under_load(tmp_path, preamble):
    """Clients write (strings, counters, streams gaining consumers, PEL changes)
    while the AOF is rewritten again and again; a restart rebuilds the same state."""
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "",
                    "--aof-use-rdb-preamble", preamble).start()
    r = ver.client()
    r.xgroup_create("jobs", "workers", "$", mkstream=True)
    stop = threading.Event()
    errors = []

    def strings(n):
        c = ver.client()
        i = 0
        while not stop.is_set():
            try:
                p = c.pipeline(transaction=False)
                for _ in range(20):
                    p.set(f"s{n}:{i % 500}", i)
                    p.incr(f"ctr{n}")
                    p.hset(f"h{n}", f"f{i % 50}", i)
                    i += 1
                p.execute()
            except Exception as err:   # noqa: BLE001
                errors.append(err)
                return

    def streams(n):
        c = ver.client()
        i = 0
        while not stop.is_set():
            try:
                c.xadd("jobs", {"n": n, "i": i})
                got = c.xreadgroup("workers", f"consumer-{n}-{i % 3}", {"jobs": ">"}, count=2)
                for _, entries in got or ():
                    for sid, _ in entries[:1]:
                        c.xack("jobs", "workers", sid)
                if i % 7 == 0:
                    c.xautoclaim("jobs", "workers", f"claimer-{n}", 0, count=2)
                if i % 11 == 0:
                    c.xgroup_createconsumer("jobs", "workers", f"idle-{n}-{i}")
                i += 1
            except Exception as err:   # noqa: BLE001
                errors.append(err)
                return

    threads = [threading.Thread(target=strings, args=(n,)) for n in range(2)] + \
        [threading.Thread(target=streams, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            time.sleep(0.3)
            r.bgrewriteaof()
            wait_rewrite(r)
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert r.info("persistence")["aof_rewrites"] == 3
    before = normalized(snapshot(r), loose=preamble == "no")
    assert r.xinfo_groups("jobs")[0]["pending"] > 0
    ver.stop()
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
    try:
        after = normalized(snapshot(ver.client()), loose=preamble == "no")
        assert diff(without_read_counters(before), without_read_counters(after)) == []
    finally:
        ver.kill()


def test_automatic_rewrite(tmp_path):
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "",
                    "--auto-aof-rewrite-min-size", "20000",
                    "--auto-aof-rewrite-percentage", "100").start()
    try:
        r = ver.client()
        for i in range(3000):
            r.set("same-key", "x" * 20)
        assert wait_for(lambda: r.info("persistence")["aof_rewrites"] >= 1, 10)
        assert "Starting automatic rewriting of AOF" in ver.log_text()
        wait_rewrite(r)
        assert manifest(tmp_path).base.seq >= 2
        # Growth is measured from the size right after the last rewrite (as Redis).
        info = r.info("persistence")
        assert info["aof_base_size"] < 20000
        r.set("same-key", "final")
        ver.stop()
        ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
        assert ver.client().get("same-key") == b"final"
    finally:
        ver.kill()


def test_appendonly_turned_on_at_runtime(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "").start()
    r = ver.client()
    populate(r)
    r.config_set("appendonly", "yes")
    assert wait_for(lambda: r.info("persistence")["aof_enabled"] == 1
                    and not r.info("persistence")["aof_rewrite_in_progress"])
    assert os.path.exists(os.path.join(aof_dir(tmp_path), "appendonly.aof.manifest"))
    r.set("after", "on")
    before = normalized(snapshot(r))
    ver.stop()
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
    try:
        r = ver.client()
        assert diff(before, normalized(snapshot(r))) == []
        r.config_set("appendonly", "no")
        assert r.info("persistence")["aof_enabled"] == 0
        r.set("not", "logged")
    finally:
        ver.kill()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_turning_aof_off_kills_a_slow_rewrite(tmp_path, preamble):
    """rdb-key-save-delay slows the rewrite child in both base formats (as Redis's
    rewriteAppendOnlyFileRio), so turning the AOF off finds it running and kills it."""
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "",
                    "--aof-use-rdb-preamble", preamble).start()
    try:
        r = ver.client()
        r.set("k", "v")
        r.config_set("rdb-key-save-delay", 100_000_000)          # 100 s for the one key
        r.bgrewriteaof()
        assert r.info("persistence")["aof_rewrite_in_progress"] == 1
        r.config_set("appendonly", "no")
        info = r.info("persistence")
        assert info["aof_rewrite_in_progress"] == 0 and info["aof_enabled"] == 0
        assert "Killing running AOF rewrite child" in ver.log_text()
        assert r.info("persistence")["aof_rewrites"] == 0       # killed, never finished
    finally:
        ver.kill()


def test_rdb_loaded_when_no_aof_exists(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "").start()
    r = ver.client()
    r.set("from", "rdb")
    r.save()
    ver.kill()
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
    try:
        r = ver.client()
        assert r.get("from") == b"rdb"
        assert manifest(tmp_path).base is not None
    finally:
        ver.kill()


def test_debug_loadaof(tmp_path):
    ver = vermilion(str(tmp_path), "--appendonly", "yes", "--save", "").start()
    try:
        r = ver.client()
        populate(r)
        before = normalized(snapshot(r))
        assert r.execute_command("DEBUG", "LOADAOF")
        assert diff(before, normalized(snapshot(r))) == []
    finally:
        ver.kill()


# -- interoperability with redis-server ------------------------------------------------------------

@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_redis_loads_vermilion_aof(tmp_path, preamble):
    require_reference()
    ver = vermilion(str(tmp_path / "v"), "--appendonly", "yes", "--save", "",
                    "--aof-use-rdb-preamble", preamble).start()
    r = ver.client()
    populate(r)
    r.bgrewriteaof()
    wait_rewrite(r)
    r.set("tail", "after rewrite")
    r.incr("s:int")
    before = normalized(snapshot(r), loose=preamble == "no")
    ver.stop()
    shutil.copytree(tmp_path / "v" / "appendonlydir", tmp_path / "r" / "appendonlydir")
    ref = redis_server(str(tmp_path / "r"), "--appendonly", "yes", "--save", "").start()
    try:
        assert diff(before, normalized(snapshot(ref.client()), loose=preamble == "no")) == []
    finally:
        ref.kill()


def test_vermilion_loads_redis_aof(tmp_path):
    require_reference()
    ref = redis_server(str(tmp_path / "r"), "--appendonly", "yes", "--save", "").start()
    r = ref.client()
    populate(r)
    r.bgrewriteaof()
    wait_for(lambda: not r.info("persistence")["aof_rewrite_in_progress"])
    time.sleep(0.2)
    r.set("tail", "after rewrite", ex=1000)
    r.incr("s:int")
    r.xreadgroup("g1", "dave", {"st:big": ">"}, count=3)
    before = normalized(snapshot(r))
    ref.stop()
    shutil.copytree(tmp_path / "r" / "appendonlydir", tmp_path / "v" / "appendonlydir")
    ver = vermilion(str(tmp_path / "v"), "--appendonly", "yes", "--save", "").start()
    try:
        assert diff(before, normalized(snapshot(ver.client()))) == []
    finally:
        ver.kill()


def test_manifest_format_and_errors():
    from vermilion.persistence.aof import AofInfo, ManifestError
    m = Manifest()
    m.base = AofInfo("appendonly.aof.3.base.rdb", 3, "b")
    m.incrs = [AofInfo("appendonly.aof.4.incr.aof", 4, "i"), AofInfo("with space.aof", 5, "i")]
    text = m.text()
    assert text.splitlines()[0] == "file appendonly.aof.3.base.rdb seq 3 type b"
    assert 'file "with space.aof" seq 5 type i' in text
    back = Manifest.parse(b"# comment\n" + text.encode())
    assert back.base.name == "appendonly.aof.3.base.rdb" and back.base_seq == 3
    assert [i.name for i in back.incrs] == ["appendonly.aof.4.incr.aof", "with space.aof"]
    assert back.incr_seq == 5
    for bad in (b"", b"file a seq 1 type b\nfile b seq 2 type b\n", b"file a/b seq 1 type b\n",
                b"file a seq x type b\n", b"file a seq 2 type i\nfile b seq 1 type i\n",
                b"file a seq 1\n"):
        with pytest.raises(ManifestError):
            Manifest.parse(bad)


def test_debug_loadaof_with_appendonly_off_loads_the_files_on_disk(tmp_path):
    # Redis's DEBUG LOADAOF replays the AOF on disk even after CONFIG SET appendonly no.
    require_reference()
    seen = []
    for make, sub in ((redis_server, "ref"), (vermilion, "ver")):
        d = tmp_path / sub
        d.mkdir()
        srv = make(str(d), "--appendonly", "yes", "--save", "", "--enable-debug-command", "yes").start()
        try:
            r = srv.client()
            r.set("k", "v")
            wait_rewrite(r)
            r.config_set("appendonly", "no")
            r.set("later", "x")             # not in the AOF
            r.execute_command("DEBUG", "LOADAOF")
            seen.append(sorted(r.keys("*")))
        finally:
            srv.stop()
    assert seen[0] == seen[1] == [b"k"]


def _group_reads_aof(server) -> bytes:
    """The AOF a consumer-group workload leaves: reads with and without NOACK, inside
    MULTI and outside, a claim (delivery times masked: they are the server's clock)."""
    r = server.client()
    for i in range(1, 5):
        r.xadd("s", {"f": i}, id=f"{i}-0")
    r.xgroup_create("s", "g", "0")
    r.xreadgroup("g", "c1", {"s": ">"}, count=2)
    r.xreadgroup("g", "c2", {"s": ">"}, count=1, noack=True)
    with r.pipeline(transaction=True) as tx:
        tx.xreadgroup("g", "c3", {"s": ">"}).xclaim("s", "g", "c4", 0, ["1-0"], idle=5000)
        tx.execute()
    r.xautoclaim("s", "g", "c5", 0, "0-0", count=1)
    data = incr_bytes(server.dir)
    server.kill()
    return re.sub(rb"\r\nTIME\r\n\$\d+\r\n\d+\r\n", b"\r\nTIME\r\n<time>\r\n", data)


def test_group_reads_in_the_aof_as_redis(tmp_path):
    conf = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")
    ours = _group_reads_aof(vermilion(str(tmp_path / "v"), *conf).start())
    theirs = _group_reads_aof(redis_server(str(tmp_path / "r"), *conf).start())
    assert ours == theirs
    assert b"XCLAIM" in ours and b"MULTI" in ours
