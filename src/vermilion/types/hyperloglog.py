# cython: infer_types=False
# (Compiled: no local type is inferred from an assignment; pack() assigns bytes into
# bytearray slices, which the inferred form refuses.)
"""HyperLogLog values in Redis's own byte layout (hyperloglog.c of Redis 7.0), without I/O.

A HyperLogLog is a string: a 16-byte header and then the registers.

    "HYLL" | encoding (0 dense, 1 sparse) | 3 zero bytes | cached cardinality (8 bytes LE)

The cached cardinality's top bit (bit 7 of byte 15) marks it stale; PFCOUNT of one
key recomputes it and writes it back. There are 16384 registers (the low 14 bits of
MurmurHash64A(element, seed 0xadc83b19) pick one), each holding the length of the
run of zeros in the other 50 bits plus one, at most 51.

* dense: 12288 bytes, register i in bits 6i..6i+5 counting from the least
  significant bit of the first byte, so the string is 12304 bytes long;
* sparse: a run-length code of opcodes, ZERO ``00xxxxxx`` (1..64 zero registers),
  XZERO ``01xxxxxx yyyyyyyy`` (1..16384 zero registers), VAL ``1vvvvvxx`` (1..4
  registers holding 1..32). A new HyperLogLog is sparse, one XZERO.

The sparse bytes depend on the order of the updates (splits and merges happen
locally, as Redis does them), so every update below reproduces Redis's exact steps
(hllSparseSet) and the stored bytes stay identical to what redis-server would hold
after the same commands. Estimates use Ertl's improved estimator (hllCount) with
the same floating-point operations in the same order, so they round identically.

Speed: registers are unpacked to one byte each (``raw``) with ``bytes.translate`` on
the three byte lanes of the dense array, and unpacked lanes are recombined with
big-integer additions (the bit fields never overlap, so no carry crosses a byte);
a sparse value is split into its opcodes once per command with a regular
expression, and an opcode is found by bisecting the running register count.
"""
from __future__ import annotations

import math
import re
import struct
from bisect import bisect_right
from collections import Counter
from itertools import accumulate

MAGIC = b"HYLL"
DENSE, SPARSE = 0, 1
HDR = 16
P = 14
Q = 64 - P
REGISTERS = 1 << P
DENSE_BYTES = REGISTERS * 6 // 8
DENSE_SIZE = HDR + DENSE_BYTES
SEED = 0xADC83B19
ALPHA_INF = 0.721347520444481703680     # 0.5 / ln(2)

_M = 0xC6A4A7935BD1E995
_MASK = MASK64 = (1 << 64) - 1
# The same constants for the hashing and dense register code: compiled, C
# constants (hyperloglog.pxd), not module lookups.
_P = P
_REGISTERS = REGISTERS
_Q_BIT = 1 << Q
_HDR = HDR
_VAL_MAX_VALUE = 32
_VAL_MAX_LEN = 4
_ZERO_MAX_LEN = 64


class Corrupted(Exception):
    """The sparse opcodes do not describe exactly 16384 registers (INVALIDOBJ).

    Every reader refuses opcodes running past register 16384, as redis-server
    7.0.15 does with the CVE-2025-32023 fix that distributions ship (before it, a
    VAL past the end stopped a merge without an error)."""


# -- hashing -------------------------------------------------------------------------------------


def murmurhash64a(data: bytes, seed: int = SEED) -> int:
    """MurmurHash2, 64-bit, little-endian reads (Redis's endian-neutral MurmurHash64A).

    Compiled (hyperloglog.pxd), every variable is a C unsigned 64-bit integer, whose
    arithmetic wraps as the masks below make Python's do."""
    if type(data) is not bytes:
        data = bytes(data)
    b = data
    n = len(data)
    m = _M
    mask = _MASK
    h = (seed ^ ((n * m) & mask)) & mask
    end = n - (n & 7)
    p = 0
    while p < end:
        k = 0
        i = p + 7
        while i >= p:             # 8 bytes, little-endian
            k = k << 8 | b[i]
            i -= 1
        k = (k * m) & mask
        k ^= k >> 47
        h ^= (k * m) & mask
        h = (h * m) & mask
        p += 8
    if p < n:
        k = 0
        i = n - 1
        while i >= p:
            k = k << 8 | b[i]
            i -= 1
        h ^= k
        h = (h * m) & mask
    h ^= h >> 47
    h = (h * m) & mask
    return h ^ (h >> 47)


def pattern(element: bytes) -> tuple[int, int]:
    """(register index, run length) of an element: hllPatLen."""
    h = murmurhash64a(element, SEED)
    index = h & (_REGISTERS - 1)
    h = h >> _P | _Q_BIT          # the bit above the 50 counted: the run stops there
    run = 1
    while not h & 1:
        h >>= 1
        run += 1
    return index, run


# -- header --------------------------------------------------------------------------------------


_CARD = struct.Struct("<Q")


def new_sparse() -> bytearray:
    """An empty HyperLogLog as PFADD creates it: sparse, one XZERO, cached cardinality 0."""
    return bytearray(MAGIC + bytes((SPARSE, 0, 0, 0)) + bytes(8) + b"\x7f\xff")


def is_hll(value) -> bool:
    """isHLLObjectOrReply's test of a string value."""
    n = len(value)
    return n >= HDR and value.startswith(MAGIC) and (
        value[4] == SPARSE or (value[4] == DENSE and n == DENSE_SIZE))


def cached_count(value) -> int | None:
    """The cached cardinality, or None when it is marked stale."""
    if value[15] & 0x80:
        return None
    return _CARD.unpack_from(value, 8)[0]


def invalidate(value: bytearray) -> None:
    value[15] |= 0x80


# -- sparse opcodes ------------------------------------------------------------------------------

# One opcode per match; a lone XZERO first byte can only be the last byte (Redis then
# reads the string's terminating zero as its second byte).
_OPCODE = re.compile(rb"[\x40-\x7f][\x00-\xff]|[\x00-\x3f\x80-\xff]|[\x40-\x7f]", re.DOTALL)

class _Spans(dict):
    """Registers an opcode covers; two-byte XZERO opcodes are added when first seen."""

    def __missing__(self, op: bytes) -> int:
        span = (((op[0] & 0x3F) << 8) | op[1]) + 1
        if len(self) < 4096:
            self[op] = span
        return span


_SPAN = _Spans()
_EXPAND: dict[bytes, bytes] = {}  # one-byte opcodes as raw registers
for _b in range(256):
    _t = bytes((_b,))
    if _b & 0x80:
        _SPAN[_t] = (_b & 3) + 1
        _EXPAND[_t] = bytes((((_b >> 2) & 31) + 1,)) * _SPAN[_t]
    elif _b & 0x40:
        _SPAN[_t] = ((_b & 0x3F) << 8) + 1   # the last byte, read with the zero after it
    else:
        _SPAN[_t] = _b + 1
        _EXPAND[_t] = bytes(_b + 1)
# _VAL[value][length]: the VAL opcode (value 1..32, length 1..4).
_VAL = [[]] + [[b""] + [bytes((0x80 | (v - 1) << 2 | (n - 1),)) for n in range(1, 5)]
               for v in range(1, _VAL_MAX_VALUE + 1)]


# The opcodes of recently updated sparse values, so that a run of PFADDs to one key
# does not split the same bytes again each time: id(value) -> (value, its body
# when cached, Sparse). An entry is used only while the value is the same object
# with the same bytes and no update of the Sparse is pending, so nothing can make
# it stale.
_RECENT: dict[int, tuple] = {}
_RECENT_MAX = 32


def sparse_of(value) -> Sparse:
    """The opcodes of a sparse value (from _RECENT when its bytes are unchanged)."""
    entry = _RECENT.get(id(value))
    if entry is not None and entry[0] is value and not entry[2].changed \
            and entry[1] == value[HDR:]:
        return entry[2]
    sparse = Sparse(value)
    _remember(value, sparse, None)
    return sparse


def _remember(value, sparse: Sparse, body: bytes | None) -> None:
    if value.__class__ is not bytearray or sparse.tail:
        return
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.clear()
    _RECENT[id(value)] = (value, bytes(value[HDR:]) if body is None else body, sparse)


_MAX_BODY = 2 * REGISTERS + 64


def _zero_run(n: int) -> bytes:
    if n > _ZERO_MAX_LEN:
        n -= 1
        return bytes((0x40 | n >> 8, n & 0xFF))
    return bytes((n - 1,))


def _expand(op: bytes) -> bytes:
    raw = _EXPAND.get(op)
    return raw if raw is not None else bytes(_SPAN[op])


class Sparse:
    """The opcodes of a sparse value, split out for a command's updates.

    ``starts[i]`` is the first register of opcode i (``starts[-1]`` the total),
    ``size`` the length the encoded string has (header included).

    A valid body has at most 16384 opcodes (32768 bytes). Past that, only the
    opcodes that cover the 16384 registers and a few more (an update touches at
    most five opcodes from the one before its own) are split out; the rest is
    kept as bytes in ``tail`` and makes the value corrupted for every reader.
    """

    __slots__ = ("ops", "starts", "size", "changed", "tail")

    def __init__(self, value):
        body = bytes(value[HDR:])
        self.tail = b""
        if len(body) <= _MAX_BODY:
            self.ops = _OPCODE.findall(body)
            self.starts = list(accumulate(map(_SPAN.__getitem__, self.ops), initial=0))
        else:
            # The last match of the slice may be an opcode the slice cut in two.
            ops = _OPCODE.findall(body, 0, _MAX_BODY)[:-1]
            starts = list(accumulate(map(_SPAN.__getitem__, ops), initial=0))
            keep = bisect_right(starts, REGISTERS) + 8
            del ops[keep:], starts[keep + 1:]
            self.ops, self.starts = ops, starts
            self.tail = body[sum(map(len, ops)):]
        self.size = len(value)
        self.changed = False

    def body(self) -> bytes:
        return b"".join(self.ops) + self.tail if self.tail else b"".join(self.ops)

    def set(self, index: int, count: int, max_bytes: int) -> int:
        """hllSparseSet: 1 updated, 0 not needed, -1 corrupted, 2 promote to dense
        (a value above 32, or the string would grow past hll-sparse-max-bytes)."""
        if count > _VAL_MAX_VALUE:
            return 2
        ops, starts = self.ops, self.starts
        k = bisect_right(starts, index) - 1
        if k >= len(ops):
            return -1
        op = ops[k]
        b = op[0]
        first = starts[k]
        span = starts[k + 1] - first
        if b & 0x80 and ((b >> 2) & 31) + 1 >= count:
            return 0
        xzero = (b & 0xC0) == 0x40
        if span == 1 and not xzero:
            ops[k] = _VAL[count][1]          # a single VAL or ZERO: rewrite in place
        else:
            last = first + span - 1
            seq, seq_starts = [], []
            if b & 0x80:
                cur = ((b >> 2) & 31) + 1
                if index != first:
                    seq.append(_VAL[cur][index - first])
                    seq_starts.append(first)
                seq.append(_VAL[count][1])
                seq_starts.append(index)
                if index != last:
                    seq.append(_VAL[cur][last - index])
                    seq_starts.append(index + 1)
            else:
                if index != first:
                    seq.append(_zero_run(index - first))
                    seq_starts.append(first)
                seq.append(_VAL[count][1])
                seq_starts.append(index)
                if index != last:
                    seq.append(_zero_run(last - index))
                    seq_starts.append(index + 1)
            delta = sum(map(len, seq)) - (2 if xzero else 1)
            if delta > 0 and self.size + delta > max_bytes:
                return 2
            ops[k:k + 1] = seq
            starts[k:k + 1] = seq_starts
            self.size += delta
        # Merge adjacent VALs of equal value, scanning up to 5 opcodes from the one
        # before the change (Redis's step 4; a merge also uses up one step).
        i = k - 1 if k > 0 else 0
        n = len(ops)
        steps = 5
        while steps and i < n:
            steps -= 1
            a = ops[i][0]
            if a & 0x80 and i + 1 < n:
                c = ops[i + 1][0]
                if c & 0x80 and (a & 0x7C) == (c & 0x7C) and (a & 3) + (c & 3) + 2 <= _VAL_MAX_LEN:
                    ops[i] = _VAL[((a >> 2) & 31) + 1][(a & 3) + (c & 3) + 2]
                    del ops[i + 1]
                    del starts[i + 1]
                    self.size -= 1
                    n -= 1
                    continue
            i += 1
        self.changed = True
        return 1

    def registers(self) -> bytes:
        """The registers, one byte each (hllSparseToDense, hllMerge)."""
        if self.starts[-1] != REGISTERS or self.tail:
            raise Corrupted
        return b"".join(map(_expand, self.ops))

    def histogram(self) -> list[int]:
        """hllSparseRegHisto."""
        if self.starts[-1] != REGISTERS or self.tail:
            raise Corrupted
        hist = [0] * 64
        for op, times in Counter(self.ops).items():
            b = op[0]
            value = ((b >> 2) & 31) + 1 if b & 0x80 else 0
            hist[value] += _SPAN[op] * times
        return hist

    def decode(self) -> bytes:
        """PFDEBUG DECODE's text."""
        words = []
        ops = self.ops if not self.tail else _OPCODE.findall(self.body())
        for op in ops:
            b = op[0]
            if b & 0x80:
                words.append(b"v:%d,%d" % (((b >> 2) & 31) + 1, (b & 3) + 1))
            elif b & 0x40:
                words.append(b"Z:%d" % _SPAN[op])
            else:
                words.append(b"z:%d" % (b + 1))
        return b" ".join(words)


# -- dense registers -----------------------------------------------------------------------------

def _table(f) -> bytes:
    return bytes(f(b) & 0xFF for b in range(256))


_LO6 = _table(lambda b: b & 63)
_HI2 = _table(lambda b: b >> 6)
_LO4_UP2 = _table(lambda b: (b & 15) << 2)
_HI4 = _table(lambda b: b >> 4)
_LO2_UP4 = _table(lambda b: (b & 3) << 4)
_HI6 = _table(lambda b: b >> 2)
_LO2_UP6 = _table(lambda b: (b & 3) << 6)
_UP4 = _table(lambda b: (b & 15) << 4)
_UP2 = _table(lambda b: b << 2)
_LANE = REGISTERS // 4


def _add_lanes(a: bytes, b: bytes) -> bytes:
    """Bytewise a + b where no byte sum exceeds 255 (disjoint bit fields)."""
    return (int.from_bytes(a, "little") + int.from_bytes(b, "little")).to_bytes(len(a), "little")


def unpack(dense) -> bytes:
    """The 16384 dense registers (12288 bytes, header excluded) as one byte each."""
    b0, b1, b2 = dense[0::3], dense[1::3], dense[2::3]
    raw = bytearray(REGISTERS)
    raw[0::4] = b0.translate(_LO6)
    raw[1::4] = _add_lanes(b0.translate(_HI2), b1.translate(_LO4_UP2))
    raw[2::4] = _add_lanes(b1.translate(_HI4), b2.translate(_LO2_UP4))
    raw[3::4] = b2.translate(_HI6)
    return bytes(raw)


def pack(raw: bytes) -> bytes:
    """unpack's inverse (every register below 64)."""
    r0, r1, r2, r3 = raw[0::4], raw[1::4], raw[2::4], raw[3::4]
    out = bytearray(DENSE_BYTES)
    out[0::3] = _add_lanes(r0, r1.translate(_LO2_UP6))
    out[1::3] = _add_lanes(r1.translate(_HI6), r2.translate(_UP4))
    out[2::3] = _add_lanes(r2.translate(_HI4), r3.translate(_UP2))
    return bytes(out)



def dense_get(value, index: int) -> int:
    pos = index * 6
    byte = HDR + (pos >> 3)
    fb = pos & 7
    if fb <= 2:
        return (value[byte] >> fb) & 63
    return ((value[byte] >> fb) | (value[byte + 1] << (8 - fb))) & 63


def dense_set(value: bytearray, index: int, count: int) -> int:
    """hllDenseSet: raise register `index` to `count`; 1 if it grew."""
    pos = index * 6
    byte = _HDR + (pos >> 3)
    fb = pos & 7
    b0 = value[byte]
    if fb <= 2:
        if count <= (b0 >> fb) & 63:
            return 0
        value[byte] = (b0 & ~(63 << fb)) | (count << fb)
        return 1
    b1 = value[byte + 1]
    if count <= ((b0 >> fb) | (b1 << (8 - fb))) & 63:
        return 0
    value[byte] = (b0 & ~(63 << fb) & 0xFF) | ((count << fb) & 0xFF)
    value[byte + 1] = (b1 & ~(63 >> (8 - fb))) | (count >> (8 - fb))
    return 1


# Unpacked registers and their histogram for recently read dense values, so that
# PFCOUNT after PFADD does not unpack and count 16384 registers again:
# id(value) -> [value, copy of its registers' bytes, raw registers, histogram].
# The raw registers and the histogram always describe the copy: PFADD's updates
# are applied to both (_mirror). An entry is used only while the copy equals the
# value's bytes, so a change made any other way (SETRANGE ...) is never missed.
_DENSE_RECENT: dict[int, list] = {}


def _dense_entry(value) -> list:
    entry = _DENSE_RECENT.get(id(value))
    if entry is not None and entry[0] is value and entry[1] == value[HDR:]:
        return entry
    body = bytes(value[HDR:])
    raw = unpack(body)
    entry = [value, bytearray(body), bytearray(raw), raw_histogram(raw)]
    if value.__class__ is bytearray:
        if len(_DENSE_RECENT) >= _RECENT_MAX:
            _DENSE_RECENT.clear()
        _DENSE_RECENT[id(value)] = entry
    return entry


def _mirror(entry: list, index: int, count: int) -> None:
    """Register `index` of a cached copy becomes `count` (as dense_set wrote it)."""
    copy, raw, hist = entry[1], entry[2], entry[3]
    pos = index * 6
    byte = pos >> 3
    fb = pos & 7
    copy[byte] = (copy[byte] & ~(63 << fb) & 0xFF) | ((count << fb) & 0xFF)
    if fb > 2:
        copy[byte + 1] = (copy[byte + 1] & ~(63 >> (8 - fb))) | (count >> (8 - fb))
    hist[raw[index]] -= 1
    hist[count] += 1
    raw[index] = count


def registers(value) -> bytes:
    """The registers of a valid-looking HyperLogLog, one byte each (Corrupted if sparse
    and malformed)."""
    if value[4] == DENSE:
        return bytes(_dense_entry(value)[2])
    return Sparse(value).registers()


def to_dense(value: bytearray, sparse: Sparse | None = None) -> None:
    """hllSparseToDense, in place: the header (cached cardinality included) is kept."""
    raw = (sparse or Sparse(value)).registers()
    value[HDR:] = pack(raw)
    value[4] = DENSE


# -- merging -------------------------------------------------------------------------------------

_H80 = int.from_bytes(b"\x80" * REGISTERS, "little")


def max_registers(a: bytes, b: bytes) -> bytes:
    """Bytewise max of two register arrays (values below 64): a SWAR compare, where
    (a | 0x80) - b keeps bit 7 of each byte exactly when a >= b."""
    x = int.from_bytes(a, "little")
    y = int.from_bytes(b, "little")
    ge = (((x | _H80) - y) & _H80) >> 7
    mask = ge * 255
    return ((x & mask) | (y & ~mask)).to_bytes(REGISTERS, "little")


# -- estimating ----------------------------------------------------------------------------------

_BYTE = [bytes((v,)) for v in range(256)]


def raw_histogram(raw: bytes) -> list[int]:
    """hllRawRegHisto. A value's count costs a pass over the registers: values
    absent are skipped with a find (memchr), and the values above the largest
    one present are never looked at."""
    hist = [0] * 64
    left = len(raw)
    for v in range(64):
        if raw.find(_BYTE[v]) < 0:
            continue
        n = raw.count(v)
        hist[v] = n
        left -= n
        if not left:
            break
    return hist


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_prev = z
        z += x * y
        y += y
        if z_prev == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        z_prev = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if z_prev == z:
            return z / 3


def estimate(hist: list[int]) -> int:
    """hllCount's estimate from the register histogram, rounded half away from zero
    as llroundl does."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[Q + 1]) / m)
    for j in range(Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = ALPHA_INF * m * m / z
    whole = math.floor(e)
    return int(whole) + (1 if e - whole >= 0.5 else 0)


def count(value) -> int:
    """The estimate of one HyperLogLog (Corrupted if sparse and malformed)."""
    if value[4] == DENSE:
        return estimate(_dense_entry(value)[3])
    return estimate(sparse_of(value).histogram())


def store_count(value: bytearray, card: int) -> None:
    _CARD.pack_into(value, 8, card)


# -- adding --------------------------------------------------------------------------------------

def add(value: bytearray, elements, max_bytes: int) -> tuple[int, bool]:
    """PFADD's updates of `value` in place: (registers changed, corrupted).

    A sparse value is promoted to dense when a run reaches 33 or an update would
    make it longer than `max_bytes`. On a corrupted sparse value the updates made
    before the failing element stay, as they do in Redis.
    """
    updated = 0
    sparse = sparse_of(value) if value[4] == SPARSE else None
    cached = _DENSE_RECENT.get(id(value))
    if cached is not None and cached[0] is not value:
        cached = None
    for element in elements:
        index, run = pattern(element)
        if sparse is None:
            if dense_set(value, index, run):
                updated += 1
                if cached is not None:
                    _mirror(cached, index, run)
            continue
        result = sparse.set(index, run, max_bytes)
        if result == 2:
            _flush(value, sparse)
            try:
                to_dense(value, sparse)
            except Corrupted:
                return updated, True
            sparse = None
            dense_set(value, index, run)
            updated += 1
        elif result < 0:
            _flush(value, sparse)
            return updated, True
        else:
            updated += result
    if sparse is not None:
        _flush(value, sparse)
    return updated, False


def _flush(value: bytearray, sparse: Sparse) -> None:
    if sparse.changed:
        body = sparse.body()
        value[HDR:] = body
        invalidate(value)
        sparse.changed = False
        _remember(value, sparse, body)


def merge_into(value: bytearray, raw: bytes, to_dense_first: bool, max_bytes: int) -> None:
    """PFMERGE's write of the merged registers `raw` into the destination `value`
    (whose own registers are already part of `raw`)."""
    if to_dense_first and value[4] == SPARSE:
        to_dense(value)
    if value[4] == SPARSE:
        sparse = Sparse(value)
        for match in re.finditer(rb"[^\x00]", raw):
            index = match.start()
            if sparse.set(index, raw[index], max_bytes) == 2:
                _flush(value, sparse)
                to_dense(value, sparse)
                break
        else:
            _flush(value, sparse)
            invalidate(value)
            return
    # Every register ends at its merged value, since the destination's own
    # registers never exceed it.
    value[HDR:] = pack(raw)
    invalidate(value)
