"""A game leaderboard: scores, top 10, ranks with ties, neighbours, a daily board."""

from _connect import connect, parse_args

from vermilion.patterns import Leaderboard, RotatingLeaderboard


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        board = Leaderboard(r, "game")
        board.remove("alice", "bob", "carol", "dave", "erin")
        board.add_many({"alice": 1500, "bob": 1200, "carol": 1200, "dave": 900})
        board.add("erin", 1000)
        board.add("dave", 800, gt=True)  # keeps the best score: 900
        print("top 3:", [(e.rank, e.member, e.score) for e in board.top(3)])
        for member in ("bob", "carol"):
            print(member, {m: board.rank(member, m) for m in ("standard", "competition", "dense")},
                  f"percentile {board.percentile(member):.1f}")
        print("around erin:", [(e.rank, e.member) for e in board.around("erin", 1)])
        today = RotatingLeaderboard(r, "game", period="daily", keep=7).current()
        today.incr("alice", 30)
        print("today's board:", today.key, "expires in", r.ttl(today.key), "s")


if __name__ == "__main__":
    main()
