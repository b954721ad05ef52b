"""Flask with server-side sessions and rate limiting, in a few lines.

Runs the app through Flask's test client and prints what a browser would see;
``--serve`` serves it on http://127.0.0.1:5000 instead.
"""

import sys

import redis
from _connect import parse_args, servers
from flask import Flask, session

from vermilion.integrations.flask import VermilionSessionInterface
from vermilion.integrations.ratelimit import WSGIRateLimitMiddleware
from vermilion.patterns import RateLimiter, SessionStore


def make_app(url: str) -> Flask:
    r = redis.Redis.from_url(url)
    app = Flask(__name__)
    app.session_interface = VermilionSessionInterface(SessionStore(r, "flask-demo", idle=1800))
    app.wsgi_app = WSGIRateLimitMiddleware(app.wsgi_app, RateLimiter(r, "flask-demo", "10/second"))

    @app.route("/")
    def home():
        session["visits"] = session.get("visits", 0) + 1
        return {"visits": session["visits"], "user": session.user}

    @app.route("/login/<user>")
    def login(user):
        session.login(user)  # new session id, bound to the user
        return "logged in"

    @app.route("/logout-everywhere")
    def logout_everywhere():
        session.logout_everywhere()
        return "logged out on every device"

    return app


def main():
    serve = "--serve" in sys.argv
    if serve:
        sys.argv.remove("--serve")
    args = parse_args(__doc__)
    with servers([args.url] if args.url else []) as (url,):
        app = make_app(url)
        if serve:
            app.run()
            return
        browser = app.test_client()
        for path in ["/", "/", "/login/alice", "/", "/logout-everywhere", "/"]:
            r = browser.get(path)
            print(f"GET {path:20} {r.status_code} {r.get_data(as_text=True).strip()}")
        codes = [browser.get("/").status_code for _ in range(8)]  # 10 a second allowed
        print("8 quick requests:", codes, "->", browser.get("/").headers.get("Retry-After"),
              "s to wait")


if __name__ == "__main__":
    main()
