"""A cron job that must run once even though every server triggers it.

Four "servers" (threads here) fire the daily report at the same moment; the
lock lets exactly one run it. The fencing token travels with the result, so
a holder that stalled past its TTL could not overwrite a newer report.
"""

import threading
import time

from _connect import connect, parse_args

from vermilion.patterns import FencedStore, Lock


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        store = FencedStore(r)
        ran = []

        def cron_tick(server: str):
            lock = Lock(r, "cron:daily-report", ttl=30, watchdog=True)
            token = lock.acquire(blocking=False)
            if token is None:
                print(f"{server}: another process holds the lock, skipping")
                return
            try:
                time.sleep(0.2)  # build the report
                ok = store.write("report:daily", token, {"by": server, "rows": "1234"})
                ran.append(server)
                print(f"{server}: ran the report with fencing token {token}, stored={ok}")
            finally:
                lock.release()

        threads = [threading.Thread(target=cron_tick, args=(f"server-{i}",)) for i in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print("report:", store.read("report:daily"), "- ran", len(ran), "time(s)")


if __name__ == "__main__":
    main()
