"""The longest common subsequence of two byte strings, exactly as Redis's LCS computes it.

Redis fills an (n+1) x (m+1) table of uint32 LCS lengths and walks it backwards
from the end, preferring to drop a byte of the second string on ties; the ranges
IDX reports come from that walk. ``LcsTable`` holds the same table one bit per
cell (bit-parallel rows), so building it is a few big-integer operations per byte
of the first string instead of m Python steps; ``lcs_walk`` is Redis's walk.
"""
from __future__ import annotations


class LcsTable:
    """The LCS dynamic-programming table of Redis's lcsCommand, one bit per cell.

    Row i (the first i bytes of `a`) is a bit vector over the positions of `b`
    (Allison-Dix / Hyyrö bit-parallel LCS): LCS(i, j) is the number of zero bits
    among its lowest j bits. Building a row costs a few big-integer operations,
    so the whole table is computed at C speed, and each cell Redis's walk reads
    is a popcount. The values are exactly those of Redis's uint32 table.
    """

    __slots__ = ("rows",)

    def __init__(self, a: bytes, b: bytes):
        m = len(b)
        full = (1 << m) - 1
        masks = {}
        if m:
            # Bit j of masks[c] is set where b[j] == c (reversed: bit 0 is b[0]).
            table = bytearray(b"0" * 256)
            rev = b[::-1]
            for c in set(a) & set(b):
                table[c] = 49
                masks[c] = int(rev.translate(table), 2)
                table[c] = 48
        v = full
        rows = [v]
        append = rows.append
        get = masks.get
        for c in a:
            mask = get(c)
            if mask is not None:
                u = v & mask
                v = ((v + u) | (v - u)) & full
            append(v)
        self.rows = rows

    def length(self, i: int, j: int) -> int:
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()


def lcs_walk(a: bytes, b: bytes, table: LcsTable, want_idx: bool, min_len: int, with_len: bool):
    """Redis's backward walk over the table: the LCS string, or its IDX ranges."""
    alen = len(a)
    i, j = alen, len(b)
    total = table.length(i, j)
    idx = total
    result = bytearray(total)
    matches = []
    unset = alen                     # Redis marks "no range yet" with alen
    a_start, a_end, b_start, b_end = unset, 0, 0, 0
    length = table.length
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1        # the range extends backwards
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
        else:
            if length(i - 1, j) > length(i, j - 1):
                i -= 1
            else:
                j -= 1
            if a_start != unset:
                emit = True
        if emit:
            match_len = a_end - a_start + 1
            if want_idx and (min_len == 0 or match_len >= min_len):
                item = [[a_start, a_end], [b_start, b_end]]
                if with_len:
                    item.append(match_len)
                matches.append(item)
            a_start = unset
    if want_idx:
        return {b"matches": matches, b"len": total}
    return bytes(result)
