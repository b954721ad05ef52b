"""Pure parts of GEO, SORT and LOLWUT, without a server: the geohash arithmetic's
invariants and the partial quicksort's contract (differential tests against
redis-server are in tests/test_geo.py, test_sort.py, test_lolwut_wait.py)."""
from __future__ import annotations

from functools import cmp_to_key

from hypothesis import example, given
from hypothesis import strategies as st

from vermilion.types import geohash
from vermilion.types.partialsort import partial_sort

_lon = st.floats(-180, 180)
_lat = st.floats(geohash.LAT_MIN, geohash.LAT_MAX)


@given(_lon, _lat)
@example(180.0, 0.0)
@example(-180.0, geohash.LAT_MAX)
@example(180.0, geohash.LAT_MIN)
def test_a_point_decodes_to_the_centre_of_its_cell(lon, lat):
    score = geohash.encode(lon, lat)
    # 26 bits each; the upper limits (180, 85.05112878) land one past the last
    # cell, setting bit 52 (latitude) or 53 (longitude), as in Redis.
    assert 0 <= score < 1 << 54
    dlon, dlat = geohash.decode(float(score))
    # Half a cell: 360 / 2**27 degrees of longitude, 170.1 / 2**27 of latitude; a
    # score past 2**53 (longitude 180) loses its last bit as a double, in Redis too,
    # which moves the latitude by one more cell.
    cells = 1 if score < 1 << 53 else 2
    assert abs(dlon - lon) <= cells * 360 / 2**26
    assert abs(dlat - lat) <= cells * 171 / 2**26
    assert geohash.decode(float(score)) == geohash._decode(float(score))


@given(_lon, _lat, _lon, _lat)
def test_distance_is_symmetric_and_bounded(lon1, lat1, lon2, lat2):
    d = geohash.distance(lon1, lat1, lon2, lat2)
    assert 0 <= d <= 3.1416 * geohash.EARTH_RADIUS
    assert abs(d - geohash.distance(lon2, lat2, lon1, lat1)) <= 1e-6 * max(d, 1)


@given(_lon, _lat, st.floats(0, 2e7))
def test_search_cells_cover_the_centre(lon, lat, radius):
    shape = geohash.Shape()
    shape.lon, shape.lat, shape.radius = lon, lat, radius
    score = geohash.encode(lon, lat)
    assert any(lo <= score < hi for lo, hi in geohash.score_ranges(shape))


def _cmp(a, b):
    return (a > b) - (a < b)


@given(st.lists(st.integers(-50, 50), max_size=200), st.data())
def test_partial_sort_places_the_window(values, data):
    if not values:
        return
    lo = data.draw(st.integers(0, len(values) - 1))
    hi = data.draw(st.integers(lo, len(values) - 1))
    got = list(values)
    partial_sort(got, _cmp, lo, hi)
    assert got[lo:hi + 1] == sorted(values)[lo:hi + 1]
    assert sorted(got) == sorted(values)


@given(st.lists(st.integers(), max_size=60))
def test_partial_sort_of_everything_sorts(values):
    got = list(values)
    partial_sort(got, _cmp, 0, max(len(values) - 1, 0))
    assert got == sorted(values, key=cmp_to_key(_cmp))
