"""GEO: GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[_RO], GEORADIUSBYMEMBER[_RO],
GEOSEARCH and GEOSEARCHSTORE.

A GEO key is an ordinary sorted set whose scores are 52-bit geohash cells
(``types/geohash.py``), so ZRANGE, ZSCORE, RDB and DUMP see exactly what Redis
stores. GEOADD is ZADD with computed scores: it replies, notifies (``zadd``)
and propagates (as ``zadd key ... score member``) as Redis's rewritten ZADD.

A search walks the score ranges of the centre cell and its neighbours in
Redis's order, keeps the members inside the radius or box, then sorts by
distance (a stable full sort, or Redis's partial quicksort when COUNT cuts
the result, which decides the order of equal distances). With COUNT ANY the
walk stops at COUNT matches, so which members are returned depends on that
order, as in Redis. Distances are printed with 4 decimals (bulk strings, also
in RESP3); coordinates as Redis's "human" long doubles (RESP3 doubles).
"""
from __future__ import annotations

from functools import cmp_to_key

from ..engine.errors import NOT_FLOAT, SYNTAX, CommandError
from ..engine.replies import NULL_ARRAY, HumanDouble
from ..engine.table import command
from ..types import geohash
from ..types.numeric import parse_double
from ..types.partialsort import partial_sort
from ..types.sortedset import SortedSet
from ._args import parse_int
from .zsets import _zadd

UNIT_ERROR = "ERR unsupported unit provided. please use M, KM, FT, MI"
NOT_DECODABLE = "ERR could not decode requested zset member"

_ZADD = b"zadd"


def _lonlat(args: list, i: int) -> tuple[float, float]:
    """extractLongLatOrReply: two doubles in range, else Redis's errors."""
    lon = parse_double(args[i])
    if lon is None:
        raise CommandError(NOT_FLOAT)
    lat = parse_double(args[i + 1])
    if lat is None:
        raise CommandError(NOT_FLOAT)
    if not geohash.in_range(lon, lat):
        raise CommandError(b"ERR invalid longitude,latitude pair %f,%f" % (lon, lat))
    return lon, lat


def _unit(arg: bytes) -> float:
    conversion = geohash.UNITS.get(arg.lower())
    if conversion is None:
        raise CommandError(UNIT_ERROR)
    return conversion


def _distance_arg(arg: bytes, message: str) -> float:
    value = parse_double(arg)
    if value is None:
        raise CommandError(message)
    return value


def _format_distance(meters: float) -> bytes:
    """Redis's fixedpoint_d2string with 4 decimals: rounded half to even (llrint).

    A value llrint cannot represent (NaN, infinite, |x| >= 2**63 / 10**4) becomes
    LLONG_MIN there, printed as Redis prints it.
    """
    if meters == 0:
        return b"0.0000"
    scaled = meters * 10000.0
    if scaled != scaled or not -9.223372036854775808e18 <= scaled < 9.223372036854775808e18:
        return b"-922337203685477.5808"
    scaled = round(scaled)
    sign = b"-" if scaled < 0 else b""
    scaled = abs(scaled)
    return b"%s%d.%04d" % (sign, scaled // 10000, scaled % 10000)


def _coords(lon: float, lat: float) -> list:
    return [HumanDouble(lon), HumanDouble(lat)]


def _member_position(zs: SortedSet, member: bytes):
    score = zs.score(member)
    return None if score is None else geohash.decode(score)


# -- GEOADD ----------------------------------------------------------------------------------------

@command("geoadd", arity=-5, flags="write denyoom", keys=(1, 1, 1), acl="geo", group="geo",
         since="3.2.0", summary="Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
         args="key:k0 [condition(NX|XX)@6.2.0] [CH=change:-@6.2.0] "
              "longitude_latitude_member(longitude:d latitude:d member)...")
def geoadd(client, args):
    n = len(args)
    first = 2
    nx = xx = False
    while first < n:
        opt = args[first].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt != b"ch":
            break
        first += 1
    if (n - first) % 3 or (nx and xx):
        raise CommandError(SYNTAX)
    zadd_args = [_ZADD, *args[1:first]]
    for i in range(first, n, 3):
        lon, lat = _lonlat(args, i)
        zadd_args.append(b"%d" % geohash.encode(lon, lat))
        zadd_args.append(args[i + 2])
    flags = {a.lower() for a in args[2:first]}
    reply = _zadd(client, zadd_args, flags, first, False)
    client.engine.rewrite(zadd_args)
    return reply


# -- GEOPOS / GEOHASH / GEODIST -----------------------------------------------------------------------

@command("geopos", arity=-2, flags="readonly", keys=(1, 1, 1), acl="geo", group="geo",
         since="3.2.0", summary="Returns the longitude and latitude of members from a geospatial index.",
         args="key:k0 member...")
def geopos(client, args):
    zs = client.db.get_typed(args[1], SortedSet)
    out = []
    for member in args[2:]:
        pos = None if zs is None else _member_position(zs, member)
        out.append(NULL_ARRAY if pos is None else _coords(*pos))
    return out


@command("geohash", arity=-2, flags="readonly", keys=(1, 1, 1), acl="geo", group="geo",
         since="3.2.0", summary="Returns members from a geospatial index as geohash strings.",
         args="key:k0 member...")
def geohash_(client, args):
    zs = client.db.get_typed(args[1], SortedSet)
    out = []
    for member in args[2:]:
        score = None if zs is None else zs.score(member)
        out.append(None if score is None else geohash.geohash_string(score))
    return out


@command("geodist", arity=-4, flags="readonly", keys=(1, 1, 1), acl="geo", group="geo",
         since="3.2.0", summary="Returns the distance between two members of a geospatial index.",
         args="key:k0 member1 member2 [unit(M|KM|FT|MI)]")
def geodist(client, args):
    to_meters = 1.0
    if len(args) == 5:
        to_meters = _unit(args[4])
    elif len(args) > 5:
        raise CommandError(SYNTAX)
    zs = client.db.get_typed(args[1], SortedSet)
    if zs is None:
        return None
    a = _member_position(zs, args[2])
    b = _member_position(zs, args[3])
    if a is None or b is None:
        return None
    return _format_distance(geohash.distance(a[0], a[1], b[0], b[1]) / to_meters)


# -- the searches ----------------------------------------------------------------------------------

# What a search command accepts (georadiusGeneric's flags).
_BY_COORDS = 1        # GEORADIUS: the centre is given as longitude latitude
_BY_MEMBER = 2        # GEORADIUSBYMEMBER: the centre is a member
_NO_STORE = 4         # the _RO variants: no STORE / STOREDIST
_SEARCH = 8           # GEOSEARCH syntax (FROM... / BY...)
_SEARCH_STORE = 16    # GEOSEARCHSTORE: destination first, STOREDIST without argument

_ASC = 1
_DESC = 2


class _Request:
    __slots__ = ("shape", "store", "storedist", "withdist", "withhash", "withcoord",
                 "sort", "count", "any")

    def __init__(self):
        self.shape = geohash.Shape()
        self.store = None
        self.storedist = False
        self.withdist = self.withhash = self.withcoord = False
        self.sort = 0
        self.count = 0
        self.any = False


def _parse_search(args: list, zs, src: int, flags: int) -> _Request:
    """georadiusGeneric's parsing, with its checks in Redis's order (errors of the
    centre and radius first, then the options left to right, then the combinations).
    A missing source key skips the member lookups (the reply is empty anyway)."""
    req = _Request()
    shape = req.shape
    if flags & _BY_COORDS:
        base = 6
        shape.lon, shape.lat = _lonlat(args, 2)
        shape.radius = _radius(args, 4)
        shape.conversion = _unit(args[5])
    elif flags & _BY_MEMBER:
        base = 5
        if zs is not None:
            pos = _member_position(zs, args[2])
            if pos is None:
                raise CommandError(NOT_DECODABLE)
            shape.lon, shape.lat = pos
            shape.radius = _radius(args, 3)
            shape.conversion = _unit(args[4])
    else:
        base = 3 if flags & _SEARCH_STORE else 2
        if flags & _SEARCH_STORE:
            req.store = args[1]
    search = bool(flags & _SEARCH)
    may_store = not (flags & _NO_STORE) and not search
    frommember = fromloc = byradius = bybox = False
    n = len(args)
    i = base
    while i < n:
        arg = args[i].lower()
        left = n - i - 1
        if arg == b"withdist":
            req.withdist = True
        elif arg == b"withhash":
            req.withhash = True
        elif arg == b"withcoord":
            req.withcoord = True
        elif arg == b"any":
            req.any = True
        elif arg == b"asc":
            req.sort = _ASC
        elif arg == b"desc":
            req.sort = _DESC
        elif arg == b"count" and left >= 1:
            req.count = parse_int(args[i + 1])
            if req.count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif arg == b"store" and left >= 1 and may_store:
            req.store = args[i + 1]
            req.storedist = False
            i += 1
        elif arg == b"storedist" and left >= 1 and may_store:
            req.store = args[i + 1]
            req.storedist = True
            i += 1
        elif arg == b"storedist" and search and flags & _SEARCH_STORE:
            req.storedist = True
        elif arg == b"frommember" and left >= 1 and search and not fromloc:
            if zs is not None:
                pos = _member_position(zs, args[i + 1])
                if pos is None:
                    raise CommandError(NOT_DECODABLE)
                shape.lon, shape.lat = pos
            frommember = True
            i += 1
        elif arg == b"fromlonlat" and left >= 2 and search and not frommember:
            shape.lon, shape.lat = _lonlat(args, i + 1)
            fromloc = True
            i += 2
        elif arg == b"byradius" and left >= 2 and search and not bybox:
            shape.radius = _radius(args, i + 1)
            shape.conversion = _unit(args[i + 2])
            shape.is_box = False
            byradius = True
            i += 2
        elif arg == b"bybox" and left >= 3 and search and not byradius:
            width = _distance_arg(args[i + 1], "ERR need numeric width")
            height = _distance_arg(args[i + 2], "ERR need numeric height")
            if height < 0 or width < 0:
                raise CommandError("ERR height or width cannot be negative")
            shape.width, shape.height = width, height
            shape.conversion = _unit(args[i + 3])
            shape.is_box = True
            bybox = True
            i += 3
        else:
            raise CommandError(SYNTAX)
        i += 1
    if req.store is not None and (req.withdist or req.withhash or req.withcoord):
        what = "GEOSEARCHSTORE" if flags & _SEARCH_STORE else "STORE option in GEORADIUS"
        raise CommandError(f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    name = args[0].decode("utf-8", "replace")
    if search and not (frommember or fromloc):
        raise CommandError(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}")
    if search and not (byradius or bybox):
        raise CommandError(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if req.any and not req.count:
        raise CommandError("ERR the ANY argument requires COUNT argument")
    return req


def _radius(args: list, i: int) -> float:
    radius = _distance_arg(args[i], "ERR need numeric radius")
    if radius < 0:
        raise CommandError("ERR radius cannot be negative")
    return radius


def _matches(zs: SortedSet, shape: geohash.Shape, limit: int) -> list:
    """[distance in metres, score, member, lon, lat] of the members inside the shape,
    in Redis's scan order; stops at `limit` matches when limit > 0 (COUNT ANY)."""
    found: list = []
    decode = geohash.decode
    contains = shape.contains
    append = found.append
    for lo, hi in geohash.score_ranges(shape):
        if limit and len(found) >= limit:
            break
        for score, member in zs.range_by_score(float(lo), False, float(hi), True):
            lon, lat = decode(score)
            dist = contains(lon, lat)
            if dist is not None:
                append([dist, score, member, lon, lat])
                if limit and len(found) >= limit:
                    break
    return found


def _by_distance(a, b) -> int:
    """sort_gp_asc, NaN included (it compares below everything, both ways)."""
    if a[0] > b[0]:
        return 1
    return 0 if a[0] == b[0] else -1


def _by_distance_desc(a, b) -> int:
    return -_by_distance(a, b)


def _search(client, args, src: int, flags: int):
    db = client.db
    client.engine.reading = True     # lookupKeyRead: a hit or miss, also in the STORE forms
    zs = db.get_typed(args[src], SortedSet)
    req = _parse_search(args, zs, src, flags)
    if zs is None:
        if req.store is not None:
            _delete_destination(client, req.store)
            return 0
        return []
    if req.count and not req.sort and not req.any:
        req.sort = _ASC          # the nearest COUNT, so sorted
    found = _matches(zs, req.shape, req.count if req.any else 0)
    if not found and req.store is None:
        return []
    returned = len(found) if not req.count or len(found) < req.count else req.count
    if req.sort:
        cmp = _by_distance if req.sort == _ASC else _by_distance_desc
        if returned == len(found):
            found.sort(key=cmp_to_key(cmp))
        else:
            partial_sort(found, cmp, 0, returned - 1)
    conversion = req.shape.conversion
    if req.store is None:
        options = req.withdist or req.withhash or req.withcoord
        out = []
        for dist, score, member, lon, lat in found[:returned]:
            if not options:
                out.append(member)
                continue
            item = [member]
            if req.withdist:
                item.append(_format_distance(dist / conversion))
            if req.withhash:
                item.append(int(score))
            if req.withcoord:
                item.append(_coords(lon, lat))
            out.append(item)
        return out
    return _store(client, req, found[:returned], flags)


def _delete_destination(client, key: bytes) -> None:
    engine = client.engine
    db = client.db
    if db.delete(key):
        engine.dirty += 1
        if engine.notify_flags:
            engine.notify(db, "g", b"del", key)


def _store(client, req: _Request, results: list, flags: int) -> int:
    """STORE / STOREDIST / GEOSEARCHSTORE: the results as a sorted set (scores are
    the cells, or the distances in the request's unit), or the destination deleted."""
    if not results:
        _delete_destination(client, req.store)
        return 0
    engine = client.engine
    db = client.db
    conversion = req.shape.conversion
    limits = engine.config.values
    items = {}
    for dist, score, member, _lon, _lat in results:
        items[member] = dist / conversion if req.storedist else score
    zs = SortedSet.from_items([(s, m) for m, s in items.items()],
                              len(results) > limits["zset-max-listpack-entries"]
                              or any(len(r[2]) > limits["zset-max-listpack-value"] for r in results))
    db.set(req.store, zs)
    engine.dirty += len(results)
    if engine.notify_flags:
        engine.notify(db, "z", b"geosearchstore" if flags & _SEARCH else b"georadiusstore", req.store)
    engine.signal_ready(db, req.store)
    return len(results)


def _georadius_keys(args: list) -> list[int]:
    """Redis's key specs: the source key, then the argument after the first STORE and
    after the first STOREDIST, each searched from the first option on."""
    keys = [1]
    name = args[0].lower()
    start = 5 if b"member" in name else 6
    lowered = [a.lower() for a in args[start:]]
    for word in (b"store", b"storedist"):
        if word in lowered:
            i = start + lowered.index(word)
            if i + 1 < len(args):
                keys.append(i + 1)
    return keys


@command("georadius", arity=-6, flags="write denyoom", keys=(1, 1, 1), acl="geo", group="geo",
         since="3.2.0", getkeys=_georadius_keys,
         summary="Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
         args="key:k0 longitude:d latitude:d radius:d unit(M|KM|FT|MI) [WITHCOORD] [WITHDIST] "
              "[WITHHASH] [count(COUNT=count:i [ANY@6.2.0])] [order(ASC|DESC)] [STORE=key:k1] "
              "[STOREDIST=key:k2]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument")
def georadius(client, args):
    return _search(client, args, 1, _BY_COORDS)


@command("georadiusbymember", arity=-5, flags="write denyoom", keys=(1, 1, 1), acl="geo", group="geo",
         since="3.2.0", getkeys=_georadius_keys,
         summary="Queries a geospatial index for members within a distance from a member, optionally stores the result.",
         args="key:k0 member radius:d unit(M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] "
              "[count(COUNT=count:i [ANY])] [order(ASC|DESC)] [STORE=key:k1] [STOREDIST=key:k2]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` "
                     "arguments")
def georadiusbymember(client, args):
    return _search(client, args, 1, _BY_MEMBER)


@command("georadius_ro", arity=-6, flags="readonly", keys=(1, 1, 1), acl="geo", group="geo",
         since="3.2.10", summary="Returns members from a geospatial index that are within a distance from a coordinate.",
         args="key:k0 longitude:d latitude:d radius:d unit(M|KM|FT|MI) [WITHCOORD] [WITHDIST] "
              "[WITHHASH] [count(COUNT=count:i [ANY@6.2.0])] [order(ASC|DESC)]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` with the `BYRADIUS` argument")
def georadius_ro(client, args):
    return _search(client, args, 1, _BY_COORDS | _NO_STORE)


@command("georadiusbymember_ro", arity=-5, flags="readonly", keys=(1, 1, 1), acl="geo", group="geo",
         since="3.2.10", summary="Returns members from a geospatial index that are within a distance from a member.",
         args="key:k0 member radius:d unit(M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] "
              "[count(COUNT=count:i [ANY])] [order(ASC|DESC)]",
         doc_flags="deprecated",
         deprecated_since="6.2.0",
         replaced_by="`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments")
def georadiusbymember_ro(client, args):
    return _search(client, args, 1, _BY_MEMBER | _NO_STORE)


@command("geosearch", arity=-7, flags="readonly", keys=(1, 1, 1), acl="geo", group="geo",
         since="6.2.0", summary="Queries a geospatial index for members inside an area of a box or a circle.",
         args="key:k0 from(FROMMEMBER=member|FROMLONLAT=longitude_latitude(longitude:d "
              "latitude:d)) by(circle(BYRADIUS=radius:d unit(M|KM|FT|MI))|box(BYBOX=width:d "
              "height:d unit(M|KM|FT|MI))) [order(ASC|DESC)] [count(COUNT=count:i [ANY])] "
              "[WITHCOORD] [WITHDIST] [WITHHASH]")
def geosearch(client, args):
    return _search(client, args, 1, _SEARCH)


@command("geosearchstore", arity=-8, flags="write denyoom", keys=(1, 2, 1), acl="geo", group="geo",
         since="6.2.0",
         summary="Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
         args="destination:k0 source:k1 from(FROMMEMBER=member|"
              "FROMLONLAT=longitude_latitude(longitude:d latitude:d)) by(circle(BYRADIUS=radius:d "
              "unit(M|KM|FT|MI))|box(BYBOX=width:d height:d unit(M|KM|FT|MI))) [order(ASC|DESC)] "
              "[count(COUNT=count:i [ANY])] [STOREDIST]")
def geosearchstore(client, args):
    return _search(client, args, 2, _SEARCH | _SEARCH_STORE)
