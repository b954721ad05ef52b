"""Redis's partial quicksort (pqsort.c), for SORT ... LIMIT and GEO ... COUNT.

Redis sorts only what a LIMIT or COUNT shows, with Bentley and McIlroy's
quicksort ("Engineering a Sort Function") that skips the partitions lying
wholly outside the wanted positions. It is not stable: elements that compare
equal (two GEO members at the same distance, SORT BY ... ALPHA weights that
are equal or missing) come out in the order this partitioning leaves them.
Reproducing the same partitioning step by step is what makes such ties come
out as they do in Redis. Full sorts in Redis use glibc's qsort, a stable merge
sort for these sizes, which Python's ``sort`` matches.
"""
from __future__ import annotations

from collections.abc import Callable


def _med3(a: list, i: int, j: int, k: int, cmp) -> int:
    if cmp(a[i], a[j]) < 0:
        if cmp(a[j], a[k]) < 0:
            return j
        return k if cmp(a[i], a[k]) < 0 else i
    if cmp(a[j], a[k]) > 0:
        return j
    return i if cmp(a[i], a[k]) < 0 else k


def _vecswap(a: list, i: int, j: int, n: int) -> None:
    for t in range(n):
        a[i + t], a[j + t] = a[j + t], a[i + t]


def partial_sort(a: list, cmp: Callable, lo: int, hi: int) -> None:
    """Order `a` in place so that positions lo..hi hold what a full sort puts there."""
    stack = [(0, len(a))]
    while stack:
        base, n = stack.pop()
        while True:
            if n < 7:
                for m in range(base + 1, base + n):
                    p = m
                    while p > base and cmp(a[p - 1], a[p]) > 0:
                        a[p], a[p - 1] = a[p - 1], a[p]
                        p -= 1
                break
            pm = base + n // 2
            if n > 7:
                pl = base
                pn = base + n - 1
                if n > 40:
                    d = n // 8
                    pl = _med3(a, pl, pl + d, pl + 2 * d, cmp)
                    pm = _med3(a, pm - d, pm, pm + d, cmp)
                    pn = _med3(a, pn - 2 * d, pn - d, pn, cmp)
                pm = _med3(a, pl, pm, pn, cmp)
            a[base], a[pm] = a[pm], a[base]
            pa = pb = base + 1
            pc = pd = base + n - 1
            while True:
                while pb <= pc:
                    r = cmp(a[pb], a[base])
                    if r > 0:
                        break
                    if r == 0:
                        a[pa], a[pb] = a[pb], a[pa]
                        pa += 1
                    pb += 1
                while pb <= pc:
                    r = cmp(a[pc], a[base])
                    if r < 0:
                        break
                    if r == 0:
                        a[pc], a[pd] = a[pd], a[pc]
                        pd -= 1
                    pc -= 1
                if pb > pc:
                    break
                a[pb], a[pc] = a[pc], a[pb]
                pb += 1
                pc -= 1
            pn = base + n
            r = min(pa - base, pb - pa)
            _vecswap(a, base, pb - r, r)
            r = min(pd - pc, pn - pd - 1)
            _vecswap(a, pb, pn - r, r)
            left = pb - pa
            right = pd - pc
            # The left part first (Redis recurses into it before iterating on the
            # right part); either is skipped when it lies outside lo..hi.
            go_right = right > 1 and not (hi < pn - right or lo > pn - 1)
            if go_right:
                stack.append((pn - right, right))
            if left > 1 and not (hi < base or lo > base + left - 1):
                n = left
                continue
            break
