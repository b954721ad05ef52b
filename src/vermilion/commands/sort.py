"""SORT and SORT_RO: sort a list, set or sorted set, optionally by external keys.

Redis's rules (sort.c), which decide every reply here:

* Numeric sort reads each element (or its BY weight) with strtod: the text must
  be consumed up to its end or an embedded NUL, overflow and NaN are errors
  ("One or more scores can't be converted into double"), and a missing weight
  is 0. Equal numbers are ordered by the elements' bytes, so the order is total.
* ALPHA compares the elements (or their BY weights, a missing one first) with
  strcoll: redis-server sets LC_COLLATE from the environment, and under the C
  and C.UTF-8 locales that is strcmp, a byte compare that stops at a NUL; with
  STORE the compare is binary. Equal ALPHA weights keep their input order (glibc's
  merge sort), except under a LIMIT with BY, where Redis's partial quicksort
  (types/partialsort.py) decides.
* ``BY`` without ``*`` does not sort: lists and sorted sets keep their order
  (DESC walks it backwards, LIMIT cuts it), a set is returned in its own order,
  except with STORE or inside a script, where it is sorted ALPHA so the result
  is deterministic.
* ``GET #`` is the element; ``GET pattern`` and ``BY pattern`` replace the first
  ``*`` with the element and read a string key, or a hash field after ``->``.
* STORE writes a list (``sortstore``) or deletes the destination when the
  result is empty. A sorted set to sort is converted to its skiplist encoding
  first, as Redis does even for SORT_RO.

Cluster mode refuses BY and GET patterns in Redis; Vermilion runs
non-clustered (docs/compatibility.md).
"""
from __future__ import annotations

import math
import re

from ..engine.errors import NOT_INTEGER, SYNTAX, WRONGTYPE, CommandError
from ..engine.table import command
from ..types.collections import Hash, List, Set
from ..types.numeric import strtod_prefix
from ..types.partialsort import partial_sort
from ..types.sortedset import SortedSet
from ._args import parse_int

NOT_DOUBLE = "ERR One or more scores can't be converted into double"


def _cstr(b: bytes) -> bytes:
    """What C string functions see of an sds: up to the first NUL."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def lookup_by_pattern(db, pattern: bytes, element: bytes):
    """lookupKeyByPattern: the value a BY/GET pattern names for `element`, or None."""
    if pattern[:1] == b"#" and (len(pattern) == 1 or pattern[1] == 0):
        return element
    visible = _cstr(pattern)
    star = visible.find(b"*")
    if star < 0:
        return None
    arrow = visible.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(visible):
        field = pattern[arrow + 2:]
        key = pattern[:star] + element + pattern[star + 1:arrow]
    else:
        key = pattern[:star] + element + pattern[star + 1:]
    value = db.get(key)
    if value is None:
        return None
    if field is not None:
        if value.__class__ is not Hash:
            return None
        return value.get(field)
    if value.__class__ is bytes or value.__class__ is bytearray:
        return bytes(value)
    return None


_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TINY = 2.2250738585072014e-308     # the smallest normal double
_NONZERO = re.compile(rb"[1-9]")


def _to_double(text: bytes):
    """sortCommand's strtod test: None when the text is not a number."""
    if _DECIMAL.fullmatch(text):
        # Python's float() rounds a decimal exactly as strtod does; what is left to
        # strtod_prefix is overflow, underflow (ERANGE) and the other spellings.
        value = float(text)
        if _TINY <= abs(value) < math.inf or (value == 0.0 and not _NONZERO.search(text.split(b"e")[0].split(b"E")[0])):
            return value
    value, end, erange = strtod_prefix(text)
    c = _cstr(text)
    if end != len(c) or erange or value != value:
        return None
    if value != 0.0 and abs(value) < _TINY:
        return None        # glibc's strtod reports a subnormal result as ERANGE too
    return value


def _parse(args: list, readonly: bool, full_key_access: bool = True):
    """The options, in Redis's order of checks. Without access to every key (ACL), a BY
    pattern or a GET could read keys the user may not: Redis refuses them."""
    desc = alpha = dontsort = False
    start, count = 0, -1
    by = store = None
    gets: list[bytes] = []
    n = len(args)
    j = 2
    while j < n:
        opt = args[j].lower()
        left = n - j - 1
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            start = parse_int(args[j + 1], NOT_INTEGER)
            count = parse_int(args[j + 2], NOT_INTEGER)
            j += 2
        elif opt == b"store" and left >= 1 and not readonly:
            store = args[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            by = args[j + 1]
            dontsort = b"*" not in _cstr(by)
            if not dontsort and not full_key_access:
                raise CommandError("ERR BY option of SORT denied due to insufficient ACL permissions.")
            j += 1
        elif opt == b"get" and left >= 1:
            if not full_key_access:
                raise CommandError("ERR GET option of SORT denied due to insufficient ACL permissions.")
            gets.append(args[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    return desc, alpha, dontsort, start, count, by, store, gets


def _full_key_access(client, args, readonly: bool) -> bool:
    engine = client.engine
    acl = getattr(engine, "acl", None)
    if acl is None:
        return True
    return acl.full_key_access(client, engine.commands["sort_ro" if readonly else "sort"], args)


def _sort(client, args, readonly: bool):
    desc, alpha, dontsort, limit_start, limit_count, by, store, gets = _parse(
        args, readonly, _full_key_access(client, args, readonly))
    db = client.db
    # Every lookup (the key, BY and GET patterns) is Redis's lookupKeyRead, which
    # counts keyspace hits and misses even in this write command.
    client.engine.reading = True
    value = db.get(args[1])
    cls = value.__class__
    if value is not None and cls is not List and cls is not Set and cls is not SortedSet:
        raise CommandError(WRONGTYPE)
    if value is None:
        value = List()
        cls = List
    if dontsort and cls is Set and (store is not None or client.kind == "script"):
        dontsort, alpha, by = False, True, None      # a deterministic order
    if cls is SortedSet:
        value.big = True                 # Redis converts it before sorting
    size = len(value)
    start = min(max(limit_start, 0), size)
    limit_count = min(max(limit_count, -1), size)
    end = size - 1 if limit_count < 0 else start + limit_count - 1
    if start >= size:
        start, end = size - 1, size - 2
    if end >= size:
        end = size - 1

    if dontsort and cls is not Set:
        # Lists and sorted sets keep their order; only the LIMIT window is read.
        if end >= start:
            if cls is SortedSet:
                vector = [m for _, m in value.by_rank(start, end, desc)]
            elif desc:
                vector = value.slice(size - 1 - end, size - 1 - start)
                vector.reverse()
            else:
                vector = value.slice(start, end)
        else:
            vector = []
        start, end = 0, len(vector) - 1
        elements = vector
    else:
        if cls is Set:
            elements = value.members_in_order()
        elif cls is SortedSet:
            elements = list(value)
        else:
            elements = list(value)
        if not dontsort:
            elements = _sorted(db, elements, by, alpha, desc, store is not None, start, end)
    if elements is None:
        raise CommandError(NOT_DOUBLE)
    window = elements[start:end + 1] if end >= start else []
    if store is None:
        if not gets:
            return window
        out = []
        for element in window:
            for pattern in gets:
                out.append(lookup_by_pattern(db, pattern, element))
        return out
    result = List()
    for element in window:
        if not gets:
            result.append(element)
            continue
        for pattern in gets:
            v = lookup_by_pattern(db, pattern, element)
            result.append(b"" if v is None else v)
    engine = client.engine
    if result:
        db.set(store, result)
        engine.dirty += len(result)
        if engine.notify_flags:
            engine.notify(db, "l", b"sortstore", store)
        engine.signal_ready(db, store)
    elif db.delete(store):
        engine.dirty += 1
        if engine.notify_flags:
            engine.notify(db, "g", b"del", store)
    return len(result)


def _sorted(db, elements: list, by, alpha: bool, desc: bool, binary: bool, start: int, end: int):
    """The elements in SORT's order, or None when a weight is not a number.

    sortCompare's order: numbers, ties broken by the elements' bytes; ALPHA weights
    with a missing one first, ties kept in input order; ALPHA elements. A full sort
    is Python's stable sort on a key equal to that comparison (DESC reverses each
    comparison, keeping ties in input order, as the negated comparator does); a
    partial one (BY with LIMIT) is Redis's partial quicksort with the comparator.
    """
    if alpha:
        if by is None:
            keys = elements if binary else [_cstr(e) for e in elements]
        else:
            keys = []
            for element in elements:
                w = lookup_by_pattern(db, by, element)
                keys.append((0,) if w is None else (1, w if binary else _cstr(w)))
    else:
        keys = []
        bad = False
        for element in elements:
            weight = element if by is None else lookup_by_pattern(db, by, element)
            score = 0.0
            if weight is not None:
                score = _to_double(weight)
                if score is None:
                    bad = True
                    score = 0.0
            keys.append((score, element))
        if bad:
            return None
    n = len(elements)
    order = list(range(n))
    # Numeric keys are a total order up to identical elements, which no reply can
    # tell apart: only ALPHA weights need Redis's partial quicksort for their ties.
    if alpha and by is not None and (start != 0 or end != n - 1):
        def cmp(i, j):
            a, b = keys[i], keys[j]
            r = (a > b) - (a < b)
            return -r if desc else r
        partial_sort(order, cmp, start, end)
    else:
        order.sort(key=keys.__getitem__, reverse=desc)
    return [elements[i] for i in order]


def _sort_keys(args: list) -> list[int]:
    """sortGetKeys: the key, and the last STORE destination (LIMIT, GET and BY
    arguments are skipped, so a key named "store" there is not taken)."""
    keys = [1]
    store = None
    skip = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    n = len(args)
    while i < n:
        word = args[i].lower()
        if word in skip:
            i += skip[word]
        elif word == b"store" and i + 1 < n:
            store = i + 1
        i += 1
    return keys if store is None else keys + [store]


@command("sort", arity=-2, flags="write denyoom", keys=(1, 1, 1), acl="set sortedset list dangerous",
         group="generic", since="1.0.0", getkeys=_sort_keys,
         summary="Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
         args="key:k0 [BY=pattern:p1] [LIMIT=offset_count(offset:i count:i)] [GET=pattern:p1...&] "
              "[order(ASC|DESC)] [ALPHA=sorting:-] [STORE=destination:k2]")
def sort(client, args):
    return _sort(client, args, False)


@command("sort_ro", arity=-2, flags="readonly", keys=(1, 1, 1), acl="set sortedset list dangerous",
         group="generic", since="7.0.0", getkeys=lambda args: [1],
         summary="Returns the sorted elements of a list, a set, or a sorted set.",
         args="key:k0 [BY=pattern:p1] [LIMIT=offset_count(offset:i count:i)] [GET=pattern:p1...&] "
              "[order(ASC|DESC)] [ALPHA=sorting:-]")
def sort_ro(client, args):
    return _sort(client, args, True)
