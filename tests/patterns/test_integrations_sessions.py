"""Server-side sessions in Flask, Starlette/FastAPI and Django, through each
framework's own test client, on embedded Vermilion and on real Redis."""

import pytest
import redis

from vermilion.patterns import SessionStore, aio

pytestmark = pytest.mark.needs("eval")


def _cookie(response, name):
    """The Set-Cookie header for ``name``, as {attribute: value}."""
    for header in response.headers.get_all("set-cookie") if hasattr(
            response.headers, "get_all") else response.headers.get_list("set-cookie"):
        first, *attrs = [p.strip() for p in header.split(";")]
        if first.startswith(name + "="):
            out = {"value": first.split("=", 1)[1]}
            for a in attrs:
                k, _, v = a.partition("=")
                out[k.lower()] = v or True
            return out
    return None


# ------------------------------------------------------------------------ Flask

def _flask_app(backend, uid, **options):
    from flask import Flask, jsonify, request, session

    from vermilion.integrations.flask import VermilionSessionInterface
    app = Flask(__name__)
    store = SessionStore(redis.Redis.from_url(backend.url), f"fl-{uid}", idle=60, absolute=3600)
    app.session_interface = VermilionSessionInterface(store, **options)

    @app.route("/put")
    def put():
        for k, v in request.args.items():
            session[k] = v
        return jsonify(dict(session))

    @app.route("/show")
    def show():
        return jsonify(dict(session))

    @app.route("/append")
    def append():
        session.setdefault("items", []).append(request.args["x"])  # mutated in place
        return "ok"

    @app.route("/login")
    def login():
        session.login(request.args["user"])
        return "ok"

    @app.route("/logout")
    def logout():
        session.logout()
        return "bye"

    @app.route("/everywhere")
    def everywhere():
        session.logout_everywhere()
        return "bye"

    return app, store


def test_flask_sessions(backend, uid):
    app, store = _flask_app(backend, uid)
    client = app.test_client()
    assert client.get("/show").json == {} and _cookie(client.get("/show"), "session") is None
    first = client.get("/put?cart=3")
    c = _cookie(first, "session")
    assert c["httponly"] and c["samesite"] == "Lax" and "secure" not in c
    assert int(c["max-age"]) == 3600
    anon = c["value"]
    assert store.get(anon, "cart") == "3"  # server side; the cookie holds only the id
    client.get("/append?x=a"), client.get("/append?x=b")
    assert client.get("/show").json == {"cart": "3", "items": ["a", "b"]}
    login = client.get("/login?user=u1")
    sid = _cookie(login, "session")["value"]
    assert sid != anon and not store.exists(anon)  # new id at login
    assert store.user(sid) == "u1" and client.get("/show").json["cart"] == "3"
    other = app.test_client()  # a second device of the same user
    other.get("/put?device=phone"), other.get("/login?user=u1")
    assert len(store.sessions_of("u1")) == 2
    bye = client.get("/everywhere")
    assert _cookie(bye, "session")["value"] == ""  # cookie deleted
    assert store.sessions_of("u1") == [] and other.get("/show").json == {}
    # a stale request of a logged-out session does not bring it back
    assert other.get("/put?x=1").json == {"x": "1"} and not store.exists(sid)
    stale = app.test_client()
    stale.set_cookie("session", "no-such-session")
    assert _cookie(stale.get("/show"), "session")["value"] == ""  # a dead cookie is deleted


def test_flask_secure_cookie_over_https_and_logout(backend, uid):
    app, store = _flask_app(backend, uid)
    client = app.test_client()
    c = _cookie(client.get("/put?a=1", base_url="https://localhost"), "session")
    assert c["secure"] and c["httponly"]
    assert _cookie(client.get("/logout", base_url="https://localhost"), "session")["value"] == ""
    assert not store.exists(c["value"])


# -------------------------------------------------------------- Starlette/FastAPI

def _starlette_app(backend, uid):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from vermilion.integrations.starlette import SessionMiddleware
    store = aio.SessionStore(redis.asyncio.Redis.from_url(backend.url), f"st-{uid}",
                             idle=60, absolute=3600)

    async def put(request):
        for k, v in request.query_params.items():
            request.session[k] = v
        return JSONResponse(dict(request.session))

    async def show(request):
        return JSONResponse(dict(request.session))

    async def login(request):
        request.session.login(request.query_params["user"])
        return PlainTextResponse("ok")

    async def everywhere(request):
        request.session.logout_everywhere()
        return PlainTextResponse("bye")

    app = Starlette(routes=[Route("/put", put), Route("/show", show), Route("/login", login),
                            Route("/everywhere", everywhere)])
    app.add_middleware(SessionMiddleware, store=store)
    return app, store


def test_starlette_sessions(backend, uid):
    from starlette.testclient import TestClient
    app, store = _starlette_app(backend, uid)
    sync = SessionStore(redis.Redis.from_url(backend.url), f"st-{uid}")
    with TestClient(app) as client:  # one client (one event loop), two cookie jars
        assert client.get("/show").json() == {} and "set-cookie" not in client.get("/show").headers
        c = _cookie(client.get("/put?cart=3"), "session")
        assert c["httponly"] and c["samesite"] == "Lax" and "secure" not in c
        anon = c["value"]
        assert client.get("/show").json() == {"cart": "3"} and sync.get(anon, "cart") == "3"
        sid = _cookie(client.get("/login?user=u2"), "session")["value"]
        assert sid != anon and not sync.exists(anon) and sync.user(sid) == "u2"
        laptop = dict(client.cookies)
        client.cookies.clear()  # a second device of the same user
        client.get("/put?d=1"), client.get("/login?user=u2")
        phone = dict(client.cookies)
        assert len(sync.sessions_of("u2")) == 2
        client.cookies.clear()
        client.cookies.update(laptop)
        assert _cookie(client.get("/everywhere"), "session")["max-age"] == "0"
        client.cookies.clear()
        client.cookies.update(phone)
        gone = client.get("/show")
        assert sync.sessions_of("u2") == [] and gone.json() == {}
        assert _cookie(gone, "session")["max-age"] == "0"  # the dead cookie is deleted
    app, _ = _starlette_app(backend, uid)  # a new loop needs a new asyncio client
    with TestClient(app, base_url="https://testserver") as secure:
        assert _cookie(secure.get("/put?a=1"), "session")["secure"]


def test_fastapi_sessions(backend, uid):
    from fastapi import FastAPI, Request
    from fastapi.testclient import TestClient

    from vermilion.integrations.starlette import SessionMiddleware
    app = FastAPI()
    store = aio.SessionStore(redis.asyncio.Redis.from_url(backend.url), f"fa-{uid}")
    app.add_middleware(SessionMiddleware, store=store, cookie_name="sid")

    @app.get("/count")
    async def count(request: Request):
        request.session["n"] = request.session.get("n", 0) + 1
        return {"n": request.session["n"]}

    with TestClient(app) as client:
        assert [client.get("/count").json()["n"] for _ in range(3)] == [1, 2, 3]
        assert "sid" in client.cookies


# ----------------------------------------------------------------------- Django

def test_django_sessions(backend, uid, django_settings):
    from django.test import Client

    from vermilion.integrations.django import get_store
    store = get_store()
    client = Client()
    r = client.get("/put/", {"cart": "3"})
    c = r.cookies["sessionid"]
    assert c["httponly"] and c["samesite"] == "Lax" and not c["secure"]
    anon = c.value
    assert store.get(anon, "cart") == "3"
    assert client.get("/show/").json() == {"data": {"cart": "3"}, "key": anon}
    client.get("/put/", {"theme": "dark"})
    assert store.get_all(anon) == {"cart": "3", "theme": "dark"}
    client.get("/login/", {"user": "7"})
    sid = client.cookies["sessionid"].value
    assert sid != anon and not store.exists(anon)  # cycle_key at login
    assert store.user(sid) == "7" and store.get(sid, "cart") == "3"
    phone = Client()
    phone.get("/put/", {"d": "1"}), phone.get("/login/", {"user": "7"})
    assert len(store.sessions_of("7")) == 2
    assert client.get("/everywhere/").content == b"2"
    assert store.sessions_of("7") == [] and phone.get("/show/").json()["data"] == {}
    secure = Client().get("/put/", {"a": "1"}, secure=True)
    assert secure.cookies["sessionid"]["secure"]
