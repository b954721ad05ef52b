"""The dashboard's JSON API and its access rules, over HTTP (the pages themselves are
driven in a browser by test_dashboard_browser.py)."""
from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.request

import pytest

pytest.importorskip("aiohttp")

import vermilion  # noqa: E402
from vermilion.dashboard.source import dead_letter_source  # noqa: E402


class Browser:
    """urllib with a cookie jar, speaking the dashboard's JSON API."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, path, body=None, headers=None, action_header=True):
        data = None
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
            if action_header:
                headers["X-Vermilion-Dashboard"] = "1"
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as err:
            return err.code, _decode(err.read())


def _decode(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode()


def populate(r):
    ids = [r.xadd("orders", {"n": str(i)}, id=f"{1000 + i}-0") for i in range(5)]
    r.xgroup_create("orders", "billing", id="0")
    r.xreadgroup("billing", "c1", {"orders": ">"}, count=3)
    r.xack("orders", "billing", ids[0])
    r.xadd("{orders}:dead", {"id": ids[3].decode(), "stream": "orders", "group": "billing",
                             "error": "boom", "deliveries": "5", "f:n": "3"})
    r.hset("user:1", mapping={"name": "ada", "role": "admin"})
    r.set("temp", "x", ex=500)


@pytest.fixture(scope="module")
def server():
    with vermilion.embedded(dashboard_port=0) as srv:
        yield srv


@pytest.fixture
def r(server):
    client = server.client()
    client.flushall()
    populate(client)
    yield client
    client.close()


def test_streams_api_shows_xinfo_numbers(server, r):
    status, data = Browser(server.dashboard_url).call("/api/streams")
    assert status == 200
    streams = {s["name"]: s for s in data["streams"]}
    orders = streams["orders"]
    assert (orders["length"], orders["first_id"], orders["last_id"]) == (5, "1000-0", "1004-0")
    assert orders["dead_letters"] == 1 and streams["{orders}:dead"]["dead_letters_of"] == "orders"
    (billing,) = orders["groups"]
    assert (billing["lag"], billing["pending"]) == (2, 2)
    assert billing["oldest_pending"]["id"] == "1001-0"
    assert billing["oldest_pending"]["deliveries"] == 1
    assert billing["consumers"][0]["name"] == "c1" and billing["consumers"][0]["pending"] == 2


def test_stream_detail_and_keys(server, r):
    b = Browser(server.dashboard_url)
    status, s = b.call("/api/stream?key=" + b"orders".hex())
    assert status == 200
    assert [e["id"] for e in s["entries"]] == [f"{1004 - i}-0" for i in range(5)]
    assert [(p["id"], p["deliveries"]) for p in s["groups"][0]["pending_entries"]] == \
        [("1001-0", 1), ("1002-0", 1)]
    status, page = b.call("/api/keys?pattern=user:*")
    assert [(k["name"], k["type"], k["ttl"]) for k in page["keys"]] == [("user:1", "hash", -1)]
    status, key = b.call("/api/key?key=" + b"user:1".hex())
    assert sorted(key["preview"]) == [["name", "ada"], ["role", "admin"]]
    status, page = b.call("/api/keys?pattern=*&type=string")
    assert [k["name"] for k in page["keys"]] == ["temp"] and 0 < page["keys"][0]["ttl"] <= 500_000
    assert b.call("/api/keys?type=bogus")[0] == 400
    assert b.call("/api/key?key=zz")[0] == 400


def test_write_actions_absent_by_default(server, r):
    b = Browser(server.dashboard_url)
    assert b.call("/api/session")[1]["write"] is False
    status, body = b.call("/api/action/xack", {"key": b"orders".hex(), "group": "billing", "id": "1001-0"})
    assert status == 403 and "disabled" in body["error"]
    assert r.xpending("orders", "billing")["pending"] == 2


def test_requests_from_other_sites_are_refused(server, r):
    b = Browser(server.dashboard_url)
    # A cross-site form can send neither the custom header nor a JSON content type.
    status, _ = b.call("/api/login", {"password": "x"}, action_header=False)
    assert status == 403
    # DNS rebinding: a loopback-only dashboard answers to loopback names only.
    assert b.call("/api/streams", headers={"Host": "evil.example:80"})[0] == 421
    assert b.call("/api/streams", headers={"Host": f"localhost:{server.config['dashboard-port']}"})[0] == 200


def test_write_actions_with_confirmation_ids():
    with vermilion.embedded(dashboard_port=0, dashboard_write=True) as srv:
        r = srv.client()
        populate(r)
        b = Browser(srv.dashboard_url)
        orders, dead = b"orders".hex(), b"{orders}:dead".hex()
        assert b.call("/api/action/xack", {"key": orders, "group": "billing", "id": "1001-0"})[0] == 200
        status, body = b.call("/api/action/xclaim", {"key": orders, "group": "billing",
                                                      "consumer": "rescuer", "id": "1002-0"})
        assert (status, body["result"]) == (200, ["1002-0"])
        assert r.xpending_range("orders", "billing", "-", "+", 10)[0]["consumer"] == b"rescuer"
        (dead_id, _), = r.xrange("{orders}:dead")
        status, body = b.call("/api/action/replay", {"key": dead, "id": dead_id.decode()})
        assert status == 200 and r.xlen("{orders}:dead") == 0
        assert r.xrevrange("orders", count=1)[0][1] == {b"n": b"3"}
        assert b.call("/api/action/key-delete", {"key": b"temp".hex()})[0] == 200
        assert not r.exists("temp")
        name = r.client_id()
        assert b.call("/api/action/client-kill", {"id": name})[0] == 200
        assert b.call("/api/action/xack", {"key": "nothex"})[0] == 400
        assert b.call("/api/action/nosuch", {})[0] == 404
        r.close()


def test_login_when_the_server_wants_a_password():
    with vermilion.embedded(dashboard_port=0, config={"requirepass": "s3cret"}) as srv:
        b = Browser(srv.dashboard_url)
        assert b.call("/api/session")[1] == {"auth_required": True, "logged_in": False, "user": None,
                                             "write": False, "target": f"127.0.0.1:{srv.port}"}
        assert b.call("/api/overview")[0] == 401
        status, body = b.call("/api/login", {"username": "", "password": "wrong"})
        assert status == 401 and "invalid username-password pair" in body["error"]
        assert b.call("/api/login", {"username": "", "password": "s3cret"})[0] == 200
        status, overview = b.call("/api/overview")
        assert status == 200 and overview["server"]["connected_clients"] >= 1
        assert b.call("/api/session")[1]["user"] == "default"
        assert Browser(srv.dashboard_url).call("/api/overview")[0] == 401   # another browser


def test_acl_limits_what_is_shown():
    with vermilion.embedded(dashboard_port=0) as srv:
        admin = srv.client()
        populate(admin)
        admin.execute_command("ACL", "SETUSER", "viewer", "on", ">pw", "~orders*", "+@read",
                              "+@connection", "+info", "+time", "+scan", "-config", "+xinfo", "+xpending")
        b = Browser(srv.dashboard_url)
        # The default user lets anyone in; one may still log in as another user.
        assert b.call("/api/session")[1]["auth_required"] is False
        assert b.call("/api/login", {"username": "viewer", "password": "pw"})[0] == 200
        status, data = b.call("/api/streams")
        assert {s["name"] for s in data["streams"]} == {"orders"}
        admin.execute_command("ACL", "SETUSER", "default", "off")
        b = Browser(srv.dashboard_url)
        assert b.call("/api/login", {"username": "viewer", "password": "pw"})[0] == 200
        status, data = b.call("/api/streams")
        assert status == 200 and {s["name"] for s in data["streams"]} == {"orders"}
        assert "error" in b.call("/api/overview")[1]["config"]          # CONFIG GET is refused
        assert b.call("/api/key?key=" + b"user:1".hex())[0] == 403      # NOPERM on that key


def test_overview_shows_replication():
    """The Overview's replication panel: a primary's replicas with INFO's offsets and
    lags, a replica's link to its primary."""
    with vermilion.embedded_replicated(1, dashboard_port=0) as rs:
        primary, replica = rs.primary, rs.replicas[0]
        with primary.client() as p:
            p.set("x", "1")
            rs.wait_in_sync()
            status, data = Browser(primary.dashboard_url).call("/api/overview")
            info = p.info("replication")
        assert status == 200
        repl = data["replication"]
        assert (repl["role"], repl["connected_slaves"]) == ("master", 1)
        [shown] = repl["replicas"]
        link = info["slave0"]
        assert shown["address"] == f"{link['ip']}:{replica.port}" and shown["state"] == "online"
        assert shown["offset"] <= link["offset"] <= info["master_repl_offset"]
        assert shown["behind"] == max(repl["master_repl_offset"] - shown["offset"], 0)
        assert 0 <= shown["lag"] <= link["lag"] + 1
        status, data = Browser(replica.dashboard_url).call("/api/overview")
        repl = data["replication"]
        assert (repl["role"], repl["master_link_status"], repl["master_port"]) == ("slave", "up", primary.port)
        assert repl["replicas"] == [] and repl["slave_repl_offset"] > 0


def test_dead_letter_names():
    assert dead_letter_source(b"{orders}:dead") == b"orders"
    assert dead_letter_source(b"a{b}:dead") == b"a{b}"
    assert dead_letter_source(b"jobs:dead") == b"jobs"
    assert dead_letter_source(b":dead") is None and dead_letter_source(b"orders") is None


def test_a_password_set_later_is_asked_for(monkeypatch):
    from vermilion.dashboard import app
    monkeypatch.setattr(app, "REPROBE_SECONDS", 0.0)
    with vermilion.embedded(dashboard_port=0) as srv:
        b = Browser(srv.dashboard_url)
        assert b.call("/api/overview")[0] == 200          # no password: one shared connection
        srv.client().config_set("requirepass", "later")
        assert b.call("/api/overview")[0] == 401
        assert b.call("/api/login", {"password": "later"})[0] == 200
        assert b.call("/api/overview")[0] == 200
