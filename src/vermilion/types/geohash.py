"""Redis's geohash: 52-bit interleaved cells, neighbour search areas and distances.

A GEO key is a sorted set whose scores are cell numbers: longitude and latitude
are each cut into 2**26 equal steps over [-180, 180] and [-85.05112878,
85.05112878] (the Web Mercator latitude limits), and the two 26-bit step
numbers are interleaved, latitude in the even bits, longitude in the odd ones.
A point reads back as the centre of its cell, so every coordinate printed by
GEOPOS and every distance are those of the centre, as in Redis.

Everything here is the arithmetic of Redis's geohash.c and geohash_helper.c,
in the same order of floating-point operations (so results agree to the last
bit with a libm that agrees: Python's ``math`` calls the C library's sin, cos,
asin and sqrt):

* ``encode`` / ``decode``: a point to its cell number and back (cell centre);
* ``search_cells``: the centre cell and its eight neighbours whose score ranges
  cover a radius or a box (geohashCalculateAreasByShapeWGS84, with its step
  estimate, its one-step widening near cell edges and its pruning of
  neighbours that cannot hold matches), in the order Redis scans them;
* ``distance`` (haversine over Redis's earth radius) and the radius and box
  tests of a candidate point;
* ``geohash_string``: the standard 11-character geohash (Redis re-encodes the
  cell centre over [-90, 90] for it).

No I/O and no knowledge of sorted sets: ``commands/geo.py`` walks the score
ranges.
"""
from __future__ import annotations

import math

LONG_MIN = -180.0
LONG_MAX = 180.0
LAT_MIN = -85.05112878
LAT_MAX = 85.05112878
STEP_MAX = 26                      # 26 bits per coordinate: 52-bit scores

EARTH_RADIUS = 6372797.560856      # metres (Redis's EARTH_RADIUS_IN_METERS)
MERCATOR_MAX = 20037726.37
_D_R = math.pi / 180.0

_M64 = (1 << 64) - 1
_NAN = float("nan")


# C's libm answers NaN (and a division by zero answers ±inf) where Python's math
# raises; an infinite radius or box goes through these as it does in Redis.
def _sin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else _NAN


def _cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else _NAN


def _asin(x: float) -> float:
    return math.asin(x) if -1.0 <= x <= 1.0 else _NAN


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else _NAN


def _div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or a != a:
            return _NAN
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA

# Units of GEORADIUS / GEOSEARCH / GEODIST, in metres.
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}

_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"


def _spread(v: int) -> int:
    """The 32 bits of v moved to the even bit positions of a 64-bit word."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & _EVEN


def _squash_slow(v: int) -> int:
    v &= _EVEN
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0xFFFFFFFF


def _even_byte_table() -> bytes:
    """The even bits of every 16-bit value, packed into a byte. Built from the 256 values
    of one byte (its 4 even bits) with 16 translate tables: a loop over all 65,536 values
    would add a quarter of a second to every server start."""
    low = bytes(_squash_slow(i) for i in range(256))
    with_high = [bytes(x | h << 4 for x in range(256)) for h in range(16)]
    return b"".join(low.translate(with_high[h]) for h in low)


# Four lookups squash a word.
_EVEN_BYTE = _even_byte_table()


def _squash(v: int) -> int:
    """The even bits of a 64-bit word, packed into 32 bits (the inverse of _spread)."""
    t = _EVEN_BYTE
    return (t[v & 0xFFFF] | t[(v >> 16) & 0xFFFF] << 8 | t[(v >> 32) & 0xFFFF] << 16
            | t[(v >> 48) & 0xFFFF] << 24)


def in_range(lon: float, lat: float) -> bool:
    """The coordinates GEOADD and the searches accept."""
    return LONG_MIN <= lon <= LONG_MAX and LAT_MIN <= lat <= LAT_MAX


def encode_cell(lon: float, lat: float, step: int,
                lon_min: float = LONG_MIN, lon_max: float = LONG_MAX,
                lat_min: float = LAT_MIN, lat_max: float = LAT_MAX) -> int:
    """geohashEncode: the interleaved cell number (2*step bits) of a point in range.

    The fixed-point conversion truncates, so the upper limit of a range lands
    one past the last cell (as in Redis, whose scores can then use bit 52).
    """
    lat_offset = (lat - lat_min) / (lat_max - lat_min) * float(1 << step)
    lon_offset = (lon - lon_min) / (lon_max - lon_min) * float(1 << step)
    return _spread(int(lat_offset)) | (_spread(int(lon_offset)) << 1)


def encode(lon: float, lat: float) -> int:
    """The 52-bit score GEOADD stores for a point (checked with in_range)."""
    return encode_cell(lon, lat, STEP_MAX)


def cell_area(bits: int, step: int) -> tuple[float, float, float, float]:
    """geohashDecode: (lon_min, lon_max, lat_min, lat_max) of a cell."""
    lat_i = _squash(bits)
    lon_i = _squash(bits >> 1)
    scale = float(1 << step)
    lat_scale = LAT_MAX - LAT_MIN
    lon_scale = LONG_MAX - LONG_MIN
    # (i + 1) is a uint32_t sum in Redis: it wraps at 2**32.
    return (LONG_MIN + (lon_i * 1.0 / scale) * lon_scale,
            LONG_MIN + (((lon_i + 1) & 0xFFFFFFFF) * 1.0 / scale) * lon_scale,
            LAT_MIN + (lat_i * 1.0 / scale) * lat_scale,
            LAT_MIN + (((lat_i + 1) & 0xFFFFFFFF) * 1.0 / scale) * lat_scale)


def score_bits(score: float) -> int:
    """The cell number a sorted-set score stands for: C's (uint64_t) conversion.

    GEO commands read any sorted set; scores that are not cell numbers decode to
    some point, as in Redis. The conversion is undefined in C outside [0, 2**64);
    this is what x86-64 code from gcc gives: truncation, negative values wrapped
    modulo 2**64, 2**63 below -2**63 (and for -inf), 0 from 2**64 up (and for inf).
    """
    if score >= 9223372036854775808.0:          # 2**63: converted minus 2**63
        if score >= 18446744073709551616.0:     # overflows the signed conversion
            return 0
        return int(score)
    if score < -9223372036854775808.0 or score != score:
        return 1 << 63
    return int(score) & _M64


_SCALE26 = float(1 << STEP_MAX)
_LAT_SCALE = LAT_MAX - LAT_MIN
_LON_SCALE = LONG_MAX - LONG_MIN


# Decoded points by score: a search decodes every member of nine cells, and the
# same members again on the next search. Bounded; emptied when full.
_DECODED: dict = {}
_DECODED_MAX = 1 << 14


def decode(score: float) -> tuple[float, float]:
    """(longitude, latitude) of a stored score: its cell's centre, clamped to the limits."""
    point = _DECODED.get(score)
    if point is None:
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        point = _DECODED[score] = _decode(score)
    return point


def _decode(score: float) -> tuple[float, float]:
    """cell_area at step 26, unrolled, and the centre clamped."""
    bits = int(score) if 0.0 <= score < 9223372036854775808.0 else score_bits(score)
    t = _EVEN_BYTE
    lat_i = (t[bits & 0xFFFF] | t[(bits >> 16) & 0xFFFF] << 8 | t[(bits >> 32) & 0xFFFF] << 16
             | t[(bits >> 48) & 0xFFFF] << 24)
    bits >>= 1
    lon_i = (t[bits & 0xFFFF] | t[(bits >> 16) & 0xFFFF] << 8 | t[(bits >> 32) & 0xFFFF] << 16
             | t[(bits >> 48) & 0xFFFF] << 24)
    lon = (LONG_MIN + (lon_i / _SCALE26) * _LON_SCALE
           + (LONG_MIN + (((lon_i + 1) & 0xFFFFFFFF) / _SCALE26) * _LON_SCALE)) / 2
    lat = (LAT_MIN + (lat_i / _SCALE26) * _LAT_SCALE
           + (LAT_MIN + (((lat_i + 1) & 0xFFFFFFFF) / _SCALE26) * _LAT_SCALE)) / 2
    if lon > LONG_MAX:
        lon = LONG_MAX
    elif lon < LONG_MIN:
        lon = LONG_MIN
    if lat > LAT_MAX:
        lat = LAT_MAX
    elif lat < LAT_MIN:
        lat = LAT_MIN
    return lon, lat


def geohash_string(score: float) -> bytes:
    """GEOHASH: the cell centre re-encoded over the standard [-90, 90] latitudes,
    as 10 base-32 characters of its 52 bits plus a final '0'."""
    lon, lat = decode(score)
    bits = encode_cell(lon, lat, STEP_MAX, LONG_MIN, LONG_MAX, -90.0, 90.0)
    out = bytearray()
    for i in range(10):
        out.append(_ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F])
    out.append(_ALPHABET[0])
    return bytes(out)


# -- distances ------------------------------------------------------------------------------------

def lat_distance(lat1: float, lat2: float) -> float:
    """Metres between two latitudes on one meridian."""
    return EARTH_RADIUS * abs(lat2 * _D_R - lat1 * _D_R)


_msin = math.sin
_mcos = math.cos
_masin = math.asin
_msqrt = math.sqrt


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Haversine great-circle distance in metres (geohashGetDistance)."""
    lon1r = lon1 * _D_R
    lon2r = lon2 * _D_R
    try:
        v = _msin((lon2r - lon1r) / 2)
        if v == 0.0:
            return EARTH_RADIUS * abs(lat2 * _D_R - lat1 * _D_R)
        lat1r = lat1 * _D_R
        lat2r = lat2 * _D_R
        u = _msin((lat2r - lat1r) / 2)
        a = u * u + _mcos(lat1r) * _mcos(lat2r) * v * v
        return 2.0 * EARTH_RADIUS * _masin(_msqrt(a))
    except ValueError:
        return _distance_c(lon1, lat1, lon2, lat2)


def _distance_c(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """distance() with C's NaN results where Python's math raises (infinite input)."""
    lon1r = lon1 * _D_R
    lon2r = lon2 * _D_R
    v = _sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * _D_R
    lat2r = lat2 * _D_R
    u = _sin((lat2r - lat1r) / 2)
    a = u * u + _cos(lat1r) * _cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS * _asin(_sqrt(a))


class Shape:
    """A search area: a circle (radius) or an axis-aligned box (width, height)
    around (lon, lat). Sizes are in the request's unit; `conversion` is metres
    per unit."""

    __slots__ = ("lon", "lat", "radius", "width", "height", "conversion", "is_box")

    def __init__(self):
        self.lon = self.lat = 0.0
        self.radius = self.width = self.height = 0.0
        self.conversion = 1.0
        self.is_box = False

    def contains(self, lon: float, lat: float):
        """The distance in metres from the centre if the point is inside, else None."""
        if not self.is_box:
            limit = self.radius * self.conversion
            # A great-circle distance is never shorter than its latitude part: points
            # clearly outside the latitude band skip the haversine (the margin covers
            # rounding, so the answer is the haversine's).
            if EARTH_RADIUS * abs(lat * _D_R - self.lat * _D_R) > limit * 1.000000001 + 1e-6:
                return None
            d = distance(self.lon, self.lat, lon, lat)
            return None if d > limit else d
        width = self.width * self.conversion
        height = self.height * self.conversion
        # The latitude test first: it is the cheaper one.
        if lat_distance(lat, self.lat) > height / 2:
            return None
        if distance(lon, lat, self.lon, lat) > width / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)

    def bounds(self) -> tuple[float, float, float, float]:
        """(lon_min, lat_min, lon_max, lat_max) of the area (geohashBoundingBox).

        The box is wider on its pole side; the longitudes are taken there.
        """
        if self.is_box:
            height = self.conversion * (self.height / 2)
            width = self.conversion * (self.width / 2)
        else:
            height = self.conversion * self.radius
            width = self.conversion * self.radius
        lat_delta = (height / EARTH_RADIUS) / _D_R
        top = _div(width / EARTH_RADIUS, _cos((self.lat + lat_delta) * _D_R)) / _D_R
        bottom = _div(width / EARTH_RADIUS, _cos((self.lat - lat_delta) * _D_R)) / _D_R
        long_delta = bottom if self.lat < 0 else top
        return (self.lon - long_delta, self.lat - lat_delta,
                self.lon + long_delta, self.lat + lat_delta)

    def radius_meters(self) -> float:
        if self.is_box:
            r = _sqrt((self.width / 2) * (self.width / 2) + (self.height / 2) * (self.height / 2))
        else:
            r = self.radius
        return r * self.conversion


def estimate_step(range_meters: float, lat: float) -> int:
    """The cell size (step) whose 3x3 block covers a search of this size
    (geohashEstimateStepsByRadius); coarser towards the poles."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return min(max(step, 1), 26)


def _move_x(bits: int, step: int, d: int) -> int:
    """The cell east (d=1) or west (d=-1), wrapping around the antimeridian."""
    x = bits & _ODD
    y = bits & _EVEN
    zz = _EVEN >> (64 - step * 2)
    if d > 0:
        x = (x + (zz + 1)) & _M64
    else:
        x = ((x | zz) - (zz + 1)) & _M64
    x &= _ODD >> (64 - step * 2)
    return x | y


def _move_y(bits: int, step: int, d: int) -> int:
    """The cell north (d=1) or south (d=-1), wrapping from one limit to the other."""
    x = bits & _ODD
    y = bits & _EVEN
    zz = _ODD >> (64 - step * 2)
    if d > 0:
        y = (y + (zz + 1)) & _M64
    else:
        y = ((y | zz) - (zz + 1)) & _M64
    y &= _EVEN >> (64 - step * 2)
    return x | y


def _neighbours(bits: int, step: int) -> dict[str, int]:
    mx, my = _move_x, _move_y
    return {
        "n": my(bits, step, 1), "s": my(bits, step, -1),
        "e": mx(bits, step, 1), "w": mx(bits, step, -1),
        "ne": my(mx(bits, step, 1), step, 1), "nw": my(mx(bits, step, -1), step, 1),
        "se": my(mx(bits, step, 1), step, -1), "sw": my(mx(bits, step, -1), step, -1),
    }


def search_cells(shape: Shape) -> list[tuple[int, int]]:
    """The cells to scan for a search, as (bits, step), in Redis's scan order:
    the centre, N, S, E, W, NE, NW, SE, SW. Cells pruned by Redis are left out;
    a cell equal to the one scanned just before it is kept here (the caller
    skips it, see ``score_ranges``).
    """
    lon_min, lat_min, lon_max, lat_max = shape.bounds()
    step = estimate_step(shape.radius_meters(), shape.lat)
    bits = encode_cell(shape.lon, shape.lat, step)
    near = _neighbours(bits, step)
    # One step coarser when a neighbour does not reach past the area's edge.
    if (cell_area(near["n"], step)[3] < lat_max or cell_area(near["s"], step)[2] > lat_min
            or cell_area(near["e"], step)[1] < lon_max or cell_area(near["w"], step)[0] > lon_min):
        if step > 1:
            step -= 1
            bits = encode_cell(shape.lon, shape.lat, step)
            near = _neighbours(bits, step)
    dropped: set[str] = set()
    if step >= 2:
        a_lon_min, a_lon_max, a_lat_min, a_lat_max = cell_area(bits, step)
        if a_lat_min < lat_min:
            dropped.update(("s", "sw", "se"))
        if a_lat_max > lat_max:
            dropped.update(("n", "ne", "nw"))
        if a_lon_min < lon_min:
            dropped.update(("w", "sw", "nw"))
        if a_lon_max > lon_max:
            dropped.update(("e", "se", "ne"))
    cells = [(bits, step)]
    for name in ("n", "s", "e", "w", "ne", "nw", "se", "sw"):
        if name not in dropped:
            cells.append((near[name], step))
    return cells


def score_ranges(shape: Shape) -> list[tuple[int, int]]:
    """[min, max) score ranges to walk, in order (membersOfAllNeighbors).

    A neighbour identical to the neighbour scanned just before it is skipped
    (huge radii make neighbours coincide). Redis remembers the last scanned
    cell by its index and tests the index for truth, so a neighbour equal to
    the centre cell (index 0) is scanned again, and its members reported
    twice; that is kept. A cell with bits 0 is still a cell: only the pruned
    cells (bits and step both zero in Redis) are left out, by search_cells.
    """
    out = []
    last = None
    for i, (bits, step) in enumerate(search_cells(shape)):
        if last is not None and last == (bits, step):
            continue
        shift = 52 - step * 2
        out.append((bits << shift, (bits + 1) << shift))
        last = (bits, step) if i else None
    return out
