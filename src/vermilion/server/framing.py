"""The requests at the start of a read, when they are complete and plainly framed.

`Requests(data)` iterates over the requests a read begins with, as lists of
bytes, for as long as each one is complete and framed in one of the plain
shapes clients send:

* a multibulk: ``*<n>\\r\\n`` then n bulk strings ``$<len>\\r\\n<bytes>\\r\\n``,
  counts without sign or leading zero, at most 1M arguments of at most 1 MB;
* an inline request: a line of at most 64 KB (Redis's PROTO_INLINE_MAX_SIZE)
  without quotes or NUL, split into words as Redis's sdssplitargs does; blank
  lines are skipped, as Redis skips them.

`pos` is the offset just past the last request returned. When the iteration
stops, ``data[pos:]`` is what it did not take: a request the read cuts short,
or anything else (quotes, ``*0``, a malformed header, a bigger request), which
the connection hands to the parser of record (server/parser.py) so the client
gets Redis's limits and error texts. The bounds keep everything taken here
within Redis's own limits: proto-max-bulk-len cannot be set below 1 MB.

This is the reference; `vermilion._resp.Requests` is its C twin (same results,
tests/test_resp_codec.py), which the connection uses when it is built.
"""
from __future__ import annotations

MAX_ARGS = 1024 * 1024
MAX_BULK = 1024 * 1024
MAX_INLINE = 64 * 1024

_DIGITS = b"0123456789"
_SPACE = b" \t\r\v\f\n"          # skipped before a word (isspace)
_WORD_END = b" \t\r\n"            # ends a word: a \v or \f inside one is part of it


class _Stop(Exception):
    """The request at `pos` is not taken here."""


def _count(data: bytes, pos: int, allow_zero: bool, limit: int) -> tuple[int, int]:
    """The decimal at data[pos:] up to CRLF, and the offset past the CRLF."""
    end = pos
    n = len(data)
    while end < n and data[end] in _DIGITS:
        end += 1
    digits = data[pos:end]
    if end >= n or not digits:
        raise _Stop
    if (digits[0] == 48 and (len(digits) > 1 or not allow_zero)) or data[end] != 13:
        raise _Stop
    value = int(digits)
    if value > limit or end + 1 >= n or data[end + 1] != 10:
        raise _Stop
    return value, end + 2


def _multibulk(data: bytes, pos: int) -> tuple[list[bytes], int]:
    count, pos = _count(data, pos + 1, False, MAX_ARGS)
    args = []
    n = len(data)
    for _ in range(count):
        if pos >= n or data[pos] != 36:        # '$'
            raise _Stop
        size, pos = _count(data, pos + 1, True, MAX_BULK)
        if n - pos < size + 2 or data[pos + size] != 13 or data[pos + size + 1] != 10:
            raise _Stop
        args.append(data[pos:pos + size])
        pos += size + 2
    return args, pos


def _inline(data: bytes, pos: int) -> tuple[list[bytes], int]:
    end = data.find(b"\n", pos, pos + MAX_INLINE)
    if end < 0:
        raise _Stop
    line = data[pos:end]
    if b'"' in line or b"'" in line or b"\0" in line:
        raise _Stop
    words = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            break
        start = i
        while i < n and line[i] not in _WORD_END:
            i += 1
        words.append(line[start:i])
    return words, end + 1


class Requests:
    """Iterate over the complete, plainly framed requests at the start of `data`."""

    __slots__ = ("data", "pos", "_done")

    def __init__(self, data: bytes, pos: int = 0):
        if not 0 <= pos <= len(data):
            raise ValueError("pos out of range")
        self.data = data
        self.pos = pos
        self._done = False

    def __iter__(self) -> Requests:
        return self

    def __next__(self) -> list[bytes]:
        data = self.data
        while not self._done and self.pos < len(data):
            try:
                if data[self.pos] == 42:        # '*'
                    request, pos = _multibulk(data, self.pos)
                else:
                    request, pos = _inline(data, self.pos)
            except _Stop:
                break
            self.pos = pos
            if request:
                return request
        self._done = True
        raise StopIteration
