"""Bitmap commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD.

Bit 0 is the most significant bit of the first byte, as in Redis. Writers turn the
value into a ``bytearray`` (OBJECT ENCODING ``raw``) and zero-extend it as needed.
Counting and searching work on whole ranges through ``int.from_bytes`` and
``int.bit_count`` / ``int.bit_length``, so no Python loop ever runs per bit or byte.

Like Redis 7.0.15, SETBIT and BITFIELD count as a change (dirty, keyspace event,
propagation) only when they created or grew the string or changed a bit; a BITFIELD
whose every write failed with OVERFLOW FAIL still leaves a newly created key behind.
"""
from __future__ import annotations

from ..engine.errors import NOT_INTEGER, SYNTAX, WRONGTYPE, CommandError
from ..engine.table import command
from ._args import parse_int
from .strings import c_string

BIT_OFFSET_ERR = "ERR bit offset is not an integer or out of range"
BIT_VALUE_ERR = "ERR bit is not an integer or out of range"
BITFIELD_TYPE_ERR = ("ERR Invalid bitfield type. Use something like i16 u8. "
                     "Note that u64 is not supported but i64 is.")

_U64 = 1 << 64


def _is_string(value) -> bool:
    return value.__class__ is bytes or value.__class__ is bytearray


def _string_or_none(db, key):
    value = db.get(key)
    if value is None or _is_string(value):
        return value
    raise CommandError(WRONGTYPE)


def _wrap64(n: int) -> int:
    """A C int64 after overflow (two's complement wrap)."""
    return (n + (1 << 63)) % _U64 - (1 << 63)


def _bit_offset(client, arg: bytes, hash_ok: bool = False, bits: int = 0) -> int:
    """Redis's getBitOffsetFromArgument; ``#N`` means N * bits where hash_ok (BITFIELD)."""
    use_hash = hash_ok and bits > 0 and arg[:1] == b"#"
    try:
        offset = parse_int(arg[1:] if use_hash else arg)
    except CommandError:
        raise CommandError(BIT_OFFSET_ERR) from None
    if use_hash:
        offset = _wrap64(offset * bits)
    if offset < 0 or (offset >> 3) >= client.engine.config["proto-max-bulk-len"]:
        raise CommandError(BIT_OFFSET_ERR)
    return offset


def _writable(client, key: bytes, max_bit: int):
    """Redis's lookupStringForBitCommand: the bytearray to change, and whether it
    was created or grown (either counts as a change by itself)."""
    db = client.db
    value = _string_or_none(db, key)
    size = (max_bit >> 3) + 1
    if value is None:
        value = bytearray(size)
        db.add(key, value)
        return value, True
    if value.__class__ is bytes:
        # Only the representation changes (Redis unshares the string into a raw
        # sds): not a write by itself, so watchers are told only if bits change.
        value = bytearray(value)
        db.replace(key, value)
    grown = len(value) < size
    if grown:
        db.grew(len(value), size)
        value.extend(bytes(size - len(value)))
    return value, grown


# -- SETBIT / GETBIT -----------------------------------------------------------------------------


@command("setbit", arity=4, flags="write denyoom", keys=(1, 1, 1), acl="bitmap", group="bitmap",
         since="2.2.0", summary="Sets or clears the bit at offset in the string value stored at key",
         complexity="O(1)",
         args="key:k0 offset:i value:i")
def setbit(client, args):
    offset = _bit_offset(client, args[2])
    on = parse_int(args[3], BIT_VALUE_ERR)
    if on & ~1:
        raise CommandError(BIT_VALUE_ERR)
    key = args[1]
    value, changed = _writable(client, key, offset)
    byte, shift = offset >> 3, 7 - (offset & 7)
    old = (value[byte] >> shift) & 1
    if changed or old != on:
        value[byte] = (value[byte] & ~(1 << shift)) | (on << shift)
        db = client.db
        db.modified(key)
        engine = client.engine
        engine.notify(db, "$", b"setbit", key)
        engine.dirty += 1
    return old


@command("getbit", arity=3, flags="readonly fast", keys=(1, 1, 1), acl="bitmap", group="bitmap",
         since="2.2.0", summary="Returns the bit value at offset in the string value stored at key",
         complexity="O(1)",
         args="key:k0 offset:i")
def getbit(client, args):
    offset = _bit_offset(client, args[2])
    value = _string_or_none(client.db, args[1])
    byte = offset >> 3
    if value is None or byte >= len(value):
        return 0
    return (value[byte] >> (7 - (offset & 7))) & 1


# -- BITCOUNT / BITPOS ---------------------------------------------------------------------------


def _bits_of(value, first: int, last: int) -> tuple[int, int]:
    """Bits first..last (inclusive, bit 0 = MSB of byte 0) as (integer, width)."""
    lo, hi = first >> 3, last >> 3
    chunk = int.from_bytes(memoryview(value)[lo:hi + 1], "big")
    tail = 7 - (last & 7)
    width = last - first + 1
    return (chunk >> tail) & ((1 << width) - 1), width


def _unit(arg: bytes) -> bool:
    """BYTE or BIT (the optional last argument): True for BIT."""
    unit = c_string(arg).upper()
    if unit == b"BIT":
        return True
    if unit == b"BYTE":
        return False
    raise CommandError(SYNTAX)


@command("bitcount", arity=-2, flags="readonly", keys=(1, 1, 1), acl="bitmap", group="bitmap",
         since="2.6.0", summary="Count set bits in a string", complexity="O(N)",
         args="key:k0 [index(start:i end:i [index_unit(BYTE|BIT)@7.0.0])]")
def bitcount(client, args):
    # Redis 7.0 looks the key up before parsing the range: a missing key is 0
    # whatever the arguments.
    value = _string_or_none(client.db, args[1])
    if value is None:
        return 0
    size = len(value)
    n = len(args)
    if n == 2:
        return int.from_bytes(value, "big").bit_count()
    if n not in (4, 5):
        raise CommandError(SYNTAX)
    start, end = parse_int(args[2]), parse_int(args[3])
    if start < 0 and end < 0 and start > end:
        return 0
    is_bit = _unit(args[4]) if n == 5 else False
    total = size * 8 if is_bit else size
    if start < 0:
        start = max(total + start, 0)
    if end < 0:
        end = max(total + end, 0)
    if end >= total:
        end = total - 1
    if start > end:
        return 0
    if not is_bit:
        start, end = start * 8, end * 8 + 7
    return _bits_of(value, start, end)[0].bit_count()


@command("bitpos", arity=-3, flags="readonly", keys=(1, 1, 1), acl="bitmap", group="bitmap",
         since="2.8.7", summary="Find first bit set or clear in a string", complexity="O(N)",
         args="key:k0 bit:i [index(start:i [end_index(end:i [index_unit(BYTE|BIT)@7.0.0])])]")
def bitpos(client, args):
    bit = parse_int(args[2])
    if bit != 0 and bit != 1:
        raise CommandError("ERR The bit argument must be 1 or 0.")
    value = client.db.get(args[1])
    if value is None:
        # A missing key is an endless run of zero bits.
        return -1 if bit else 0
    if not _is_string(value):
        raise CommandError(WRONGTYPE)
    size = len(value)
    n = len(args)
    end_given = False
    is_bit = False
    if n == 3:
        start, end = 0, size - 1
    elif n <= 6:
        start = parse_int(args[3])
        if n == 6:
            is_bit = _unit(args[5])
        total = size * 8 if is_bit else size
        if n >= 5:
            end = parse_int(args[4])
            end_given = True
        else:
            end = total - 1
        if start < 0:
            start = max(total + start, 0)
        if end < 0:
            end = max(total + end, 0)
        if end >= total:
            end = total - 1
    else:
        raise CommandError(SYNTAX)
    if start > end:
        return -1
    if not is_bit:
        start, end = start * 8, end * 8 + 7
    chunk, width = _bits_of(value, start, end)
    if bit == 0:
        chunk ^= (1 << width) - 1
    if chunk:
        return start + width - chunk.bit_length()
    if bit == 1 or end_given:
        return -1
    # Looking for a clear bit with no explicit end: the string continues with zeros.
    return end + 1


# -- BITOP -----------------------------------------------------------------------------------------

_NOT_TABLE = bytes(255 - i for i in range(256))


@command("bitop", arity=-4, flags="write denyoom", keys=(2, -1, 1), acl="bitmap", group="bitmap",
         since="2.6.0", summary="Perform bitwise operations between strings", complexity="O(N)",
         args="operation destkey:k0 key:k1...")
def bitop(client, args):
    op = c_string(args[1]).upper()
    if op not in (b"AND", b"OR", b"XOR", b"NOT"):
        raise CommandError(SYNTAX)
    if op == b"NOT" and len(args) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = client.db
    sources = []
    for key in args[3:]:
        value = _string_or_none(db, key)
        sources.append(b"" if value is None else value)
    size = max(len(s) for s in sources)
    engine = client.engine
    dest = args[2]
    if size == 0:
        if db.delete(dest):
            engine.notify(db, "g", b"del", dest)
            engine.dirty += 1
        return 0
    if op == b"NOT":
        result = bytearray(bytes(sources[0]).translate(_NOT_TABLE))
    else:
        # Shorter strings are zero-padded on the right, i.e. the big-endian
        # integers are shifted left to the common length.
        numbers = [int.from_bytes(s, "big") << (8 * (size - len(s))) for s in sources]
        acc = numbers[0]
        if op == b"AND":
            for x in numbers[1:]:
                acc &= x
        elif op == b"OR":
            for x in numbers[1:]:
                acc |= x
        else:
            for x in numbers[1:]:
                acc ^= x
        result = bytearray(acc.to_bytes(size, "big"))
    db.set(dest, result)
    engine.notify(db, "$", b"set", dest)
    engine.dirty += 1
    return size


# -- BITFIELD --------------------------------------------------------------------------------------

_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OVERFLOW_TYPES = {b"WRAP": _WRAP, b"SAT": _SAT, b"FAIL": _FAIL}


def _bitfield_type(arg: bytes) -> tuple[bool, int]:
    """``i<bits>`` (1..64) or ``u<bits>`` (1..63), lower case only: (signed, bits)."""
    arg = c_string(arg)
    kind = arg[:1]
    if kind not in (b"i", b"u"):
        raise CommandError(BITFIELD_TYPE_ERR)
    try:
        bits = parse_int(arg[1:])
    except CommandError:
        raise CommandError(BITFIELD_TYPE_ERR) from None
    if bits < 1 or bits > (64 if kind == b"i" else 63):
        raise CommandError(BITFIELD_TYPE_ERR)
    return kind == b"i", bits


def _read_field(value, offset: int, bits: int, signed: bool) -> int:
    """The field at `offset` (zero past the end of the string)."""
    byte = offset >> 3
    window = bytes(value[byte:byte + 9]).ljust(9, b"\0")
    raw = (int.from_bytes(window, "big") >> (72 - (offset & 7) - bits)) & ((1 << bits) - 1)
    if signed and raw >> (bits - 1):
        raw -= 1 << bits
    return raw


def _write_field(value: bytearray, offset: int, bits: int, field: int) -> None:
    byte = offset >> 3
    nbytes = ((offset & 7) + bits + 7) >> 3
    shift = nbytes * 8 - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    word = int.from_bytes(value[byte:byte + nbytes], "big")
    word = (word & ~mask) | ((field & ((1 << bits) - 1)) << shift)
    value[byte:byte + nbytes] = word.to_bytes(nbytes, "big")


def _overflowed(result: int, signed: bool, bits: int, policy: int):
    """(overflowed, value to store) for `result` in a field of `bits`, by policy."""
    if signed:
        high, low = (1 << (bits - 1)) - 1, -(1 << (bits - 1))
    else:
        high, low = (1 << bits) - 1, 0
    if low <= result <= high:
        return False, result
    if policy == _SAT:
        return True, high if result > high else low
    # WRAP (FAIL stores nothing, but the wrapped value is what Redis computes too).
    wrapped = result & ((1 << bits) - 1)
    if signed and wrapped >> (bits - 1):
        wrapped -= 1 << bits
    return True, wrapped


def _bitfield(client, args, readonly_command: bool):
    ops = []
    policy = _WRAP
    readonly = True
    highest = 0
    j, n = 2, len(args)
    while j < n:
        remaining = n - j - 1
        sub = c_string(args[j]).upper()
        if sub == b"GET" and remaining >= 2:
            opcode = _GET
        elif sub == b"SET" and remaining >= 3:
            opcode = _SET
        elif sub == b"INCRBY" and remaining >= 3:
            opcode = _INCRBY
        elif sub == b"OVERFLOW" and remaining >= 1:
            policy = _OVERFLOW_TYPES.get(c_string(args[j + 1]).upper())
            if policy is None:
                raise CommandError("ERR Invalid OVERFLOW type specified")
            j += 2
            continue
        else:
            raise CommandError(SYNTAX)
        signed, bits = _bitfield_type(args[j + 1])
        offset = _bit_offset(client, args[j + 2], True, bits)
        operand = 0
        if opcode != _GET:
            readonly = False
            highest = max(highest, offset + bits - 1)
            operand = parse_int(args[j + 3], NOT_INTEGER)
        ops.append((opcode, offset, bits, signed, operand, policy))
        j += 3 if opcode == _GET else 4

    db = client.db
    key = args[1]
    if readonly:
        value = _string_or_none(db, key)
        grown = False
    else:
        if readonly_command:
            raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
        value, grown = _writable(client, key, highest)
    replies = []
    changes = 0
    for opcode, offset, bits, signed, operand, policy in ops:
        if opcode == _GET:
            replies.append(0 if value is None else _read_field(value, offset, bits, signed))
            continue
        old = _read_field(value, offset, bits, signed)
        if opcode == _INCRBY:
            overflow, new = _overflowed(old + operand, signed, bits, policy)
            reply = new
        else:
            # SET takes the operand as a C int64, seen as uint64 by unsigned fields.
            overflow, new = _overflowed(operand if signed else operand % _U64, signed, bits, policy)
            reply = old
        if overflow and policy == _FAIL:
            replies.append(None)
            continue
        replies.append(reply)
        _write_field(value, offset, bits, new)
        if grown or old != new:
            changes += 1
    if changes:
        db.modified(key)
        engine = client.engine
        engine.notify(db, "$", b"setbit", key)
        engine.dirty += changes
    return replies


@command("bitfield", arity=-2, flags="write denyoom", keys=(1, 1, 1), acl="bitmap", group="bitmap",
         since="3.2.0", summary="Perform arbitrary bitfield integer operations on strings",
         complexity="O(1) for each subcommand specified",
         args="key:k0 [operation(GET=encoding_offset(encoding offset:i)|"
              "write([OVERFLOW=wrap_sat_fail(WRAP|SAT|FAIL)] "
              "write_operation(SET=encoding_offset_value(encoding offset:i value:i)|"
              "INCRBY=encoding_offset_increment(encoding offset:i increment:i))))...]")
def bitfield(client, args):
    return _bitfield(client, args, False)


@command("bitfield_ro", arity=-2, flags="readonly fast", keys=(1, 1, 1), acl="bitmap",
         group="bitmap", since="6.0.0",
         summary="Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
         complexity="O(1) for each subcommand specified",
         args="key:k0 [GET=encoding_offset(encoding offset:i)...&]")
def bitfield_ro(client, args):
    return _bitfield(client, args, True)
