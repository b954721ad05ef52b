"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

A HyperLogLog is a string holding Redis's own bytes (``types/hyperloglog.py``), so
GET/SET, DUMP/RESTORE, RDB and AOF move it between Vermilion and redis-server
unchanged. As in Redis 7.0.15:

* PFADD creates a sparse value, counts one change per register raised (plus one
  for creating the key), and notifies ``pfadd``; PFMERGE always writes (one
  change, ``pfadd`` event) and leaves the destination sparse unless a source was
  dense or the merged registers do not fit ``hll-sparse-max-bytes``;
* PFCOUNT of one key writes the recomputed cardinality back into the value when
  its cache was stale: that counts as a change (the command is propagated, WATCH
  sees it) although PFCOUNT is a read-only command; PFCOUNT of several keys
  merges them without caching anything;
* PFDEBUG GETREG/TODENSE converting a sparse value count as a change without a
  keyspace event, and every command first turns an embedded string into a raw
  one (dbUnshareStringValue).
"""
from __future__ import annotations

import math
import random

from ..engine.errors import WRONGTYPE, CommandError
from ..engine.replies import OK, Status
from ..engine.table import command
from ..types import hyperloglog as hll

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
INVALID = "INVALIDOBJ Corrupted HLL object detected"


def _checked(value):
    """isHLLObjectOrReply."""
    if value.__class__ is not bytes and value.__class__ is not bytearray:
        raise CommandError(WRONGTYPE)
    if not hll.is_hll(value):
        raise CommandError(NOT_HLL)
    return value


def _unshared(db, key: bytes, value) -> bytearray:
    """The value as a bytearray stored at `key` (only the representation changes:
    not a write by itself)."""
    if value.__class__ is bytes:
        value = bytearray(value)
        db.data[key] = value
    return value


def _sparse_max(client) -> int:
    return client.engine.config["hll-sparse-max-bytes"]


@command("pfadd", arity=-2, flags="write denyoom fast", keys=(1, 1, 1), acl="hyperloglog",
         group="hyperloglog", since="2.8.9",
         summary="Adds the specified elements to the specified HyperLogLog.",
         complexity="O(1) to add every element.",
         args="key:k0 [element...]")
def pfadd(client, args):
    db = client.db
    key = args[1]
    value = db.get(key)
    created = value is None
    if created:
        value = hll.new_sparse()
        db.add(key, value)
    else:
        value = _unshared(db, key, _checked(value))
    updated, corrupted = hll.add(value, args[2:], _sparse_max(client))
    if corrupted:
        raise CommandError(INVALID)
    updated += created
    if updated:
        db.modified(key)
        engine = client.engine
        engine.notify(db, "$", b"pfadd", key)
        engine.dirty += updated
        hll.invalidate(value)
        return 1
    return 0


def _merged_registers(client, keys) -> tuple[bytes, bool]:
    """The registerwise max of the HyperLogLogs at `keys` (missing keys are empty),
    and whether one of them was dense. Looked up as reads (keyspace hits/misses)."""
    db = client.db
    engine = client.engine
    raw = bytes(hll.REGISTERS)
    any_dense = False
    reading = engine.reading
    engine.reading = True
    try:
        for key in keys:
            value = db.get(key)
            if value is None:
                continue
            _checked(value)
            any_dense = any_dense or value[4] == hll.DENSE
            try:
                regs = hll.registers(value)
            except hll.Corrupted:
                raise CommandError(INVALID) from None
            raw = hll.max_registers(raw, regs)
    finally:
        engine.reading = reading
    return raw, any_dense


@command("pfcount", arity=-2, flags="readonly may_replicate", keys=(1, -1, 1),
         acl="hyperloglog", group="hyperloglog", since="2.8.9",
         summary="Return the approximated cardinality of the set(s) observed by the "
                 "HyperLogLog at key(s).",
         complexity="O(1) with a very small average constant time when called with a single "
                    "key. O(N) with N being the number of keys, and much bigger constant "
                    "times, when called with multiple keys.",
         args="key:k0...")
def pfcount(client, args):
    if len(args) > 2:
        raw, _ = _merged_registers(client, args[1:])
        return hll.estimate(hll.raw_histogram(raw))
    db = client.db
    key = args[1]
    value = db.get(key)
    if value is None:
        return 0
    value = _unshared(db, key, _checked(value))
    card = hll.cached_count(value)
    if card is None:
        try:
            card = hll.count(value)
        except hll.Corrupted:
            raise CommandError(INVALID) from None
        hll.store_count(value, card)
        db.modified(key)
        client.engine.dirty += 1
    return card


@command("pfmerge", arity=-2, flags="write denyoom", keys=(1, -1, 1), acl="hyperloglog",
         group="hyperloglog", since="2.8.9",
         summary="Merge N different HyperLogLogs into a single one.",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
         args="destkey:k0 sourcekey:k1...")
def pfmerge(client, args):
    # The destination is one of the sources: its own registers are part of the max.
    raw, any_dense = _merged_registers(client, args[1:])
    db = client.db
    key = args[1]
    value = db.get(key)
    if value is None:
        value = hll.new_sparse()
        db.add(key, value)
    else:
        value = _unshared(db, key, value)
    hll.merge_into(value, raw, any_dense, _sparse_max(client))
    db.modified(key)
    engine = client.engine
    engine.notify(db, "$", b"pfadd", key)
    engine.dirty += 1
    return OK


@command("pfdebug", arity=3, flags="write denyoom admin", keys=(2, 2, 1), acl="hyperloglog",
         group="hyperloglog", since="2.8.9",
         summary="Internal commands for debugging HyperLogLog values", complexity="N/A",
         args="subcommand key:k0",
         doc_flags="syscmd")
def pfdebug(client, args):
    db = client.db
    key = args[2]
    value = db.get(key)
    if value is None:
        raise CommandError("ERR The specified key does not exist")
    value = _unshared(db, key, _checked(value))
    sub = args[1].lower()
    if sub in (b"getreg", b"todense"):
        converted = value[4] == hll.SPARSE
        if converted:
            try:
                hll.to_dense(value)
            except hll.Corrupted:
                raise CommandError(INVALID) from None
            client.engine.dirty += 1
        if sub == b"todense":
            return int(converted)
        return list(hll.registers(value))
    if sub == b"decode":
        if value[4] != hll.SPARSE:
            raise CommandError("ERR HLL encoding is not sparse")
        return hll.Sparse(value).decode()
    if sub == b"encoding":
        return Status("dense" if value[4] == hll.DENSE else "sparse")
    name = args[1].split(b"\0", 1)[0].decode("utf-8", "replace")
    raise CommandError(f"ERR Unknown PFDEBUG subcommand '{name}'")


# PFSELFTEST's checks at the cardinalities Redis checks, up to this one: Redis adds
# ten million elements, which would block a Python server for minutes.
SELFTEST_MAX = 100_000


@command("pfselftest", arity=1, flags="admin", acl="hyperloglog", group="hyperloglog",
         since="2.8.9", summary="An internal command for testing HyperLogLog values",
         complexity="N/A",
         doc_flags="syscmd")
def pfselftest(client, args):
    """Redis's self-test, shortened: register access (packing and reading 6-bit
    registers against a plain array), sparse and dense values agreeing while the
    sparse one stays sparse, and the estimate's error within six standard errors."""
    rng = random.Random()
    for _ in range(4):
        expected = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
        dense = bytearray(hll.HDR) + hll.pack(expected)
        for i in range(0, hll.REGISTERS, 7):
            got = hll.dense_get(dense, i)
            if got != expected[i]:
                raise CommandError(f"TESTFAILED Register {i} should be {expected[i]} "
                                   f"but is {got}")
        if hll.registers(dense) != expected:
            raise CommandError("TESTFAILED registers do not round-trip")
    dense = bytearray(hll.new_sparse()[:hll.HDR]) + bytes(hll.DENSE_BYTES)
    dense[4] = hll.DENSE
    sparse = hll.new_sparse()
    max_bytes = _sparse_max(client)
    relerr = 1.04 / hll.REGISTERS ** 0.5
    seed = rng.getrandbits(64)
    done = 0
    checkpoint = 1
    while checkpoint <= SELFTEST_MAX:
        batch = [((j ^ seed) & hll.MASK64).to_bytes(8, "little")
                 for j in range(done + 1, checkpoint + 1)]
        hll.add(dense, batch, max_bytes)
        hll.add(sparse, batch, max_bytes)
        done = checkpoint
        if checkpoint < max_bytes / 2 and sparse[4] != hll.SPARSE:
            raise CommandError("TESTFAILED sparse encoding not used")
        estimate = hll.count(dense)
        if estimate != hll.count(sparse):
            raise CommandError("TESTFAILED dense/sparse disagree")
        maxerr = 1 if checkpoint == 10 else math.ceil(relerr * 6 * checkpoint)
        abserr = abs(checkpoint - estimate)
        if abserr > maxerr:
            raise CommandError(f"TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}")
        checkpoint *= 10
    return OK
