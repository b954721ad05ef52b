"""Handlers run by ``vermilion worker`` in the CLI fault tests.

Each records ``<pid>:<entry id>`` in the list ``<stream>:done`` once it has done
its work (before the worker acks), so the test sees who processed what, how often.
The CLI's client does not decode replies: field names are bytes. With
``VERMILION_TEST_CLUSTER`` set, the URL is a node of the test's Redis Cluster.
"""

import asyncio
import os
import time

from patterns_support import connect

client = connect(os.environ["VERMILION_TEST_URL"], bool(os.environ.get("VERMILION_TEST_CLUSTER")),
                 decode_responses=True)


def handle(entry):
    time.sleep(30 if entry.fields.get(b"slow") else 0.01)
    client.rpush(f"{entry.stream}:done", f"{os.getpid()}:{entry.id}")


async def ahandle(entry):
    """The coroutine twin of ``handle``: the CLI runs the asyncio worker for it."""
    await asyncio.sleep(30 if entry.fields.get(b"slow") else 0.01)
    client.rpush(f"{entry.stream}:done", f"{os.getpid()}:{entry.id}")


def handle_batch(entries):
    if any(e.fields.get(b"hang") for e in entries):
        time.sleep(3600)  # killed mid-batch
    client.rpush(f"{entries[0].stream}:done", *[f"{os.getpid()}:{e.id}" for e in entries])
