"""HSCAN, SSCAN and ZSCAN: cursor parsing, options, and the reply (shared by three families;
SCAN uses the cursor and option parsing too).

Redis answers a collection in a compact encoding (listpack, intset) whole, with
cursor 0, ignoring COUNT; we do the same for values whose ``big`` flag is off, so
their replies match Redis exactly (same order). Larger ones are walked with the
snapshot cursors of types/scan.py, which keep SCAN's guarantee.
"""
from __future__ import annotations

from ..engine.errors import SYNTAX, CommandError
from ..types.glob import compile_glob, matches_everything
from ..types.scan import scan_step
from ._args import parse_int

INVALID_CURSOR = "ERR invalid cursor"
_ULONG = 2**64


def parse_scan_cursor(arg: bytes) -> int:
    """parseScanCursorOrReply: strtoul, refusing a leading space, junk and overflow."""
    if not arg:
        return 0                       # strtoul("") stops at the terminator: cursor 0
    s = arg
    neg = False
    if s[0] in b"+-":
        neg = s[0] == 45
        s = s[1:]
    if not s.isdigit() or not s.isascii():
        raise CommandError(INVALID_CURSOR)
    value = int(s)
    if value >= _ULONG:
        raise CommandError(INVALID_CURSOR)
    return (-value) % _ULONG if neg else value


def parse_scan_options(args, start: int, with_type: bool = False):
    """COUNT n (>= 1), MATCH pattern and, for SCAN (`with_type`), TYPE name:
    (count, matcher or None, lower-cased type name or None)."""
    count = 10
    match = wanted_type = None
    i = start
    n = len(args)
    while i < n:
        opt = args[i].lower()
        if opt == b"count" and i + 1 < n:
            count = parse_int(args[i + 1])
            if count < 1:
                raise CommandError(SYNTAX)
        elif opt == b"match" and i + 1 < n:
            pattern = args[i + 1]
            match = None if matches_everything(pattern) else compile_glob(pattern)
        elif with_type and opt == b"type" and i + 1 < n:
            wanted_type = args[i + 1].lower()
        else:
            raise CommandError(SYNTAX)
        i += 2
    return count, match, wanted_type


def scan_reply(value, cursor: int, args, start: int, big: bool, values=None, members=None, order=None):
    """[cursor, items] for one *SCAN call.

    values: member -> associated reply item (hash value, zset score) or None for sets.
    order: the members in Redis's order for compact encodings (defaults to iteration).
    """
    count, match, _ = parse_scan_options(args, start)
    if not big:
        candidates = order if order is not None else list(value)
        next_cursor = 0
    else:
        next_cursor, candidates = scan_step(value, cursor, count, members)
    out = []
    if values is None:
        for m in candidates:
            if m in value and (match is None or match(m)):
                out.append(m)
    else:
        for m in candidates:
            if match is not None and not match(m):
                continue
            v = values(m)
            if v is not None:
                out.append(m)
                out.append(v)
    return [b"%d" % next_cursor, out]
