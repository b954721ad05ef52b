"""An API rate limiter: 5 requests per second per user, four strategies side by side.

Each check is one atomic script on the server's clock; rejected requests are
not counted, and the result carries the usual RateLimit/Retry-After headers.
"""

from _connect import connect, parse_args

from vermilion.patterns import RateLimiter


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        for strategy in ("sliding_log", "sliding_window", "gcra", "fixed_window"):
            limiter = RateLimiter(r, f"api-{strategy}", limit=5, window=1.0, strategy=strategy)
            limiter.reset("user-42")
            outcomes = [limiter.hit("user-42") for _ in range(7)]
            line = "".join("." if o.allowed else "x" for o in outcomes)
            print(f"{strategy:15} {line}  last: {outcomes[-1].headers()}")
        big = RateLimiter(r, "api-export", limit=10, window=60)
        big.reset("user-42")
        print("a heavy request costing 8:", big.hit("user-42", cost=8))
        print("would another fit? (peek records nothing)", big.test("user-42", cost=8))
        print("another one:", big.hit("user-42", cost=8))
        tiered = RateLimiter(r, "api-tiered", "3/second;10/minute;1000/day")
        tiered.reset("user-42")
        outcomes = [tiered.hit("user-42") for _ in range(4)]
        print("three limits at once:", "".join("." if o else "x" for o in outcomes),
              "- refused by", outcomes[-1].limit, "per", outcomes[-1].window, "s;",
              outcomes[-1].headers("legacy"))


if __name__ == "__main__":
    main()
