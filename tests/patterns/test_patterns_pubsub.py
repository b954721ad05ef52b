"""Subscriber: channel and pattern handlers, reconnects, health checks, gap reports."""

import asyncio
import threading
import time

import pytest
import redis

from vermilion.patterns import Subscriber, aio

from patterns_support import RedisProc, wait_until

pytestmark = pytest.mark.needs("pubsub")

QUICK = dict(health_check_interval=0.2, health_check_timeout=0.3, backoff_base=0.05,
             backoff_cap=0.2)


def _publish_until(client, channel, message, got, timeout=5.0):
    """Publish repeatedly until the subscriber has received something (it may be reconnecting)."""
    return wait_until(lambda: client.publish(channel, message) >= 0 and got, timeout, 0.05)


def test_channel_and_pattern_handlers(r, uid):
    orders, families = [], []
    sub = Subscriber(r, **QUICK)
    sub.subscribe(f"{uid}:orders", lambda m: orders.append((m.channel, m.data)))
    sub.psubscribe(f"{uid}:orders.*", lambda m: families.append((m.channel, m.pattern, m.data)))
    sub.start()
    assert sub.connected.wait(3)
    r.publish(f"{uid}:orders", '{"id":"abc","amount":99}')
    r.publish(f"{uid}:orders.created", "c1")
    r.publish(f"{uid}:orders.cancelled", "x1")
    r.publish(f"{uid}:other", "ignored")
    assert wait_until(lambda: len(orders) == 1 and len(families) == 2)
    assert orders == [(f"{uid}:orders", '{"id":"abc","amount":99}')]
    assert [c for c, _, _ in families] == [f"{uid}:orders.created", f"{uid}:orders.cancelled"]
    assert {p for _, p, _ in families} == {f"{uid}:orders.*"}
    late = []
    sub.subscribe(f"{uid}:late", lambda m: late.append(m.data))  # while running
    assert _publish_until(r, f"{uid}:late", "hi", late)
    sub.stop()
    assert not sub.connected.is_set()


def test_reconnects_after_server_restart_and_reports_gap():
    server = RedisProc()
    gaps, got = [], []
    try:
        client = redis.Redis(port=server.port, decode_responses=True)
        sub = Subscriber(client, on_gap=gaps.append, **QUICK)
        sub.subscribe("news", lambda m: got.append(m.data))
        sub.start()
        assert sub.connected.wait(3)
        server.kill()
        # Down for at least 0.3 s after the subscriber noticed: the gap it reports
        # covers that whatever the machine's load.
        assert wait_until(lambda: not sub.connected.is_set(), 10)
        time.sleep(0.3)
        server.start()  # same port, subscriptions gone server-side
        assert _publish_until(client, "news", "after", got)
        assert gaps and gaps[0].duration >= 0.2 and gaps[0].attempts >= 1
        assert "Connection" in gaps[0].error or "Error" in gaps[0].error
        sub.stop()
    finally:
        server.kill()


def test_health_check_detects_frozen_server():
    server = RedisProc()
    gaps, got = [], []
    try:
        client = redis.Redis(port=server.port, decode_responses=True)
        sub = Subscriber(client, on_gap=gaps.append, **QUICK)
        sub.subscribe("news", lambda m: got.append(m.data))
        sub.start()
        assert sub.connected.wait(3)
        server.pause()  # TCP stays up; only an unanswered PING tells
        assert wait_until(lambda: not sub.connected.is_set(), 2)
        server.resume()
        assert sub.connected.wait(3)
        assert len(gaps) == 1 and "PONG" in gaps[0].error
        assert _publish_until(client, "news", "back", got)
        sub.stop()
    finally:
        server.kill()


async def test_async_subscriber_with_reconnect():
    server = RedisProc()
    gaps, got = [], []
    try:
        client = redis.asyncio.Redis(port=server.port, decode_responses=True)
        sub = aio.Subscriber(client, on_gap=gaps.append, **QUICK)

        async def on_message(m):
            got.append((m.channel, m.pattern, m.data))

        sub.psubscribe("jobs.*", on_message)
        sub.start()
        await asyncio.wait_for(sub.connected.wait(), 3)
        await client.publish("jobs.one", "1")
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        assert got == [("jobs.one", "jobs.*", "1")]
        await asyncio.to_thread(server.restart)
        for _ in range(200):
            await client.publish("jobs.two", "2")
            if len(got) > 1:
                break
            await asyncio.sleep(0.05)
        assert got[-1] == ("jobs.two", "jobs.*", "2") and len(gaps) == 1
        await sub.stop()
        await client.aclose()
    finally:
        server.kill()


async def test_async_subscriber_awaits_async_on_error(ar, uid):
    errors = []

    async def on_error(exc):
        await asyncio.sleep(0)
        errors.append(str(exc))

    async def boom(message):
        raise ValueError(f"bad {message.data}")

    sub = aio.Subscriber(ar, on_error=on_error)
    sub.subscribe(f"{uid}:ch", boom)
    sub.start()
    try:
        await asyncio.wait_for(sub.connected.wait(), 10)
        deadline = asyncio.get_running_loop().time() + 10
        while not errors:
            await ar.publish(f"{uid}:ch", "x")
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        assert errors[0] == "bad x"
    finally:
        await sub.stop()
