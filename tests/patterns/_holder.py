"""A lock holder in its own process, so a test can freeze it with SIGSTOP.

argv: url name ttl. Acquires, prints its fencing token, waits for a line on
stdin, then tries to write to the fenced record and prints the outcome.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import redis  # noqa: E402

from vermilion.patterns import FencedStore, Lock  # noqa: E402

url, name, ttl = sys.argv[1], sys.argv[2], float(sys.argv[3])
client = redis.Redis.from_url(url, decode_responses=True)
lock = Lock(client, name, ttl=ttl)
token = lock.acquire(timeout=5)
print(token, flush=True)
sys.stdin.readline()
ok = FencedStore(client).write(name, token, {"writer": "paused-holder"})
print("accepted" if ok else "rejected", flush=True)
