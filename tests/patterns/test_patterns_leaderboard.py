"""Leaderboard: ranks under the three tie rules, pages, neighbours, rotation."""

import datetime as dt

import pytest

from vermilion.patterns import Leaderboard, RotatingLeaderboard, aio
from vermilion.patterns.leaderboard import period_bounds

pytestmark = pytest.mark.needs("eval")

SCORES = {"alice": 100, "bob": 90, "carol": 90, "dave": 80}


def test_ranks_with_ties(r, uid):
    lb = Leaderboard(r, uid)
    assert lb.add_many(SCORES) == 4
    ranks = {m: tuple(lb.rank(m, k) for k in ("standard", "competition", "dense"))
             for m in SCORES}
    assert ranks == {"alice": (1, 1, 1), "carol": (2, 2, 2), "bob": (3, 2, 2),
                     "dave": (4, 4, 3)}
    assert [lb.percentile(m) for m in ("alice", "bob", "dave")] == [87.5, 50.0, 12.5]
    st = lb.standing("bob", dense=True)
    assert (st.score, st.standard, st.competition, st.dense, st.total) == (90, 3, 2, 2, 4)
    assert lb.rank("nobody") is None and lb.standing("nobody") is None


def test_top_pages_around_and_removal(r, uid):
    lb = Leaderboard(r, uid)
    lb.add_many({f"p{i:02d}": i for i in range(25)})
    assert [e.member for e in lb.top(3)] == ["p24", "p23", "p22"]
    page2 = lb.page(2, per_page=10)
    assert [e.rank for e in page2] == list(range(11, 21)) and page2[0].member == "p14"
    assert len(lb.page(3, per_page=10)) == 5
    around = lb.around("p10", 2)
    assert [(e.member, e.rank) for e in around] == [
        ("p12", 13), ("p11", 14), ("p10", 15), ("p09", 16), ("p08", 17)]
    assert [e.member for e in lb.around("p24", 1)] == ["p24", "p23"]
    assert lb.remove("p24", "p23") == 2 and lb.size() == 23 and lb.score("p24") is None


def test_gt_lt_and_increments(r, uid):
    lb = Leaderboard(r, uid)
    assert lb.add("a", 10) == 10
    assert lb.add("a", 5, gt=True) == 10  # best score kept
    assert lb.add("a", 15, gt=True) == 15
    assert lb.add("a", 20, lt=True) == 15
    assert lb.incr("a", 5) == 20
    assert lb.incr("a", -3, gt=True) is None and lb.score("a") == 20
    assert lb.add("b", 1, xx=True) is None and lb.add("b", 1, nx=True) == 1


def test_ascending_board(r, uid):
    lb = Leaderboard(r, uid, descending=False)  # e.g. fastest lap first
    lb.add_many({"x": 61.2, "y": 59.9, "z": 61.2})
    assert [e.member for e in lb.top(3)] == ["y", "x", "z"]
    assert lb.rank("z", "competition") == 2 and lb.rank("z", "dense") == 2


def test_rotating_boards_expire(r, uid):
    now = dt.datetime.now(dt.timezone.utc)
    rot = RotatingLeaderboard(r, uid, period="daily", keep=2, clock=lambda: now)
    today, yesterday = rot.current(), rot.previous()
    today.add("a", 5)
    yesterday.add("a", 1)
    assert today.key.endswith(now.strftime(":%Y-%m-%d"))
    assert yesterday.key.endswith((now - dt.timedelta(days=1)).strftime(":%Y-%m-%d"))
    assert today.key.split("}")[0] == yesterday.key.split("}")[0]  # one hash tag
    _, end = period_bounds("daily", now)
    expires = r.pexpiretime(today.key)
    assert expires == int((end + dt.timedelta(days=2)).timestamp() * 1000)
    assert r.pexpiretime(yesterday.key) == expires - 86_400_000
    # a board whose retention is over takes no writes at all
    old = RotatingLeaderboard(r, uid, period="weekly", clock=lambda: now).previous(3)
    assert old.add("late", 1) is None and not r.exists(old.key)


async def test_async_leaderboard(ar, uid):
    lb = aio.Leaderboard(ar, uid)
    await lb.add_many(SCORES)
    assert await lb.rank("bob", "competition") == 2
    assert [e.member for e in await lb.top(2)] == ["alice", "carol"]
    assert await lb.incr("dave", 25) == 105 and await lb.rank("dave") == 1
    rot = aio.RotatingLeaderboard(ar, uid, period="weekly")
    board = rot.current()
    await board.add("x", 1)
    assert await ar.pttl(board.key) > 0
