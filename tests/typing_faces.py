"""Checked by mypy (tests/test_typing.py), not run: each face's methods have the
types a user sees, blocking on the sync face and coroutines on the asyncio one."""

from typing import Any, assert_type

import redis
import redis.asyncio

from vermilion.patterns import Entry, Leaderboard, RateLimiter, RateLimitResult, SessionStore, aio


def sync_face(r: "redis.Redis") -> None:
    assert_type(RateLimiter(r, "api", "10/second").hit("u"), RateLimitResult)
    assert_type(RateLimiter(r, "api", 5, 1.0).test("u", cost=2), bool)
    store = SessionStore(r, "app")
    assert_type(store.create({"a": 1}, user="u"), str)
    assert_type(store.get_all("sid"), dict[str, Any] | None)
    assert_type(Leaderboard(r, "b").ranked_in_list(["a"]), list[Entry | None])


async def async_face(r: "redis.asyncio.Redis") -> None:
    assert_type(await aio.RateLimiter(r, "api", "10/second").peek("u"), RateLimitResult)
    store = aio.SessionStore(r, "app")
    assert_type(await store.regenerate("sid", user="u"), str | None)
    assert_type(await store.destroy_user("u"), int)
    assert_type(await aio.Leaderboard(r, "b").page_for("a"), int | None)
