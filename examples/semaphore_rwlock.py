"""Semaphore, ReadWriteLock, a reentrant Lock and @synchronized.

    python examples/semaphore_rwlock.py [--url redis://localhost:6379]
"""

import threading
import time

from _connect import connect, parse_args

from vermilion.patterns import Lock, ReadWriteLock, Semaphore, synchronized


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        # At most 2 concurrent calls to a partner API, across every process.
        inside, peak, mutex = [0], [0], threading.Lock()

        def call_partner(i):
            with Semaphore(r, "partner-api", limit=2, ttl=10, timeout=30) as permit:
                with mutex:
                    inside[0] += 1
                    peak[0] = max(peak[0], inside[0])
                time.sleep(0.05)
                with mutex:
                    inside[0] -= 1
                return permit.fence

        threads = [threading.Thread(target=call_partner, args=(i,)) for i in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print("semaphore: at most", peak[0], "holders at once (limit 2)")

        # Many readers, or one writer; a waiting writer keeps new readers out.
        rw = ReadWriteLock(r, "catalog", ttl=10, timeout=10)
        with rw.read() as a, rw.read() as b:
            print("two readers inside, fences", a.fence, b.fence)
        with rw.write() as w:
            print("writer alone, fence", w.fence)

        # Reentrant: the holding thread may take it again.
        lock = Lock(r, "inventory", ttl=10, reentrant=True)
        with lock:
            with lock:
                print("reentrant lock depth", lock.depth)

        @synchronized(r, lambda account, amount: f"account:{account}", ttl=10, timeout=10)
        def debit(account, amount):
            balance = int(r.get(f"balance:{account}") or 100)
            r.set(f"balance:{account}", balance - amount)

        r.delete("balance:7")
        workers = [threading.Thread(target=debit, args=(7, 10)) for _ in range(5)]
        [t.start() for t in workers]
        [t.join() for t in workers]
        print("balance after 5 synchronized debits of 10:", r.get("balance:7"))


if __name__ == "__main__":
    main()
