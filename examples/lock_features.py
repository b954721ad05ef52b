"""Lock features people reach for in Redisson and pottery: waiters woken by the
release (not by polling), reentrancy, and a lost lock that raises on exit.

    python examples/lock_features.py [--url redis://localhost:6379]
"""

import threading
import time

from _connect import connect, parse_args

from vermilion.patterns import Lock, LockNotOwned


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        # A waiter blocks on the lock's wake-up list and retries the moment the
        # holder releases (notify=True is the default; polling is the fallback).
        holder = Lock(r, "report", ttl=30)
        holder.acquire()
        waited = []

        def waiter():
            lock = Lock(r, "report", ttl=30)
            start = time.monotonic()
            token = lock.acquire(timeout=10)
            waited.append(time.monotonic() - start)
            print(f"waiter got the lock (fencing token {token}) after {waited[0]:.2f}s")
            lock.release()

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)  # the waiter is now blocked, not polling
        holder.release()
        t.join()

        # Reentrancy: the same thread may take it again; the last release frees it.
        lock = Lock(r, "ledger", ttl=30, reentrant=True)
        with lock:
            with lock:
                print("nested acquire, same token:", lock.fence)
            print("after the inner release, still held:", r.exists(lock.key) == 1)
        print("after the outer release, free:", r.exists(lock.key) == 0)

        # A lock that expired under us: leaving the block raises LockNotOwned.
        try:
            with Lock(r, "short", ttl=0.2):
                time.sleep(0.4)  # longer than the TTL, no watchdog
        except LockNotOwned as exc:
            print("the block ran without the lock at the end:", exc)


if __name__ == "__main__":
    main()
