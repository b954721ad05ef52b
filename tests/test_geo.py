"""GEO commands, compared frame by frame with a real redis-server (RESP2 and RESP3).

The stored scores (ZRANGE WITHSCORES), GEOHASH strings, GEOPOS coordinates and
distances must be Redis's to the printed digit; searches must find the same
members in the same order, including COUNT (partial sort) and COUNT ANY (scan
order of the neighbour cells).
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SICILY = "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1 17.241510 38.788135 edge2"


def test_geoadd_scores_and_flags(pair):
    pair.run(f"""
    {SICILY}
    ZRANGE Sicily 0 -1 WITHSCORES
    GEOADD Sicily 13.361389 38.115556 Palermo
    GEOADD Sicily CH 13.361389 38.115556 Palermo 1 1 Palermo
    GEOADD Sicily NX 2 2 Palermo 3 3 new
    GEOADD Sicily XX 4 4 Palermo 5 5 other
    GEOADD Sicily XX CH 4 4 Palermo 5 5 other
    GEOADD Sicily CH NX CH 6 6 n2
    ZRANGE Sicily 0 -1 WITHSCORES
    GEOADD k -180 -85.05112878 sw 180 85.05112878 ne 0 0 zero -180 85.05112878 nw 180 -85.05112878 se
    ZRANGE k 0 -1 WITHSCORES
    GEOPOS k sw ne zero nw se missing
    GEOHASH k sw ne zero nw se missing
    OBJECT ENCODING k
    """)


def test_geoadd_errors(pair):
    pair.run("""
    GEOADD k 181 0 a
    GEOADD k 0 85.06 a
    GEOADD k -180.0001 -85.05112879 a
    GEOADD k x 0 a
    GEOADD k 0 y a
    GEOADD k 1 2 a 3
    GEOADD k NX XX 1 2 a
    GEOADD k GT 1 2 a
    GEOADD k NX XX CH
    GEOADD k CH NX CH
    GEOADD k 1 2 a 200 0 b
    EXISTS k
    GEOADD k nan 0 a
    GEOADD k inf 0 a
    SET s v
    GEOADD s 1 2 a
    GEOPOS s a
    GEOHASH s a
    GEODIST s a b
    GEORADIUS s 0 0 1 km
    GEOSEARCH s FROMLONLAT 0 0 BYRADIUS 1 km
    """)


def test_geopos_geohash_geodist(pair):
    pair.run(f"""
    {SICILY}
    GEOPOS Sicily Palermo Catania nope
    GEOPOS nokey a b
    GEOHASH Sicily Palermo Catania edge1 nope
    GEOHASH nokey a
    GEODIST Sicily Palermo Catania
    GEODIST Sicily Palermo Catania km
    GEODIST Sicily Palermo Catania KM
    GEODIST Sicily Palermo Catania mi
    GEODIST Sicily Palermo Catania ft
    GEODIST Sicily Palermo Catania m
    GEODIST Sicily Palermo Palermo
    GEODIST Sicily Palermo nope
    GEODIST nokey a b
    GEODIST Sicily Palermo Catania yards
    GEODIST nokey a b yards
    GEODIST Sicily Palermo Catania km extra
    ZADD Sicily -5 neg 1e300 huge 0.5 frac -1e30 hugeneg inf pinf -inf ninf 1.5e19 big63 9.3e18 over63
    GEOPOS Sicily neg huge frac hugeneg pinf ninf big63 over63
    GEOHASH Sicily neg huge frac hugeneg pinf ninf big63 over63
    GEODIST Sicily neg frac
    GEORADIUS Sicily 0 0 20000 km WITHHASH WITHCOORD
    """)


def test_georadius_family(pair):
    pair.run(f"""
    {SICILY}
    GEORADIUS Sicily 15 37 200 km
    GEORADIUS Sicily 15 37 200 km WITHDIST
    GEORADIUS Sicily 15 37 200 km WITHCOORD WITHDIST WITHHASH
    GEORADIUS Sicily 15 37 200 km ASC
    GEORADIUS Sicily 15 37 200 km DESC WITHDIST
    GEORADIUS Sicily 15 37 200 km COUNT 1
    GEORADIUS Sicily 15 37 200 km COUNT 1 DESC
    GEORADIUS Sicily 15 37 500 km COUNT 3 ANY
    GEORADIUS Sicily 15 37 500 km COUNT 2 ANY ASC WITHDIST
    GEORADIUS Sicily 15 37 0 km
    GEORADIUS Sicily 15 37 100000 km
    GEORADIUS Sicily 15 37 1e10 mi WITHDIST
    GEORADIUS Sicily 15 37 inf m
    GEORADIUS_RO Sicily 15 37 200 km WITHDIST
    GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST WITHCOORD
    GEORADIUSBYMEMBER_RO Sicily Palermo 200 km WITHDIST COUNT 2
    GEORADIUSBYMEMBER Sicily nope 200 km
    GEORADIUSBYMEMBER nokey nope 200 km
    GEORADIUSBYMEMBER nokey nope x yd WITHDIST
    GEORADIUS nokey 15 37 200 km
    GEORADIUS Sicily 15 37 200 km STORE dst
    ZRANGE dst 0 -1 WITHSCORES
    GEORADIUS Sicily 15 37 200 km STOREDIST dst2
    ZRANGE dst2 0 -1 WITHSCORES
    GEORADIUSBYMEMBER Sicily Palermo 300 km STORE dst3 COUNT 2 DESC
    ZRANGE dst3 0 -1 WITHSCORES
    GEORADIUS Sicily 0 0 1 km STORE dst
    EXISTS dst
    GEORADIUS nokey 0 0 1 km STORE dst2
    EXISTS dst2
    """)


def test_georadius_errors(pair):
    pair.run(f"""
    {SICILY}
    GEORADIUS Sicily 15 37 -1 km
    GEORADIUS Sicily 15 37 x km
    GEORADIUS Sicily 15 37 1 yd
    GEORADIUS Sicily 200 37 1 km
    GEORADIUS Sicily 15 37 1 km ANY
    GEORADIUS Sicily 15 37 1 km COUNT 0
    GEORADIUS Sicily 15 37 1 km COUNT -1
    GEORADIUS Sicily 15 37 1 km COUNT x
    GEORADIUS Sicily 15 37 1 km COUNT
    GEORADIUS Sicily 15 37 1 km WITHDIST STORE x
    GEORADIUS Sicily 15 37 1 km STORE
    GEORADIUS Sicily 15 37 1 km BOGUS
    GEORADIUS_RO Sicily 15 37 1 km STORE x
    GEORADIUS_RO Sicily 15 37 1 km STOREDIST x
    GEORADIUSBYMEMBER_RO Sicily Palermo 1 km STORE x
    GEORADIUS Sicily 15 37 1 km FROMLONLAT 1 1
    GEORADIUSBYMEMBER Sicily Palermo -5 km
    """)


def test_geosearch(pair):
    pair.run(f"""
    {SICILY}
    GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC
    GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST WITHHASH
    GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km DESC WITHDIST
    GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 mi COUNT 2 WITHDIST
    GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 0 0 m
    GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1e9 1e9 ft
    GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC COUNT 3
    ZRANGE dst 0 -1 WITHSCORES
    GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST
    ZRANGE dst 0 -1 WITHSCORES
    GEOSEARCHSTORE dst Sicily FROMLONLAT 0 0 BYBOX 1 1 km
    EXISTS dst
    GEOSEARCH nokey FROMMEMBER x BYRADIUS 1 km
    GEOSEARCHSTORE dst nokey FROMMEMBER x BYRADIUS 1 km
    GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 1 km
    GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km
    GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 1 km
    GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km
    GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 km BYRADIUS 1 km
    GEOSEARCH Sicily BYRADIUS 1 km ASC WITHDIST
    GEOSEARCH Sicily FROMLONLAT 15 37 ASC WITHDIST
    GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 1 km
    GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX x 1 km
    GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 y km
    GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 yd
    GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km STORE x
    GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km STOREDIST
    GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 1 km WITHCOORD
    GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 1 km STORE x
    GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km ANY
    geosearch Sicily fromlonlat 15 37 byradius 100 KM withdist
    """)


def test_geo_ties_partial_sort_and_any(pair):
    """Many members in few cells: equal distances, COUNT (partial quicksort) and ANY."""
    members = " ".join(f"{10 + (i % 7) * 0.001} {20 + (i % 5) * 0.001} m{i:03d}" for i in range(120))
    pair.run(f"""
    GEOADD g {members}
    GEOSEARCH g FROMLONLAT 10.003 20.002 BYRADIUS 1 km ASC COUNT 10 WITHDIST
    GEOSEARCH g FROMLONLAT 10.003 20.002 BYRADIUS 1 km DESC COUNT 17 WITHDIST
    GEOSEARCH g FROMLONLAT 10.003 20.002 BYRADIUS 1 km COUNT 45
    GEOSEARCH g FROMLONLAT 10.003 20.002 BYRADIUS 1 km ASC
    GEOSEARCH g FROMLONLAT 10.003 20.002 BYRADIUS 1 km COUNT 7 ANY
    GEOSEARCH g FROMLONLAT 10.003 20.002 BYRADIUS 1 km COUNT 7 ANY DESC
    GEOSEARCH g FROMMEMBER m003 BYBOX 0.5 0.5 km COUNT 9 WITHHASH
    GEORADIUS g 10.003 20.002 300 m COUNT 33 DESC
    """)


def test_geoadd_propagates_as_zadd_and_notifies(pair2, reference_server, vermilion_process_server):
    ref, ver = pair2.ref, pair2.ver
    for c in (ref, ver):
        c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    subs = []
    from support import connect
    for port in (reference_server.port, vermilion_process_server.port):
        s = connect(port)
        s.call("PSUBSCRIBE", "__keyspace@0__:*")
        subs.append(s)
    pair2.run(f"""
    {SICILY}
    GEOSEARCHSTORE d Sicily FROMLONLAT 15 37 BYRADIUS 200 km
    GEORADIUS Sicily 15 37 200 km STORE d2
    GEOSEARCHSTORE d Sicily FROMLONLAT 0 0 BYRADIUS 1 km
    """)
    got = [[s.read() for _ in range(4)] for s in subs]
    assert got[0] == got[1]
    for s in subs:
        s.close()


def test_geoadd_in_aof_is_zadd(tmp_path):
    """GEOADD reaches the AOF as ZADD with integer scores, as Redis rewrites it."""
    from rawclient import RawClient

    import vermilion
    with vermilion.embedded(dir=str(tmp_path), persistence=True, config={"appendonly": "yes"}) as server:
        c = RawClient(server.port)
        c.call("GEOADD", "g", "13.361389", "38.115556", "Palermo")
        c.call("GEORADIUS", "g", "15", "37", "200", "km", "STORE", "d")
        c.close()
    data = b"".join(p.read_bytes() for p in sorted(tmp_path.rglob("*.aof")))
    assert b"$4\r\nzadd\r\n$1\r\ng\r\n$16\r\n3479099956230698\r\n$7\r\nPalermo\r\n" in data
    assert b"$9\r\nGEORADIUS\r\n" in data


# -- hypothesis: edges (poles, antimeridian, zero and huge radii, boxes across ±180) ------------------

_lon = st.one_of(st.floats(-180, 180), st.sampled_from([-180.0, 180.0, 0.0, 179.9999, -179.9999, 90.0]))
_lat = st.one_of(st.floats(-85.05112878, 85.05112878),
                 st.sampled_from([-85.05112878, 85.05112878, 0.0, 85.05, -85.05, 66.0, 80.1, -80.1]))
_size = st.one_of(st.sampled_from([0.0, 1.0, 500.0, 20000.0, 1e6, 5e6, 2e7, 4e7]),
                  st.floats(0, 3e7))
_unit = st.sampled_from(["m", "km", "ft", "mi"])


def _num(x: float) -> str:
    return repr(float(x))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=st.lists(st.tuples(_lon, _lat), min_size=1, max_size=25),
       center=st.tuples(_lon, _lat), size=st.tuples(_size, _size), unit=_unit,
       count=st.integers(0, 6), any_=st.booleans(), order=st.sampled_from(["", "ASC", "DESC"]))
def test_geo_edges_hypothesis(pair2, points, center, size, unit, count, any_, order):
    pair2.ref.call("DEL", "h")
    pair2.ver.call("DEL", "h")
    args = ["GEOADD", "h"]
    for i, (lon, lat) in enumerate(points):
        args += [_num(lon), _num(lat), f"p{i}"]
    pair2.check(*args)
    pair2.check("ZRANGE", "h", "0", "-1", "WITHSCORES")
    pair2.check("GEOPOS", "h", *[f"p{i}" for i in range(len(points))])
    pair2.check("GEOHASH", "h", *[f"p{i}" for i in range(len(points))])
    pair2.check("GEODIST", "h", "p0", f"p{len(points) - 1}", unit)
    extra = [order] if order else []
    if count:
        extra += ["COUNT", str(count)] + (["ANY"] if any_ else [])
    lon, lat = _num(center[0]), _num(center[1])
    with_ = ["WITHDIST", "WITHHASH", "WITHCOORD"]
    radius = _num(size[0] / {"m": 1, "km": 1000, "ft": 0.3048, "mi": 1609.34}[unit])
    width = _num(size[0] / 1000)
    height = _num(size[1] / 1000)
    pair2.check("GEOSEARCH", "h", "FROMLONLAT", lon, lat, "BYRADIUS", radius, unit, *extra, *with_)
    pair2.check("GEOSEARCH", "h", "FROMLONLAT", lon, lat, "BYBOX", width, height, "km", *extra, *with_)
    pair2.check("GEOSEARCH", "h", "FROMMEMBER", "p0", "BYBOX", width, height, "km", *extra, "WITHDIST")
    pair2.check("GEORADIUSBYMEMBER", "h", "p0", radius, unit, *extra, "WITHDIST")
    pair2.check("GEOSEARCHSTORE", "dst", "h", "FROMLONLAT", lon, lat, "BYRADIUS", radius, unit, *extra,
                "STOREDIST")
    pair2.check("ZRANGE", "dst", "0", "-1", "WITHSCORES")


@pytest.mark.parametrize("lon", ["-180", "180", "179.99", "-179.99"])
def test_geo_antimeridian_boxes(pair, lon):
    pair.run(f"""
    GEOADD a 179.999 10 e1 -179.999 10 w1 179.5 10.1 e2 -179.5 9.9 w2 0 10 far
    GEOSEARCH a FROMLONLAT {lon} 10 BYBOX 400 400 km ASC WITHDIST WITHCOORD
    GEOSEARCH a FROMLONLAT {lon} 10 BYRADIUS 200 km DESC WITHDIST
    GEOSEARCH a FROMLONLAT {lon} 85.05112878 BYRADIUS 10000 km ASC WITHDIST
    GEOSEARCH a FROMLONLAT {lon} -85.05112878 BYBOX 30000 30000 km ASC WITHDIST
    """)


def test_geo_values_dump_and_scripts(pair):
    """A GEO key is Redis's sorted set to the byte (DUMP), and GEO replies convert
    to Lua as Redis's do (coordinates are doubles in RESP3, strings in RESP2)."""
    pair.run(f"""
    {SICILY}
    DUMP Sicily
    EVAL "return redis.call('geopos', KEYS[1], 'Palermo', 'nope')" 1 Sicily
    EVAL "redis.setresp(3); return redis.call('geopos', KEYS[1], 'Palermo')" 1 Sicily
    EVAL "redis.setresp(3); return redis.call('geopos', KEYS[1], 'Palermo')[1][1]" 1 Sicily
    EVAL "return redis.call('geosearch', KEYS[1], 'FROMLONLAT', 15, 37, 'BYRADIUS', 200, 'km', 'WITHCOORD', 'WITHDIST', 'WITHHASH')" 1 Sicily
    EVAL "return redis.call('geodist', KEYS[1], 'Palermo', 'Catania')" 1 Sicily
    EVAL "return redis.call('geoadd', KEYS[1], 1, 2, 'x')" 1 Sicily
    """)


def test_geo_skiplist_sets_and_radius_edges(pair):
    """A large (skiplist) GEO set, searches whose edge passes through members, and
    COUNT over many equal distances."""
    members = []
    for i in range(400):
        members += [repr(-0.5 + (i % 20) * 0.05), repr(51.3 + (i // 20) * 0.02), f"p{i}"]
    pair.check("GEOADD", "big", *members)
    pair.run("""
    OBJECT ENCODING big
    DUMP big
    GEODIST big p0 p1
    GEOSEARCH big FROMMEMBER p0 BYRADIUS 3.4771 km ASC WITHDIST
    GEOSEARCH big FROMMEMBER p0 BYRADIUS 3.477 km ASC WITHDIST
    GEOSEARCH big FROMMEMBER p210 BYBOX 10 10 km COUNT 25 WITHDIST
    GEOSEARCH big FROMMEMBER p210 BYBOX 10 10 km COUNT 25 DESC WITHDIST
    GEOSEARCH big FROMMEMBER p210 BYRADIUS 50 km COUNT 60 ANY WITHDIST
    GEOSEARCH big FROMLONLAT 0 51.5 BYRADIUS 1000 km COUNT 7
    GEORADIUS big 0 51.5 30 km COUNT 100 DESC
    GEOSEARCHSTORE dst big FROMLONLAT 0 51.5 BYBOX 30 30 km COUNT 150
    OBJECT ENCODING dst
    ZRANGE dst 0 5 WITHSCORES
    """)


def test_geo_antipodes(pair):
    """Near-antipodal points, where the haversine's sum rounds just above 1."""
    pair.run("""
    GEOADD anti -72.78295708764531 54.73054106295678 a 107.21704291235469 -54.73054106295678 b -10.972356614803857 35.16878805701407 c 169.02764338519614 -35.16878805701407 d
    GEODIST anti a b
    GEODIST anti c d mi
    GEOSEARCH anti FROMMEMBER a BYRADIUS 30000 km WITHDIST ASC
    GEOSEARCH anti FROMMEMBER c BYBOX 40000 40000 km WITHDIST DESC
    """)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(center=st.tuples(_lon, _lat),
       offsets=st.lists(st.tuples(st.integers(-30, 30), st.integers(-30, 30)), min_size=1, max_size=60),
       spread=st.sampled_from([1e-5, 1e-3, 0.05, 1.0]),
       radius_km=st.sampled_from([0.001, 0.5, 5.0, 60.0, 500.0]),
       count=st.integers(1, 12), any_=st.booleans(), desc=st.booleans())
def test_geo_clusters_hypothesis(pair2, center, offsets, spread, radius_km, count, any_, desc):
    """Many members around the centre (same cells, equal distances): COUNT, ANY and the
    order of ties must be Redis's."""
    pair2.ref.call("DEL", "c")
    pair2.ver.call("DEL", "c")
    args = ["GEOADD", "c"]
    for i, (dx, dy) in enumerate(offsets):
        lon = max(-180.0, min(180.0, center[0] + dx * spread))
        lat = max(-85.05112878, min(85.05112878, center[1] + dy * spread))
        args += [_num(lon), _num(lat), f"m{i}"]
    pair2.check(*args)
    lon, lat = _num(center[0]), _num(center[1])
    opts = ["COUNT", str(count)] + (["ANY"] if any_ else []) + (["DESC"] if desc else [])
    pair2.check("GEOSEARCH", "c", "FROMLONLAT", lon, lat, "BYRADIUS", repr(radius_km), "km", *opts, "WITHDIST")
    pair2.check("GEOSEARCH", "c", "FROMLONLAT", lon, lat, "BYBOX", repr(radius_km), repr(radius_km * 2), "km",
                *opts, "WITHHASH")
    pair2.check("GEORADIUSBYMEMBER", "c", "m0", repr(radius_km), "km", "WITHDIST", *opts)
    pair2.check("GEOSEARCH", "c", "FROMMEMBER", "m0", "BYRADIUS", repr(radius_km), "km", "ASC")
