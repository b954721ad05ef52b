"""LZF decompression (liblzf's format), as found in RDB files and DUMP payloads.

Redis compresses every string longer than 20 bytes that LZF shrinks by more
than 4 bytes when ``rdbcompression`` is on (the default), including the
listpacks and ziplists of small collections, so a dump.rdb written by Redis is
full of these. The format is a sequence of chunks, each starting with a
control byte:

* ``000LLLLL`` -- a literal run of L+1 bytes follows;
* ``LLLOOOOO [L2] OOOOOOOO`` -- a back reference: copy L+2 bytes (L == 7 means
  "7 + next byte") starting 1 + the 13-bit offset bytes back in the output.
  The source may overlap what is being written (a repeated pattern).

Vermilion writes strings uncompressed (a pure-Python compressor would cost far
more CPU than it saves disk), which every Redis version loads.
"""
from __future__ import annotations


class LZFError(ValueError):
    pass


def decompress(data, out_len: int) -> bytes:
    """Decompress `data` into exactly `out_len` bytes; LZFError if it does not fit."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            end = i + ctrl + 1
            if end > n:
                raise LZFError("literal run past the end of the input")
            out += data[i:end]
            i = end
            continue
        length = ctrl >> 5
        if length == 7:
            if i >= n:
                raise LZFError("truncated back reference")
            length += data[i]
            i += 1
        if i >= n:
            raise LZFError("truncated back reference")
        size = len(out)
        ref = size - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        length += 2
        if ref < 0:
            raise LZFError("back reference before the start of the output")
        if ref + length <= size:
            out += out[ref:ref + length]
        else:                           # overlapping copy: the pattern repeats
            pattern = out[ref:size]
            reps = length // len(pattern) + 1
            out += (pattern * reps)[:length]
        if len(out) > out_len:
            raise LZFError("output longer than announced")
    if len(out) != out_len:
        raise LZFError("output shorter than announced")
    return bytes(out)


def compress(data: bytes) -> bytes | None:
    """LZF-compress `data` (liblzf's greedy algorithm with a 3-byte hash);
    None when the result would not be smaller than the input.

    Pure Python, about 1-3 MB/s: used for tests and small payloads only.
    """
    n = len(data)
    if n < 4:
        return None
    out = bytearray()
    table: dict[bytes, int] = {}
    lit_start = 0
    i = 0
    limit = n - 2

    def flush_literals(end: int) -> None:
        s = lit_start
        while s < end:
            run = min(32, end - s)
            out.append(run - 1)
            out.extend(data[s:s + run])
            s += run

    while i < limit:
        key = data[i:i + 3]
        ref = table.get(key)
        table[key] = i
        if ref is not None and 0 < i - ref <= 8192:
            off = i - ref - 1
            maxlen = min(264, n - i)
            length = 3
            while length < maxlen and data[ref + length] == data[i + length]:
                length += 1
            flush_literals(i)
            length -= 2
            if length < 7:
                out.append((length << 5) | (off >> 8))
            else:
                out.append((7 << 5) | (off >> 8))
                out.append(length - 7)
            out.append(off & 0xFF)
            i += length + 2
            lit_start = i
        else:
            i += 1
        if len(out) >= n:
            return None
    flush_literals(n)
    if len(out) >= n:
        return None
    return bytes(out)
