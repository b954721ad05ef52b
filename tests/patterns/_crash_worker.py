"""A stream worker in its own process, for the crash-recovery test.

argv: url stream group consumer finish. Completes the first ``finish`` entries
(recording them in the list ``<stream>:done``), then hangs in the handler on
the rest, until the test kills the process.
"""

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import redis  # noqa: E402

from vermilion.patterns import StreamWorker  # noqa: E402

url, stream, group, consumer, finish = sys.argv[1:6]
client = redis.Redis.from_url(url, decode_responses=True)
lock, done = threading.Lock(), [0]


def handle(entry):
    with lock:
        done[0] += 1
        mine = done[0]
    if mine <= int(finish):
        client.rpush(f"{stream}:done", entry.id)
        return
    time.sleep(3600)  # stuck mid-batch: killed before it can ack


StreamWorker(client, stream, group, handle, consumer=consumer, concurrency=8, count=8,
             block=0.1).run()
