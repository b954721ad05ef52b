"""A semaphore holder in its own process, so a test can freeze it with SIGSTOP.

argv: url name limit ttl [cluster]. Takes a permit (watchdog on: only a frozen process
stops renewing it), prints its fencing token, then waits for a line on stdin,
releases and prints whether the permit was still its own.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from patterns_support import connect  # noqa: E402
from vermilion.patterns import Semaphore  # noqa: E402

url, name, limit, ttl = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
client = connect(url, sys.argv[5:] == ["cluster"], decode_responses=True)
sem = Semaphore(client, name, limit, ttl=ttl, watchdog=True)
print(sem.acquire(timeout=10), flush=True)
sys.stdin.readline()
print("released" if sem.release() else "lost", flush=True)
