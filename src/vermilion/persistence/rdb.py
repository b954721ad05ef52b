"""Redis 7.0's RDB format (version 10): writing, reading, DUMP payloads.

File layout::

    "REDIS0010"
    AUX redis-ver / redis-bits / ctime / used-mem / aof-base      (opcode 250)
    FUNCTION2 <library code>                                       (opcode 245), per library
    SELECTDB <n>  RESIZEDB <keys> <expires>                        (254, 251), per database
      [EXPIRETIME_MS <8 bytes le>] [IDLE <len> | FREQ <byte>] <type> <key> <value>
    EOF (255) <CRC-64 of everything before, 8 bytes le>

A DUMP payload is ``<type> <value> <RDB version, 2 bytes le> <CRC-64, 8 bytes le>``.

What we write, per type, is what Redis 7.0 writes for a value of the same
encoding, so real Redis loads it with the same OBJECT ENCODING and a DUMP of a
small value is byte-identical to Redis's:

* strings: RDB_TYPE_STRING, integers up to 32 bits in the integer encodings.
  Never LZF-compressed (see lzf.py); Redis loads uncompressed strings.
* lists: RDB_TYPE_LIST_QUICKLIST_2 with listpack nodes cut at the
  ``list-max-listpack-size`` limit (Redis cuts where its push history put the
  cuts, so a DUMP of a multi-node list may differ from Redis's, not its content).
* sets: RDB_TYPE_SET_INTSET while the set is an intset, else RDB_TYPE_SET.
* hashes / sorted sets: RDB_TYPE_HASH_LISTPACK / RDB_TYPE_ZSET_LISTPACK while
  listpack-encoded, else RDB_TYPE_HASH / RDB_TYPE_ZSET_2 (scores as binary
  doubles, greatest first, as Redis).
* streams: RDB_TYPE_STREAM_LISTPACKS_2 (nodes, groups, consumers, PELs).

Reading accepts everything Redis 7.0 reads: the types above plus the older
RDB_TYPE_LIST/SET/ZSET/HASH, zipmap, ziplist (lists, hashes, sorted sets),
quicklist of ziplists, RDB_TYPE_STREAM_LISTPACKS (Redis 5/6 streams), LZF
compressed strings anywhere, and every RDB version up to 10 (and Redis 7.2's
version 11 set listpacks). Module values cannot be loaded (no modules).

Loading is a hand-inlined loop over one ``bytes`` object for speed: a file of
one million short string keys loads in about a second (docs/persistence.md).
"""
from __future__ import annotations

import os
import random
import struct
import time
from math import isinf, isnan

from ..types.collections import Hash, List, Set
from ..types.sortedset import SortedSet
from ..types.stream import Stream, StreamID
from . import lzf
from .compact import (
    EncodingError, as_bytes, as_int64, intset_decode, intset_encode, lp_build, lp_decode,
    lp_str, zipmap_decode, zl_decode,
)
from .crc64 import crc64
from .streamcodec import add_group, build_stream, node_from_listpack, stream_nodes

RDB_VERSION = 10

# Value types.
T_STRING, T_LIST, T_SET, T_ZSET, T_HASH, T_ZSET_2 = 0, 1, 2, 3, 4, 5
T_MODULE_PRE_GA, T_MODULE_2 = 6, 7
T_HASH_ZIPMAP, T_LIST_ZIPLIST, T_SET_INTSET, T_ZSET_ZIPLIST, T_HASH_ZIPLIST = 9, 10, 11, 12, 13
T_LIST_QUICKLIST, T_STREAM_LISTPACKS, T_HASH_LISTPACK, T_ZSET_LISTPACK = 14, 15, 16, 17
T_LIST_QUICKLIST_2, T_STREAM_LISTPACKS_2 = 18, 19
T_SET_LISTPACK, T_STREAM_LISTPACKS_3 = 20, 21          # Redis 7.2 (RDB 11), read only

# Opcodes.
OP_FUNCTION2, OP_FUNCTION_PRE_GA, OP_MODULE_AUX, OP_IDLE, OP_FREQ = 245, 246, 247, 248, 249
OP_AUX, OP_RESIZEDB, OP_EXPIRETIME_MS, OP_EXPIRETIME, OP_SELECTDB, OP_EOF = 250, 251, 252, 253, 254, 255

QUICKLIST_PLAIN, QUICKLIST_PACKED = 1, 2

_pack_q = struct.Struct("<q").pack
_pack_d = struct.Struct("<d").pack
_unpack_q = struct.Struct("<q").unpack_from
_unpack_i = struct.Struct("<i").unpack_from
_unpack_h = struct.Struct("<h").unpack_from
_unpack_d = struct.Struct("<d").unpack_from
_unpack_Ibe = struct.Struct(">I").unpack_from
_unpack_Qbe = struct.Struct(">Q").unpack_from


class RdbError(Exception):
    """A file or payload that cannot be loaded; `offset` is where reading stopped."""

    def __init__(self, message: str, offset: int = -1):
        super().__init__(message)
        self.offset = offset


# ==================================================================================
# Writing
# ==================================================================================

_LEN1 = [bytes((n,)) for n in range(64)]


def enc_len(n: int) -> bytes:
    if n < 64:
        return _LEN1[n]
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def enc_int_string(v: int) -> bytes | None:
    """The RDB integer encoding of `v`, or None when it needs more than 32 bits."""
    if -128 <= v <= 127:
        return b"\xc0" + (v & 0xFF).to_bytes(1, "little")
    if -32768 <= v <= 32767:
        return b"\xc1" + (v & 0xFFFF).to_bytes(2, "little")
    if -2147483648 <= v <= 2147483647:
        return b"\xc2" + (v & 0xFFFFFFFF).to_bytes(4, "little")
    return None


def enc_str(s) -> bytes:
    """rdbSaveRawString without compression: integer encoding for short integers."""
    n = len(s)
    if n <= 11 and n:
        c = s[0]
        if 48 <= c <= 57 or c == 45:
            v = as_int64(s)
            if v is not None:
                e = enc_int_string(v)
                if e is not None:
                    return e
    if n < 64:
        return _LEN1[n] + s
    return enc_len(n) + s


def _list_nodes(values, fill: int) -> list[bytes]:
    """Cut a list into quicklist listpack nodes the way Redis fills them."""
    limit = (4096, 8192, 16384, 32768, 65536)[min(-fill, 5) - 1] if fill < 0 else 8192
    max_count = fill if fill > 0 else 0
    nodes = []
    els: list[bytes] = []
    size = 7
    for v in values:
        e = lp_str(v)
        if els and (size + len(e) + 8 > limit or (max_count and len(els) >= max_count)):
            nodes.append(lp_build(els, len(els)))
            els = []
            size = 7
        els.append(e)
        size += len(e)
    if els:
        nodes.append(lp_build(els, len(els)))
    return nodes


def _zscore_str(score: float) -> bytes:
    """d2string as Redis 7.0 writes listpack scores (integral values as integers)."""
    if isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == int(score) and -(2 ** 63) < score < 2 ** 63:
        return b"%d" % int(score)
    return (b"%.17g" % score)


def dump_value(value, config_values: dict | None = None) -> tuple[int, bytes]:
    """(RDB type, serialized value) for any value the keyspace holds."""
    cls = value.__class__
    if cls is bytes or cls is bytearray:
        return T_STRING, enc_str(bytes(value) if cls is bytearray else value)
    if cls is Hash:
        if not value.big:
            els = []
            for f, v in value.items():
                els.append(lp_str(f))
                els.append(lp_str(v))
            return T_HASH_LISTPACK, enc_str(lp_build(els, len(els)))
        parts = [enc_len(len(value))]
        for f, v in value.items():
            parts.append(enc_str(f))
            parts.append(enc_str(v))
        return T_HASH, b"".join(parts)
    if cls is List:
        fill = config_values["list-max-listpack-size"] if config_values else -2
        nodes = _list_nodes(value, fill)
        parts = [enc_len(len(nodes))]
        for node in nodes:
            parts.append(b"\x02")
            parts.append(enc_str(node))
        return T_LIST_QUICKLIST_2, b"".join(parts)
    if cls is Set:
        if not value.big:
            ints = [as_int64(m) for m in value]
            if None not in ints:
                return T_SET_INTSET, enc_str(intset_encode(ints))
        parts = [enc_len(len(value))]
        parts += [enc_str(m) for m in value]
        return T_SET, b"".join(parts)
    if cls is SortedSet:
        if not value.big:
            els = []
            for score, member in value.by_rank(0, len(value) - 1):
                els.append(lp_str(member))
                els.append(lp_str(_zscore_str(score)))
            return T_ZSET_LISTPACK, enc_str(lp_build(els, len(els)))
        parts = [enc_len(len(value))]
        for score, member in value.items_desc():
            parts.append(enc_str(member))
            parts.append(_pack_d(score))
        return T_ZSET_2, b"".join(parts)
    if cls is Stream:
        return T_STREAM_LISTPACKS_2, _dump_stream(value)
    raise TypeError(f"cannot serialize {cls.__name__}")


def _id_raw(key: int) -> bytes:
    return key.to_bytes(16, "big")


def _dump_stream(s: Stream) -> bytes:
    nodes = list(stream_nodes(s))
    parts = [enc_len(len(nodes))]
    for master, lp in nodes:
        parts.append(enc_str(master))
        parts.append(enc_str(lp))
    parts.append(enc_len(s.length))
    parts.append(enc_len(s.last_id[0]))
    parts.append(enc_len(s.last_id[1]))
    parts.append(enc_len(s.first_id[0]))
    parts.append(enc_len(s.first_id[1]))
    parts.append(enc_len(s.max_deleted_id[0]))
    parts.append(enc_len(s.max_deleted_id[1]))
    parts.append(enc_len(s.entries_added))
    groups = sorted(s.groups.items())
    parts.append(enc_len(len(groups)))
    for name, g in groups:
        parts.append(enc_str(name))
        parts.append(enc_len(g.last_id[0]))
        parts.append(enc_len(g.last_id[1]))
        parts.append(enc_len(g.entries_read & 0xFFFFFFFFFFFFFFFF))
        pel = g.pel
        keys = pel.keys_from()
        parts.append(enc_len(len(keys)))
        for k in keys:
            nack = pel[k]
            parts.append(_id_raw(k))
            parts.append(_pack_q(nack.delivery_time))
            parts.append(enc_len(nack.delivery_count))
        consumers = sorted(g.consumers.items())
        parts.append(enc_len(len(consumers)))
        for cname, c in consumers:
            parts.append(enc_str(cname))
            parts.append(_pack_q(c.seen_time))
            ckeys = c.pel.keys_from()
            parts.append(enc_len(len(ckeys)))
            parts += [_id_raw(k) for k in ckeys]
    return b"".join(parts)


def dump_payload(value, config_values: dict | None = None) -> bytes:
    """DUMP: the value's serialization + RDB version + CRC-64."""
    rtype, body = dump_value(value, config_values)
    payload = bytes((rtype,)) + body + RDB_VERSION.to_bytes(2, "little")
    return payload + crc64(payload).to_bytes(8, "little")


def _aux(name: bytes, value: bytes) -> bytes:
    return b"\xfa" + enc_str(name) + enc_str(value)


def debug_delay(usec: int) -> None:
    """The rdb-key-save-delay / key-load-delay pause per key, as Redis's debugDelay:
    `usec` microseconds, or for a negative value 1 us with probability 1/|usec|."""
    if usec < 0:
        usec = 1 if random.randrange(-usec) == 0 else 0
    if usec:
        time.sleep(usec / 1e6)


def iter_rdb(dbs, *, functions=(), aof_base: bool = False, config_values: dict | None = None,
             used_mem: int = 0, lru_mode: int = 0, now_ms: int | None = None,
             chunk: int = 1 << 20, checksum: bool = True, repl_info: tuple | None = None):
    """Yield the RDB file for `dbs` (Database objects) in chunks of about `chunk`
    bytes; the last chunk ends with EOF and the CRC-64 of the whole file.

    `functions` are library codes (FUNCTION2 records). `lru_mode` 1/2 writes
    IDLE/FREQ records (what Redis does under an LRU/LFU maxmemory-policy).
    Without `checksum` the file ends with a zero CRC (rdbchecksum no).
    `repl_info` (stream db, replid, offset) adds the repl-stream-db/repl-id/repl-offset
    fields Redis writes into a snapshot for replicas (the db the stream that follows
    the snapshot has selected).
    """
    from .. import REDIS_VERSION
    crc = 0
    head = [b"REDIS%04d" % RDB_VERSION,
            _aux(b"redis-ver", REDIS_VERSION.encode()),
            _aux(b"redis-bits", b"64"),
            _aux(b"ctime", b"%d" % int(time.time())),
            _aux(b"used-mem", b"%d" % used_mem)]
    if repl_info is not None:
        stream_db, replid, offset = repl_info
        head += [_aux(b"repl-stream-db", b"%d" % stream_db), _aux(b"repl-id", replid.encode()),
                 _aux(b"repl-offset", b"%d" % offset)]
    head.append(_aux(b"aof-base", b"1" if aof_base else b"0"))
    for code in functions:
        head.append(b"\xf5" + enc_str(code))
    out = head
    size = 0
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    save_delay = config_values.get("rdb-key-save-delay", 0) if config_values else 0
    for db in dbs:
        data = db.data
        if not data:
            continue
        expires = db.expires
        out.append(b"\xfe" + enc_len(db.index) + b"\xfb" + enc_len(len(data)) + enc_len(len(expires)))
        append = out.append
        n = 0
        for key, value in data.items():
            if save_delay:
                debug_delay(save_delay)
            if expires:
                when = expires.get(key)
                if when is not None:
                    append(b"\xfc" + _pack_q(when))
            if lru_mode:
                if lru_mode == 1:
                    append(b"\xf8" + enc_len(db.idle_ms(key) // 1000))
                else:
                    append(b"\xf9" + bytes((db.lfu_counter(key),)))
            cls = value.__class__
            if cls is bytes:
                # Inlined enc_str for the common case: short strings.
                kn = len(key)
                vn = len(value)
                if kn < 64 and 12 <= vn < 64:
                    append(b"\x00" + _LEN1[kn] + key + _LEN1[vn] + value)
                else:
                    append(b"\x00" + enc_str(key) + enc_str(value))
            else:
                rtype, body = dump_value(value, config_values)
                append(bytes((rtype,)) + enc_str(key) + body)
                size += len(body)
            n += 1
            if n & 1023 == 0:
                size += sum(map(len, out))
                if size >= chunk:
                    block = b"".join(out)
                    if checksum:
                        crc = crc64(block, crc)
                    yield block
                    out = []
                    append = out.append
                    size = 0
    out.append(b"\xff")
    block = b"".join(out)
    # rdbchecksum no: a zero checksum, which loaders do not verify (Redis's rule).
    crc = crc64(block, crc) if checksum else 0
    yield block + crc.to_bytes(8, "little")


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicFile:
    """A file written under a temporary name and renamed over its final one by
    `commit` (after an fsync, with the directory fsynced after the rename), so the
    final name holds the old file or the complete new one, never a part. `discard`
    removes the temporary file (a failed or abandoned write)."""

    __slots__ = ("path", "tmp", "fd", "size")

    def __init__(self, path: str, tmp: str):
        self.path = path
        self.tmp = tmp
        self.fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.size = 0

    def write(self, block) -> None:
        view = memoryview(block)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(block)

    def commit(self) -> int:
        """fsync, rename over `path`, fsync the directory; returns the size."""
        try:
            os.fsync(self.fd)
        except BaseException:
            self.discard()
            raise
        os.close(self.fd)
        self.fd = -1
        os.replace(self.tmp, self.path)
        fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        return self.size

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def write_rdb_file(path: str, chunks, tmp: str | None = None) -> int:
    """Write chunks to `tmp`, fsync, rename over `path`, fsync the directory.

    The file appears complete or not at all. Returns the number of bytes.
    """
    if tmp is None:
        tmp = os.path.join(os.path.dirname(path) or ".", "temp-%d.rdb" % os.getpid())
    out = AtomicFile(path, tmp)
    try:
        for block in chunks:
            out.write(block)
    except BaseException:
        out.discard()
        raise
    return out.commit()


# ==================================================================================
# Reading
# ==================================================================================

class Loaded:
    """What a file held: per database index, {key: value} and {key: expiry ms},
    plus function library codes, aux fields and access records."""

    __slots__ = ("dbs", "functions", "aux", "keys_loaded", "keys_expired", "expired_keys",
                 "access", "version")

    def __init__(self):
        self.dbs: dict[int, tuple[dict, dict]] = {}
        self.functions: list[bytes] = []
        self.aux: dict[bytes, bytes] = {}
        self.keys_loaded = 0
        self.keys_expired = 0
        # (db, key) of each key dropped as expired: a primary that restores its
        # replication history from the file streams their DELs to resuming replicas.
        self.expired_keys: list[tuple[int, bytes]] = []
        self.access: dict[int, dict] = {}      # db -> key -> ("idle", secs) | ("freq", n)
        self.version = 0


def _read_len(data, p: int) -> tuple[int, int]:
    """(length, next position); raises RdbError on an encoded (special) value."""
    b = data[p]
    kind = b >> 6
    if kind == 0:
        return b, p + 1
    if kind == 1:
        return ((b & 0x3F) << 8) | data[p + 1], p + 2
    if b == 0x80:
        return _unpack_Ibe(data, p + 1)[0], p + 5
    if b == 0x81:
        return _unpack_Qbe(data, p + 1)[0], p + 9
    raise RdbError("Unknown length encoding %d in rdbLoadLen()" % b, p)


def _read_str(data, p: int) -> tuple[bytes, int]:
    """rdbGenericLoadStringObject: plain, integer-encoded or LZF-compressed."""
    b = data[p]
    kind = b >> 6
    if kind == 0:
        q = p + 1 + b
        if q > len(data):
            raise IndexError
        return data[p + 1:q], q
    if kind == 1:
        n = ((b & 0x3F) << 8) | data[p + 1]
        q = p + 2 + n
    elif kind == 3:
        enc = b & 0x3F
        if enc == 0:
            v = data[p + 1]
            return b"%d" % (v - 256 if v > 127 else v), p + 2
        if enc == 1:
            return b"%d" % _unpack_h(data, p + 1)[0], p + 3
        if enc == 2:
            return b"%d" % _unpack_i(data, p + 1)[0], p + 5
        if enc == 3:
            clen, q = _read_len(data, p + 1)
            ulen, q = _read_len(data, q)
            end = q + clen
            if end > len(data):
                raise IndexError
            try:
                return lzf.decompress(data[q:end], ulen), end
            except lzf.LZFError as err:
                raise RdbError("Invalid LZF compressed string (%s)" % err, p) from None
        raise RdbError("Unknown RDB string encoding type %d" % enc, p)
    elif b == 0x80:
        n = _unpack_Ibe(data, p + 1)[0]
        q = p + 5 + n
        p += 5
        if q > len(data):
            raise IndexError
        return data[p:q], q
    elif b == 0x81:
        n = _unpack_Qbe(data, p + 1)[0]
        q = p + 9 + n
        p += 9
        if q > len(data):
            raise IndexError
        return data[p:q], q
    else:
        raise RdbError("Unknown length encoding %d in rdbLoadLen()" % b, p)
    if q > len(data):
        raise IndexError
    return data[q - n:q], q


def _read_double_str(data, p: int) -> tuple[float, int]:
    """The old (RDB_TYPE_ZSET) string-encoded double."""
    n = data[p]
    if n == 253:
        return float("nan"), p + 1
    if n == 254:
        return float("inf"), p + 1
    if n == 255:
        return float("-inf"), p + 1
    return float(data[p + 1:p + 1 + n]), p + 1 + n


class _Limits:
    """The encoding thresholds (what makes a loaded value listpack or hashtable)."""

    __slots__ = ("hash_entries", "hash_value", "zset_entries", "zset_value", "intset_entries")

    def __init__(self, values: dict | None):
        v = values or {}
        self.hash_entries = v.get("hash-max-listpack-entries", 512)
        self.hash_value = v.get("hash-max-listpack-value", 64)
        self.zset_entries = v.get("zset-max-listpack-entries", 128)
        self.zset_value = v.get("zset-max-listpack-value", 64)
        self.intset_entries = v.get("set-max-intset-entries", 512)


def _make_hash(flat: list, lim: _Limits) -> Hash:
    d = dict(zip(flat[::2], flat[1::2]))
    if len(d) * 2 != len(flat):
        raise RdbError("Duplicate hash fields detected")
    big = len(d) > lim.hash_entries
    if not big:
        limit = lim.hash_value
        for x in flat:
            if len(x) > limit:
                big = True
                break
    return Hash.from_dict(d, big)


def _make_set(members: list, lim: _Limits) -> Set:
    s = Set(members)
    if len(s) != len(members):
        raise RdbError("Duplicate set members detected")
    if len(s) > lim.intset_entries:
        s.make_big()
    else:
        for m in members:
            if as_int64(m) is None:
                s.make_big()
                break
    return s


def _make_zset(pairs: list[tuple[bytes, float]], lim: _Limits) -> SortedSet:
    big = len(pairs) > lim.zset_entries
    if not big:
        limit = lim.zset_value
        for m, _ in pairs:
            if len(m) > limit:
                big = True
                break
    seen = set()
    for m, sc in pairs:
        if isnan(sc):
            raise RdbError("Zset with NAN score detected")
        if m in seen:
            raise RdbError("Duplicate zset fields detected")
        seen.add(m)
    z = SortedSet.from_items([(sc, m) for m, sc in pairs], big)
    return z


def read_value(data, p: int, rtype: int, lim: _Limits, version: int = RDB_VERSION):
    """(value, next position) of a serialized value of type `rtype`."""
    if rtype == T_STRING:
        return _read_str(data, p)
    if rtype == T_LIST_QUICKLIST_2 or rtype == T_LIST_QUICKLIST:
        count, p = _read_len(data, p)
        out = List()
        for _ in range(count):
            container = QUICKLIST_PACKED
            if rtype == T_LIST_QUICKLIST_2:
                container, p = _read_len(data, p)
            blob, p = _read_str(data, p)
            if container == QUICKLIST_PLAIN:
                out.append(blob)
                continue
            if container != QUICKLIST_PACKED:
                raise RdbError("Quicklist integrity check failed.", p)
            items = lp_decode(blob) if rtype == T_LIST_QUICKLIST_2 else zl_decode(blob)
            if not items:
                continue                       # Redis skips empty nodes too
            out.extend(as_bytes(items))
        return out, p
    if rtype == T_LIST:
        count, p = _read_len(data, p)
        out = List()
        for _ in range(count):
            v, p = _read_str(data, p)
            out.append(v)
        return out, p
    if rtype == T_LIST_ZIPLIST:
        blob, p = _read_str(data, p)
        return List(as_bytes(zl_decode(blob))), p
    if rtype == T_HASH_LISTPACK or rtype == T_HASH_ZIPLIST or rtype == T_HASH_ZIPMAP:
        blob, p = _read_str(data, p)
        if rtype == T_HASH_LISTPACK:
            flat = as_bytes(lp_decode(blob))
        elif rtype == T_HASH_ZIPLIST:
            flat = as_bytes(zl_decode(blob))
        else:
            flat = zipmap_decode(blob)
        if len(flat) & 1 or not flat:
            raise RdbError("Hash listpack integrity check failed.", p)
        return _make_hash(flat, lim), p
    if rtype == T_HASH:
        count, p = _read_len(data, p)
        flat = []
        for _ in range(2 * count):
            v, p = _read_str(data, p)
            flat.append(v)
        return _make_hash(flat, lim), p
    if rtype == T_SET_INTSET:
        blob, p = _read_str(data, p)
        return _make_set([b"%d" % v for v in intset_decode(blob)], lim), p
    if rtype == T_SET or rtype == T_SET_LISTPACK:
        if rtype == T_SET_LISTPACK:
            blob, p = _read_str(data, p)
            members = as_bytes(lp_decode(blob))
        else:
            count, p = _read_len(data, p)
            members = []
            for _ in range(count):
                v, p = _read_str(data, p)
                members.append(v)
        return _make_set(members, lim), p
    if rtype == T_ZSET_LISTPACK or rtype == T_ZSET_ZIPLIST:
        blob, p = _read_str(data, p)
        items = lp_decode(blob) if rtype == T_ZSET_LISTPACK else zl_decode(blob)
        if len(items) & 1 or not items:
            raise RdbError("Zset listpack integrity check failed.", p)
        pairs = []
        for i in range(0, len(items), 2):
            m = items[i]
            sc = items[i + 1]
            pairs.append((m if m.__class__ is bytes else b"%d" % m,
                          float(sc) if sc.__class__ is int else _parse_score(sc)))
        return _make_zset(pairs, lim), p
    if rtype == T_ZSET_2 or rtype == T_ZSET:
        count, p = _read_len(data, p)
        pairs = []
        for _ in range(count):
            m, p = _read_str(data, p)
            if rtype == T_ZSET_2:
                sc = _unpack_d(data, p)[0]
                p += 8
            else:
                sc, p = _read_double_str(data, p)
            pairs.append((m, sc))
        return _make_zset(pairs, lim), p
    if rtype in (T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2, T_STREAM_LISTPACKS_3):
        return _read_stream(data, p, rtype)
    if rtype in (T_MODULE_PRE_GA, T_MODULE_2):
        raise RdbError("The RDB file contains module data I can't load: no matching module", p)
    raise RdbError("Unknown RDB encoding type %d" % rtype, p)


def _parse_score(s: bytes) -> float:
    try:
        return float(s)
    except ValueError:
        raise RdbError("Zset listpack with an invalid score") from None


def _read_stream(data, p: int, rtype: int):
    count, p = _read_len(data, p)
    nodes = []
    for _ in range(count):
        master, p = _read_str(data, p)
        lp, p = _read_str(data, p)
        try:
            node = node_from_listpack(master, lp)
        except EncodingError as err:
            raise RdbError("Stream listpack integrity check failed (%s)." % err, p) from None
        if len(node):
            nodes.append(node)
    length, p = _read_len(data, p)
    ms, p = _read_len(data, p)
    seq, p = _read_len(data, p)
    last_id = StreamID(ms, seq)
    first_id = StreamID(0, 0)
    max_deleted = StreamID(0, 0)
    entries_added = length
    if rtype >= T_STREAM_LISTPACKS_2:
        a, p = _read_len(data, p)
        b, p = _read_len(data, p)
        first_id = StreamID(a, b)
        a, p = _read_len(data, p)
        b, p = _read_len(data, p)
        max_deleted = StreamID(a, b)
        entries_added, p = _read_len(data, p)
    s = build_stream(nodes, length, last_id, first_id, max_deleted, entries_added)
    if rtype == T_STREAM_LISTPACKS:
        # Redis 5/6 files do not record these: derive them as Redis 7.0 does.
        s.first_id = s._first_live_id() if length else StreamID(0, 0)
    ngroups, p = _read_len(data, p)
    for _ in range(ngroups):
        name, p = _read_str(data, p)
        ms, p = _read_len(data, p)
        seq, p = _read_len(data, p)
        glast = StreamID(ms, seq)
        entries_read = -1
        if rtype >= T_STREAM_LISTPACKS_2:
            entries_read, p = _read_len(data, p)
            if entries_read >= 1 << 63:
                entries_read -= 1 << 64
        else:
            entries_read = s.estimate_entries_read(glast)
        npel, p = _read_len(data, p)
        pel = []
        for _ in range(npel):
            k = int.from_bytes(data[p:p + 16], "big")
            t = _unpack_q(data, p + 16)[0]
            p += 24
            dc, p = _read_len(data, p)
            pel.append((k, t, dc))
        nconsumers, p = _read_len(data, p)
        consumers = []
        for _ in range(nconsumers):
            cname, p = _read_str(data, p)
            seen = _unpack_q(data, p)[0]
            p += 8
            if rtype == T_STREAM_LISTPACKS_3:
                p += 8                           # 7.2's active-time
            n, p = _read_len(data, p)
            owned = [int.from_bytes(data[p + 16 * i:p + 16 * i + 16], "big") for i in range(n)]
            p += 16 * n
            consumers.append((cname, seen, owned))
        try:
            add_group(s, name, glast, entries_read, pel, consumers)
        except EncodingError as err:
            raise RdbError("Stream consumer group integrity check failed (%s)." % err, p) from None
    return s, p


def load_rdb(data, *, config_values: dict | None = None, now_ms: int | None = None,
             check_crc: bool = True, keep_expired: bool = False, progress_every: int = 0,
             streaming: bool = False):
    """Parse a whole RDB file. A generator: yields the byte offset reached every
    `progress_every` keys (0: never) so a caller can serve clients meanwhile,
    and returns a `Loaded` (``result = yield from load_rdb(...)``).

    Keys already expired are dropped (counted in keys_expired) unless
    `keep_expired` (an AOF preamble keeps them, as Redis).

    `streaming`: `data` is the start of the file (maybe empty) and the rest
    arrives while it is parsed (a replica's disk-less load, from the socket). The
    generator then also yields `NEED_MORE` and must be sent the next bytes, b""
    at the end of the file. Only the bytes not parsed yet are held: every read
    that runs past the end raises IndexError (or struct.error) before anything is
    kept, so the entry it was in is parsed again, whole, once the held bytes have
    at least doubled (a value spanning many reads is parsed O(1) times, not once a
    read). Parsed bytes are dropped, their checksum carried on.
    """
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    base = 0            # file offset of data[0]
    crc = 0             # CRC-64 of the bytes before data[0]
    final = not streaming
    if streaming and len(data) < 9:
        data, _, crc, final = yield from _more(data, 0, 0, 0, False, 9)
    if data[:5] != b"REDIS":
        raise RdbError("Wrong signature trying to load DB from file", 0)
    try:
        version = int(data[5:9])
    except ValueError:
        raise RdbError("Wrong signature trying to load DB from file", 0) from None
    if version < 1 or version > 11:
        raise RdbError("Can't handle RDB format version %d" % version, 5)
    lim = _Limits(config_values)
    load_delay = config_values.get("key-load-delay", 0) if config_values else 0
    result = Loaded()
    result.version = version
    dbs = result.dbs
    cur = dbs.setdefault(0, ({}, {}))
    table, expires = cur
    dbnum = 0
    p = 9
    expire_at = -1
    idle = freq = None
    loaded = 0
    expired = 0
    every = progress_every or (1 << 62)
    tick = every
    n = len(data)
    start = p
    while True:
        try:
            while True:
                start = p
                t = data[p]
                p += 1
                if t == 0:
                    # String value: the hot path, inlined.
                    b = data[p]
                    if b < 64:
                        q = p + 1 + b
                        key = data[p + 1:q]
                        p = q
                    else:
                        key, p = _read_str(data, p)
                    b = data[p]
                    if b < 64:
                        q = p + 1 + b
                        value = data[p + 1:q]
                        p = q
                    else:
                        value, p = _read_str(data, p)
                    if p > n:
                        raise IndexError
                    if load_delay:
                        debug_delay(load_delay)
                elif t >= 245:
                    if t == OP_EXPIRETIME_MS:
                        expire_at = _unpack_q(data, p)[0]
                        p += 8
                        continue
                    if t == OP_SELECTDB:
                        dbnum, p = _read_len(data, p)
                        cur = dbs.get(dbnum)
                        if cur is None:
                            cur = dbs[dbnum] = ({}, {})
                        table, expires = cur
                        continue
                    if t == OP_RESIZEDB:
                        _, p = _read_len(data, p)
                        _, p = _read_len(data, p)
                        continue
                    if t == OP_AUX:
                        k, p = _read_str(data, p)
                        v, p = _read_str(data, p)
                        result.aux[k] = v
                        continue
                    if t == OP_EOF:
                        break
                    if t == OP_EXPIRETIME:
                        expire_at = _unpack_i(data, p)[0] * 1000
                        p += 4
                        continue
                    if t == OP_IDLE:
                        idle, p = _read_len(data, p)
                        continue
                    if t == OP_FREQ:
                        freq = data[p]
                        p += 1
                        continue
                    if t == OP_FUNCTION2:
                        code, p = _read_str(data, p)
                        result.functions.append(code)
                        continue
                    if t == OP_FUNCTION_PRE_GA:
                        raise RdbError("Pre-release function format not supported.", p)
                    if t == OP_MODULE_AUX:
                        raise RdbError("The RDB file contains AUX module data I can't load: no matching module", p)
                    raise RdbError("Unknown RDB opcode %d" % t, p - 1)
                else:
                    key, p = _read_str(data, p)
                    value, p = read_value(data, p, t, lim, version)
                    if p > n:
                        raise IndexError        # a slice of the value ran past the end
                    if load_delay:
                        debug_delay(load_delay)
                # A key and its value were read.
                if expire_at != -1:
                    if expire_at < now_ms and not keep_expired:
                        expired += 1
                        result.expired_keys.append((dbnum, key))
                        expire_at = -1
                        idle = freq = None
                        continue
                    expires[key] = expire_at
                    expire_at = -1
                if key in table:
                    raise RdbError("Duplicate key '%s' found in RDB file"
                                   % key.decode("utf-8", "replace"), p)
                table[key] = value
                if idle is not None or freq is not None:
                    result.access.setdefault(dbnum, {})[key] = \
                        ("idle", idle) if idle is not None else ("freq", freq)
                    idle = freq = None
                loaded += 1
                if loaded == tick:
                    tick += every
                    yield base + p
        except (IndexError, struct.error):
            if final:
                raise RdbError("Short read or OOM loading DB. Unrecoverable error, aborting now.",
                               base + p) from None
        except (EncodingError, RdbError) as err:
            # Streaming: a value read short can also fail its own checks (a stream's
            # PELs read from cut IDs); only once the file is complete is it an error.
            if final:
                if isinstance(err, RdbError):
                    raise
                raise RdbError("Internal error in RDB reading offset 0, function at rdb.c:0 -> %s"
                               % err, base + p) from None
        else:
            break           # OP_EOF
        # Streaming: the entry at `start` runs past the bytes received so far.
        data, base, crc, final = yield from _more(data, start, base, crc, check_crc, 0)
        n = len(data)
        p = 0
    if version >= 5:
        if p + 8 > n and not final:
            data, base, crc, final = yield from _more(data, p, base, crc, check_crc, 8)
            n = len(data)
            p = 0
        if p + 8 > n:
            raise RdbError("Short read or OOM loading DB. Unrecoverable error, aborting now.",
                           base + p)
        expected = int.from_bytes(data[p:p + 8], "little")
        if check_crc and expected:
            got = crc64(memoryview(data)[:p] if not isinstance(data, bytes) or base else data[:p],
                        crc)
            if got != expected:
                raise RdbError("Wrong RDB checksum expected: (%x) got (%x). Aborting now."
                               % (got, expected), p)
        p += 8
    result.keys_loaded = loaded
    result.keys_expired = expired
    return result


# What a streaming load_rdb yields when it needs the next bytes of the file.
NEED_MORE = -1


def _more(data, start: int, base: int, crc: int, check_crc: bool, need: int):
    """Streaming load_rdb: drop data[:start] (into the running checksum) and receive
    until the rest has doubled and holds at least `need` bytes, or the file ended.
    Returns (data, base, crc, final)."""
    if start:
        if check_crc:
            crc = crc64(memoryview(data)[:start], crc)
        base += start
    rest = data[start:] if start else data
    parts = [rest]
    have = len(rest)
    target = max(2 * have, have + 1, need)
    final = False
    while have < target:
        chunk = yield NEED_MORE
        if not chunk:
            final = True
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts), base, crc, final


def load_rdb_all(data, **kwargs) -> Loaded:
    """load_rdb without progress reports."""
    gen = load_rdb(data, **kwargs)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def check_payload(payload: bytes, verify_crc: bool = True) -> bool:
    """verifyDumpPayload: a known RDB version and a matching CRC-64."""
    n = len(payload)
    if n < 10:
        return False
    version = payload[n - 10] | (payload[n - 9] << 8)
    if version > RDB_VERSION:
        return False
    if not verify_crc:
        return True
    return crc64(payload[:n - 8]) == int.from_bytes(payload[n - 8:], "little")


def load_payload(payload: bytes, config_values: dict | None = None):
    """The value of a (verified) DUMP payload; RdbError when it does not parse."""
    body = payload[:-10]
    try:
        if not body:
            raise IndexError
        rtype = body[0]
        if rtype >= 245:
            raise RdbError("Bad data format")
        value, p = read_value(body, 1, rtype, _Limits(config_values))
    except (IndexError, struct.error, EncodingError, ValueError):
        raise RdbError("Bad data format") from None
    if p != len(body):
        raise RdbError("Bad data format")
    if _is_empty(value):
        raise RdbError("Bad data format")
    return value


def _is_empty(value) -> bool:
    cls = value.__class__
    if cls is bytes or cls is Stream:
        return False
    return len(value) == 0


def functions_payload(codes: list[bytes]) -> bytes:
    """FUNCTION DUMP: FUNCTION2 records + RDB version + CRC-64 (as Redis 7.0)."""
    body = b"".join(b"\xf5" + enc_str(code) for code in codes) + RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def read_functions_payload(payload: bytes) -> list[bytes]:
    """FUNCTION RESTORE: the library codes of a FUNCTION DUMP payload.

    Raises RdbError("payload version or checksum are wrong") or ("given payload
    is not a function dump") like Redis's functionRestoreCommand.
    """
    if not check_payload(payload):
        raise RdbError("payload version or checksum are wrong")
    body = payload[:-10]
    codes = []
    p = 0
    try:
        while p < len(body):
            if body[p] != OP_FUNCTION2:
                raise RdbError("given type is not a function")
            code, p = _read_str(body, p + 1)
            codes.append(code)
    except (IndexError, struct.error):
        raise RdbError("given type is not a function") from None
    return codes
