"""A payment guarded by Redlock over three independent servers.

    python examples/redlock_payment.py --url redis://a:6379 --url redis://b:6379 --url redis://c:6379

Redlock keeps two workers from charging the same transaction at the same time
while any two of the three servers are up. It cannot protect against a worker
that stalls past the lease's validity: the charge itself must be idempotent
(here: keyed by the transaction id). See docs/patterns.md.
"""

import time

from _connect import parse_args, servers

from vermilion.patterns import LockNotAcquired, Redlock


def process_payment(txn: str):
    print(f"charging {txn}...")
    time.sleep(0.1)


def main():
    args = parse_args(__doc__, many=True)
    with servers(args.url, 3) as urls:
        redlock = Redlock(urls, retry_count=3, retry_delay=0.2, retry_jitter=0.1)
        rival = Redlock(urls, retry_count=0)
        lease = redlock.acquire("payment:txn-99", ttl=5)
        try:
            print("acquired on", lease.result.votes_for, f"valid for {lease.validity:.3f}s")
            try:
                rival.acquire("payment:txn-99", ttl=5)
            except LockNotAcquired as exc:
                print("a second worker is refused:", exc.result.votes_against)
            process_payment("txn-99")
        finally:
            print("released on", lease.release(), "servers")
        # A long job: the watchdog extends the lease on a quorum every ttl/3.
        with redlock.acquire("payment:batch-7", ttl=0.6, watchdog=True) as lease:
            time.sleep(1.0)  # longer than the TTL: still ours
            print("after 1.0s with ttl=0.6: lost =", lease.lost)
        redlock.close()
        rival.close()


if __name__ == "__main__":
    main()
