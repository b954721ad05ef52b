"""The examples run as documented (embedded server, real Redis) and the web ones
show what they claim."""

import subprocess
import sys
from pathlib import Path

import pytest
import redis

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str) -> str:
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("name,expect", [
    ("web_flask.py", ['{"user":"alice","visits":3}', "429"]),
    ("web_fastapi.py", ["'user': 'bob'", 'RateLimit: "5-per-1s";r=', "429"]),
    ("web_django.py", ["{'visits': 3}", "429 Too Many Requests"]),
])
def test_web_example(name, expect):
    pytest.importorskip(name.split("_")[1].split(".")[0])
    text = run(name)
    for e in expect:
        assert e in text, text


# The other examples: each must run to completion, against the session's
# Vermilion server (--url: one server start instead of one per example) and, for
# those that exercise the most server behaviour, real Redis. redlock_payment
# starts its own three embedded servers when given none (its documented default).
# The web ones are above; worker_cli_handler is a handler module the CLI tests
# run; dashboard_demo runs until stopped, on fixed ports.
SINGLE = ["cron_lock.py", "leaderboard.py", "lock_features.py", "pubsub_patterns.py",
          "rate_limit_api.py", "semaphore_rwlock.py", "session_store.py", "stream_workers.py",
          "worker_failure_control.py"]


def run_on(name: str, *urls: str) -> str:
    redis.Redis.from_url(urls[0]).flushall()
    out = subprocess.run([sys.executable, str(EXAMPLES / name),
                          *[a for u in urls for a in ("--url", u)]],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("name", SINGLE)
def test_example_runs_on_vermilion(name, vermilion_url):
    assert run_on(name, vermilion_url).strip()


@pytest.mark.parametrize("name", ["worker_failure_control.py"])
def test_example_runs_on_real_redis(name, redis_proc):
    assert run_on(name, redis_proc.url).strip()


def test_redlock_example_on_embedded_servers_and_three_real_redis(redis_farm):
    assert "lost = False" in run("redlock_payment.py")
    assert "lost = False" in run_on("redlock_payment.py", *[p.url for p in redis_farm(3)])
