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


def test_member_data_lives_and_dies_with_the_member(r, uid):
    lb = Leaderboard(r, uid)
    assert lb.add("alice", 100, data={"country": "fr", "avatar": "a.png"}) == 100
    lb.add_many({"bob": 90, "carol": 80}, data={"bob": {"country": "de"}})
    assert lb.member_data("alice") == {"country": "fr", "avatar": "a.png"}
    assert lb.members_data(["bob", "carol", "zed"]) == {"bob": {"country": "de"}, "carol": None,
                                                        "zed": None}
    assert lb.set_member_data("carol", [1, 2]) and lb.member_data("carol") == [1, 2]
    assert not lb.set_member_data("zed", 1) and lb.member_data("zed") is None
    assert lb.add("dave", 1, data="x", xx=True) is None and lb.member_data("dave") is None
    assert lb.remove("alice") == 1 and lb.member_data("alice") is None
    assert r.hkeys(lb.data_key) and lb.data_key.split("}")[0] == lb.key.split("}")[0]
    assert lb.expire(30) and 29 < lb.ttl() <= 30 and 0 < r.pttl(lb.data_key) <= 30_000
    lb.add("erin", 5, data={"new": True})  # data added later follows the board's TTL
    assert 0 < r.pttl(lb.data_key) <= 30_000
    assert lb.delete() and not r.exists(lb.key) and not r.exists(lb.data_key)
    assert not lb.delete() and lb.ttl() is None and not lb.expire(5)


def test_pages_lists_and_score_ranges(r, uid):
    lb = Leaderboard(r, uid)
    lb.add_many({f"p{i:02d}": i for i in range(25)})
    assert lb.total_pages(10) == 3 and lb.total_pages() == 2
    assert lb.page_for("p24", 10) == 1 and lb.page_for("p14", 10) == 2
    assert lb.page_for("p00", 10) == 3 and lb.page_for("nobody") is None
    got = lb.ranked_in_list(["p03", "nobody", "p24"])
    assert got[1] is None and (got[0].rank, got[0].score) == (22, 3) and got[2].rank == 1
    rng = lb.range_by_score(10, 12)
    assert [(e.member, e.rank) for e in rng] == [("p12", 13), ("p11", 14), ("p10", 15)]
    assert [e.member for e in lb.range_by_score("-inf", "+inf", offset=1, count=2)] == [
        "p23", "p22"]
    assert lb.count_between(10, 12) == 3 and lb.range_by_score(100, 200) == []
    up = Leaderboard(r, uid + "up", descending=False)
    up.add_many({"a": 1, "b": 2, "c": 3, "d": 3})
    assert [(e.member, e.rank) for e in up.range_by_score(2, 3)] == [
        ("b", 2), ("c", 3), ("d", 4)]


def test_merge_boards_with_weights(r, uid):
    week = Leaderboard(r, f"{{{uid}}}:week")  # one hash tag: mergeable on a cluster too
    day1, day2 = Leaderboard(r, f"{{{uid}}}:d1"), Leaderboard(r, f"{{{uid}}}:d2")
    day1.add_many({"a": 10, "b": 5}, data={"a": "A1", "b": "B1"})
    day2.add_many({"a": 1, "c": 7}, data={"a": "A2", "c": "C2"})
    assert week.merge([day1, day2], weights=[2, 1]) == 3
    assert [(e.member, e.score) for e in week.top(3)] == [("a", 21), ("b", 10), ("c", 7)]
    assert week.members_data(["a", "b", "c"]) == {"a": "A1", "b": "B1", "c": "C2"}
    assert week.merge([day1, day2], how="intersection", aggregate="max") == 1
    assert week.top(5)[0].score == 10 and week.member_data("b") is None
    with pytest.raises(ValueError):
        week.merge([day1], how="xor")
