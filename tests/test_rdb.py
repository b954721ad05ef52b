"""RDB snapshots: the format (against real redis-server 7.0 both ways), SAVE,
BGSAVE, save rules, SHUTDOWN/SIGTERM saving, DEBUG RELOAD, loading at startup."""
from __future__ import annotations

import os
import socket
import struct
import time

import pytest

from support import require_reference
from persistence_support import diff, populate, redis_server, snapshot, vermilion
from vermilion.persistence import compact, lzf
from vermilion.persistence.crc64 import crc64, crc64_py
from vermilion.persistence.rdb import (
    RdbError, dump_payload, enc_len, enc_str, iter_rdb, load_payload, load_rdb_all,
)


# -- units ---------------------------------------------------------------------------------------

def test_crc64_check_value():
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64_py(b"123456789") == 0xE9C6D914C4B8D9CA
    data = bytes(range(256)) * 10
    assert crc64(data[100:], crc64(data[:100])) == crc64_py(data)


def test_lzf_roundtrip_and_errors():
    for data in (b"a" * 100, b"abcabcabcabc" * 50, b"hello world hello world hello world, " * 300,
                 bytes(range(256)) * 4):
        packed = lzf.compress(data)
        if packed is not None:
            assert lzf.decompress(packed, len(data)) == data
    with pytest.raises(lzf.LZFError):
        lzf.decompress(b"\x05ab", 6)            # literal run past the end
    with pytest.raises(lzf.LZFError):
        lzf.decompress(b"\x00a\xe0\x00\x05", 20)  # back reference before the start


def test_listpack_encodings():
    items = [b"a", b"123", b"-5000", b"x" * 100, b"y" * 5000, 1, 200, -100000, 2 ** 40,
             b"00", b"-0", b"9223372036854775808", 127, 128, -(2 ** 63), 2 ** 63 - 1, b""]
    decoded = compact.lp_decode(compact.lp_encode(items))
    assert compact.as_bytes(decoded) == compact.as_bytes(items)
    assert decoded[1] == 123 and decoded[2] == -5000      # integer-looking strings are integers
    assert decoded[9] == b"00" and decoded[10] == b"-0"   # but not non-canonical ones
    with pytest.raises(compact.EncodingError):
        compact.lp_decode(b"\x07\x00\x00\x00\x00\x00\xfe")


def _ziplist(items) -> bytes:
    """A ziplist as Redis <= 6.2 wrote them (strings and small ints only)."""
    body = b""
    prev = 0
    for it in items:
        if isinstance(it, int):
            enc = b"\xfe" + struct.pack("<b", it) if not 0 <= it <= 12 else bytes((0xF1 + it,))
        else:
            enc = bytes((len(it),)) + it
        entry = bytes((prev,)) + enc
        body += entry
        prev = len(entry)
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, 10 + len(body) - prev, len(items)) + body + b"\xff"


def test_legacy_encodings_load():
    """Ziplist lists/hashes/zsets, quicklist of ziplists, zipmap and old plain
    types, as older Redis versions wrote them (Redis 7.0 loads them all)."""
    def payload(rtype, body):
        from vermilion.persistence.crc64 import crc64 as c
        p = bytes((rtype,)) + body + (9).to_bytes(2, "little")
        return p + c(p).to_bytes(8, "little")
    zl = _ziplist([b"a", 5, b"bb", -3])
    assert list(load_payload(payload(10, enc_str(zl)))) == [b"a", b"5", b"bb", b"-3"]
    ql = enc_len(2) + enc_str(_ziplist([b"x", 1])) + enc_str(_ziplist([b"y"]))
    assert list(load_payload(payload(14, ql))) == [b"x", b"1", b"y"]
    h = load_payload(payload(13, enc_str(_ziplist([b"f", b"v", b"g", 7]))))
    assert dict(h) == {b"f": b"v", b"g": b"7"}
    z = load_payload(payload(12, enc_str(_ziplist([b"m", 2, b"n", b"1.5"]))))
    assert dict(z.items()) == {b"m": 2.0, b"n": 1.5}
    zipmap = b"\x02" + b"\x01f\x01\x00v" + b"\x02gg\x02\x01xx!" + b"\xff"
    assert dict(load_payload(payload(9, enc_str(zipmap)))) == {b"f": b"v", b"gg": b"xx"}
    old_zset = enc_len(2) + enc_str(b"a") + b"\x031.5" + enc_str(b"b") + b"\xfe"
    assert dict(load_payload(payload(3, old_zset)).items()) == {b"a": 1.5, b"b": float("inf")}
    assert load_payload(payload(1, enc_len(1) + enc_str(b"q"))) == compact_list([b"q"])


def compact_list(items):
    from vermilion.types.collections import List
    return List(items)


def test_lzf_compressed_strings_load():
    data = b"hello world " * 40
    packed = lzf.compress(data)
    body = b"\xc3" + enc_len(len(packed)) + enc_len(len(data)) + packed
    p = b"\x00" + body + (10).to_bytes(2, "little")
    p += crc64(p).to_bytes(8, "little")
    assert load_payload(p) == data


def test_corrupted_file_is_refused():
    from vermilion.types.collections import Hash

    class Db:
        index = 0
        data = {b"k": b"v", b"h": Hash({b"f": b"v"})}
        expires = {}
    blob = b"".join(iter_rdb([Db()]))
    assert load_rdb_all(blob).dbs[0][0][b"k"] == b"v"
    bad = bytearray(blob)
    bad[30] ^= 0x55
    with pytest.raises(RdbError):
        load_rdb_all(bytes(bad))
    with pytest.raises(RdbError) as err:
        load_rdb_all(blob[:-12])
    assert err.value.offset >= 0


def test_dump_payload_roundtrip_all_types():
    from vermilion.types.collections import Hash, List, Set
    from vermilion.types.sortedset import SortedSet
    z = SortedSet()
    for m, s in ((b"a", 1.0), (b"b", -2.5), (b"c", float("inf"))):
        z.insert(m, s)
    values = [b"x" * 50, b"12", List([b"a", b"1"]), Set([b"1", b"2"]), Set([b"a"]),
              Hash({b"f": b"v"}), z]
    for v in values:
        back = load_payload(dump_payload(v))
        assert back.__class__ is v.__class__
        if isinstance(v, SortedSet):
            assert dict(back.items()) == dict(v.items())
        else:
            assert back == v


# -- Redis <-> Vermilion ------------------------------------------------------------------------

@pytest.fixture
def reference_dir(tmp_path):
    require_reference()
    return tmp_path


def _digest_and_snapshot(server):
    r = server.client()
    return snapshot(r)


def test_vermilion_loads_redis_rdb(reference_dir):
    d = reference_dir
    ref = redis_server(str(d / "redis"), "--save", "", "--appendonly", "no").start()
    try:
        populate(ref.client())
        ref.client().save()
        expected = _digest_and_snapshot(ref)
    finally:
        ref.kill()
    os.makedirs(d / "ver")
    os.replace(d / "redis" / "dump.rdb", d / "ver" / "dump.rdb")
    ver = vermilion(str(d / "ver"), "--save", "").start()
    try:
        got = _digest_and_snapshot(ver)
        assert diff(expected, got) == []
        info = ver.client().info("persistence")
        assert info["rdb_last_load_keys_loaded"] > 20
    finally:
        ver.kill()


def test_vermilion_loads_redis_rdb_with_compressed_nodes(reference_dir):
    """rdbcompression on plus list-compress-depth: LZF inside quicklist nodes."""
    d = reference_dir
    ref = redis_server(str(d / "redis"), "--save", "", "--list-compress-depth", "1",
                       "--list-max-listpack-size", "4").start()
    try:
        r = ref.client()
        r.rpush("l", *[("element %d " % i) * 5 for i in range(100)])
        r.hset("h", mapping={"f%d" % i: "value " * 10 for i in range(20)})
        r.save()
        expected = _digest_and_snapshot(ref)
    finally:
        ref.kill()
    os.makedirs(d / "ver")
    os.replace(d / "redis" / "dump.rdb", d / "ver" / "dump.rdb")
    ver = vermilion(str(d / "ver"), "--save", "").start()
    try:
        assert diff(expected, _digest_and_snapshot(ver)) == []
    finally:
        ver.kill()


def test_redis_loads_vermilion_rdb(reference_dir):
    d = reference_dir
    ver = vermilion(str(d / "ver"), "--save", "").start()
    try:
        populate(ver.client())
        assert ver.client().save()
        expected = _digest_and_snapshot(ver)
    finally:
        ver.kill()
    import subprocess
    check = subprocess.run(["redis-check-rdb", str(d / "ver" / "dump.rdb")], capture_output=True,
                           text=True)
    assert "RDB looks OK" in check.stdout, check.stdout
    os.makedirs(d / "redis")
    os.replace(d / "ver" / "dump.rdb", d / "redis" / "dump.rdb")
    ref = redis_server(str(d / "redis"), "--save", "").start()
    try:
        assert diff(expected, _digest_and_snapshot(ref)) == []
    finally:
        ref.kill()


# -- SAVE / BGSAVE / rules / shutdown ---------------------------------------------------------------

def test_save_bgsave_lastsave_and_info(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "").start()
    try:
        r = ver.client()
        for i in range(1000):
            r.set(f"k{i}", i)
        info = r.info("persistence")
        assert info["rdb_changes_since_last_save"] == 1000
        before = r.lastsave()
        time.sleep(1.1)
        assert r.save() is True
        assert r.lastsave() > before
        assert r.info("persistence")["rdb_changes_since_last_save"] == 0
        r.set("after", "save")
        assert r.bgsave() is True                    # "Background saving started"
        deadline = time.time() + 20
        while r.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
            time.sleep(0.02)
        info = r.info("persistence")
        assert info["rdb_last_bgsave_status"] == "ok"
        assert info["rdb_saves"] == 2
        with pytest.raises(Exception, match="syntax error"):
            r.execute_command("BGSAVE", "NOW")
        digest = r.execute_command("DEBUG", "DIGEST")
    finally:
        ver.kill()
    ver = vermilion(str(tmp_path), "--save", "").start()
    try:
        assert ver.client().execute_command("DEBUG", "DIGEST") == digest
    finally:
        ver.kill()


def test_bgsave_does_not_stop_the_server(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "").start()
    try:
        r = ver.client()
        for start in range(0, 200_000, 5000):
            r.mset({f"key:{i}": "x" * 20 for i in range(start, start + 5000)})
        assert r.bgsave()
        served = 0
        saw_in_progress = False
        deadline = time.time() + 30
        while time.time() < deadline:
            r.incr("counter")                         # answered while the child works
            served += 1
            if r.info("persistence")["rdb_bgsave_in_progress"]:
                saw_in_progress = True
            else:
                break
        assert saw_in_progress and served > 1
    finally:
        ver.kill()


def test_save_rules_trigger_bgsave(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "1 3").start()
    try:
        r = ver.client()
        for i in range(5):
            r.set(f"k{i}", i)
        deadline = time.time() + 10
        while r.info("persistence")["rdb_saves"] == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert r.info("persistence")["rdb_saves"] >= 1
        assert os.path.exists(tmp_path / "dump.rdb")
        assert "changes in 1 seconds. Saving..." in ver.log_text()
    finally:
        ver.kill()


def _shutdown(r, **kw):
    try:
        r.shutdown(**kw)
    except Exception:
        pass


def test_shutdown_save_nosave_and_sigterm(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "").start()
    r = ver.client()
    r.set("a", "1")
    _shutdown(r, nosave=True)
    ver.wait_exit()
    assert not os.path.exists(tmp_path / "dump.rdb")
    ver = vermilion(str(tmp_path), "--save", "").start()
    r = ver.client()
    assert r.get("a") is None
    r.set("b", "2")
    _shutdown(r, save=True)
    ver.wait_exit()
    assert os.path.exists(tmp_path / "dump.rdb")
    # SIGTERM saves when save rules are configured.
    ver = vermilion(str(tmp_path), "--save", "3600 1").start()
    r = ver.client()
    assert r.get("b") == b"2"
    r.set("c", "3")
    ver.stop()
    ver = vermilion(str(tmp_path), "--save", "").start()
    try:
        assert ver.client().mget("b", "c") == [b"2", b"3"]
    finally:
        ver.kill()


def test_flushall_rewrites_the_rdb(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "3600 1").start()
    r = ver.client()
    r.set("a", 1)
    r.save()
    r.flushall()
    ver.kill()                                      # no shutdown save
    ver = vermilion(str(tmp_path), "--save", "").start()
    try:
        assert ver.client().dbsize() == 0
    finally:
        ver.kill()


def test_debug_reload_keeps_everything(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "").start()
    try:
        r = ver.client()
        populate(r)
        before = snapshot(r)
        assert r.execute_command("DEBUG", "RELOAD") in (True, b"OK")
        assert diff(before, snapshot(r)) == []
        one, missing = r.execute_command("DEBUG", "DIGEST-VALUE", "s:int", "missing")
        assert len(one) == 40 and one != b"0" * 40 and missing == b"0" * 40
    finally:
        ver.kill()


def test_corrupted_rdb_refuses_to_start(tmp_path):
    ver = vermilion(str(tmp_path), "--save", "").start()
    r = ver.client()
    r.set("a", "x" * 100)
    r.save()
    ver.kill()
    path = tmp_path / "dump.rdb"
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    ver = vermilion(str(tmp_path), "--save", "").start(wait=False)
    assert ver.wait_exit() != 0
    assert "Wrong RDB checksum" in ver.log_text() or "loading the DB" in ver.log_text()


def test_clients_get_loading_while_a_big_rdb_loads(tmp_path):
    from vermilion.types.collections import Hash  # noqa: F401

    class Db:
        index = 0
        data = {b"key:%09d" % i: b"value" for i in range(400_000)}
        expires = {}
    with open(tmp_path / "dump.rdb", "wb") as fh:
        for block in iter_rdb([Db()]):
            fh.write(block)
    ver = vermilion(str(tmp_path), "--save", "").start(wait=False)
    try:
        seen_loading = False
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", ver.port), timeout=5) as s:
                    s.sendall(b"PING\r\n")
                    reply = s.recv(100)
                    if reply.startswith(b"-LOADING Redis is loading the dataset in memory"):
                        seen_loading = True
                        s.sendall(b"INFO persistence\r\n")
                        info = s.recv(4000)
                        # (loading may have finished in between)
                        assert b"loading:0" in info or b"loading_loaded_perc" in info
                    elif reply.startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.005)
        assert seen_loading
        assert ver.client().dbsize() == 400_000
    finally:
        ver.kill()
