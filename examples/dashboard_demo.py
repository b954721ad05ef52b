"""Watch streams move: a server with its dashboard, a producer, workers and pub/sub.

    python examples/dashboard_demo.py            # then open http://127.0.0.1:8080/
    python examples/dashboard_demo.py --seconds 30 --port 8081

An embedded Vermilion serves the dashboard (and Prometheus metrics on :9121) while
a producer adds orders, a fast and a slow worker consume them in one group (a few
fail for good and land in the dead-letter stream `{orders}:dead`), an audit group
lags behind, and a publisher sends prices to two subscribers. Needs
`pip install 'vermilion[dashboard]'`.
"""

import argparse
import random
import sys
import threading
import time
from pathlib import Path

try:
    import vermilion
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import vermilion

from vermilion.patterns import StreamProducer, StreamWorker


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="dashboard port (default 8080)")
    parser.add_argument("--metrics-port", type=int, default=9121)
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (default: Ctrl-C)")
    args = parser.parse_args()

    with vermilion.embedded(dashboard_port=args.port, metrics_port=args.metrics_port,
                            dashboard_write=True) as server:
        r = server.client(decode_responses=True)
        stop = threading.Event()

        def produce():
            producer = StreamProducer(r, "orders", maxlen=5_000)
            n = 0
            while not stop.is_set():
                n += 1
                producer.add({"order": str(n), "amount": str(random.randint(5, 500))})
                stop.wait(random.uniform(0.02, 0.08))

        def bill(entry):
            if int(entry.fields["order"]) % 29 == 0:
                raise ValueError("card declined")
            time.sleep(random.uniform(0.005, 0.02))

        def bill_slowly(entry):
            bill(entry)
            time.sleep(0.2)

        def audit(entry):
            time.sleep(0.08)       # slower than the producer: this group's lag grows

        options = dict(block=0.5, max_deliveries=2, retry_base=0.05, claim_idle=5.0)
        workers = [
            StreamWorker(r, "orders", "billing", bill, consumer="billing-fast", **options).start(),
            StreamWorker(r, "orders", "billing", bill_slowly, consumer="billing-slow", **options).start(),
            StreamWorker(r, "orders", "audit", audit, consumer="auditor", **options).start(),
        ]
        subscribers = []
        for _ in range(2):
            p = server.client().pubsub()
            p.subscribe("prices")
            subscribers.append(p)

        def publish():
            while not stop.is_set():
                r.publish("prices", str(random.random()))
                stop.wait(0.1)

        threads = [threading.Thread(target=f, daemon=True) for f in (produce, publish)]
        for t in threads:
            t.start()
        print(f"dashboard: {server.dashboard_url}   metrics: {server.metrics_url}   (Ctrl-C stops)")
        try:
            if args.seconds:
                time.sleep(args.seconds)
            else:
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            pass
        stop.set()
        for t in threads:
            t.join()
        for w in workers:
            w.stop(timeout=5)
        for p in subscribers:
            p.close()


if __name__ == "__main__":
    main()
