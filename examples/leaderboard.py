"""A game leaderboard: scores, top 10, ranks with ties, neighbours, member data,
pages, score ranges, a daily board."""

from _connect import connect, parse_args

from vermilion.patterns import Leaderboard, RotatingLeaderboard


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        board = Leaderboard(r, "game")
        board.remove("alice", "bob", "carol", "dave", "erin")
        board.add_many({"alice": 1500, "bob": 1200, "carol": 1200, "dave": 900})
        board.add("erin", 1000, data={"country": "NZ", "avatar": "erin.png"})
        board.add("dave", 800, gt=True)  # keeps the best score: 900
        print("top 3:", [(e.rank, e.member, e.score) for e in board.top(3)])
        for member in ("bob", "carol"):
            print(member, {m: board.rank(member, m) for m in ("standard", "competition", "dense")},
                  f"percentile {board.percentile(member):.1f}")
        print("around erin:", [(e.rank, e.member) for e in board.around("erin", 1)])
        print("erin's data:", board.member_data("erin"), "- page", board.page_for("erin", 2),
              "of", board.total_pages(2))
        print("scores 900..1200:", [(e.rank, e.member) for e in board.range_by_score(900, 1200)])
        print("ranks of a friends list:", [e and (e.member, e.rank)
                                           for e in board.ranked_in_list(["dave", "zed", "bob"])])
        today = RotatingLeaderboard(r, "game", period="daily", keep=7).current()
        today.incr("alice", 30)
        print("today's board:", today.key, "expires in", r.ttl(today.key), "s")


if __name__ == "__main__":
    main()
