"""StreamWorker failure control: handler time limit, Retry/Unrecoverable, batches,
delayed and deduplicated entries, metrics.

    python examples/worker_failure_control.py [--url redis://localhost:6379]
"""

import threading
import time

from _connect import connect, parse_args

from vermilion.patterns import Retry, StreamProducer, StreamWorker, Unrecoverable


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        r.delete("orders", "{orders}:dead", "{orders}:delayed")
        producer = StreamProducer(r, "orders", dedup_window=3600)
        first = producer.add({"order": "1", "kind": "ok"}, idempotency_key="order-1")
        again = producer.add({"order": "1", "kind": "ok"}, idempotency_key="order-1")
        print("idempotency key: second add returned the first id:", first == again)
        producer.add({"order": "2", "kind": "flaky"})
        producer.add({"order": "3", "kind": "corrupt"})
        producer.add({"order": "4", "kind": "hangs"})
        producer.add({"order": "5", "kind": "ok"}, delay=1.0)
        print("delayed entries waiting:", producer.delayed_count())

        done, lock, release = [], threading.Lock(), threading.Event()

        def handle(entry):
            kind = entry.fields["kind"]
            if kind == "corrupt":
                raise Unrecoverable("payload cannot be parsed")
            if kind == "flaky" and entry.attempt < 3:
                raise Retry("partner API busy", delay=0.2)
            if kind == "hangs" and entry.attempt == 1:
                release.wait(30)  # stuck: abandoned after handler_timeout, then retried
                return  # returning late: the worker ignores this call's outcome
            with lock:
                done.append((entry.fields["order"], entry.attempt))

        try:  # Prometheus series, with the optional extra: pip install 'vermilion[metrics]'
            from prometheus_client import CollectorRegistry, generate_latest
            from vermilion.patterns.metrics import PrometheusMetrics
            registry = CollectorRegistry()
            prometheus = PrometheusMetrics(registry)
        except ImportError:
            registry = prometheus = None
        worker = StreamWorker(r, "orders", "billing", handle, concurrency=4,
                              handler_timeout=0.5, max_deliveries=5, block=0.1,
                              claim_idle=5, prometheus=prometheus).start()
        deadline = time.monotonic() + 20
        while len(done) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        # A thread cannot be killed: the hung call keeps its thread, a new one took its slot.
        print("handler threads stuck in an abandoned call:", worker.metrics().stuck_threads)
        release.set()
        worker.stop(timeout=5)
        print("processed (order, attempt):", sorted(done))
        for dead in worker.dead_letters.list():
            print("dead letter:", dead.fields, "->", dead.error)
        m = worker.metrics()
        print(f"processed={m.processed} failed={m.failed} timed_out={m.timed_out} "
              f"retried={m.retried} dead_lettered={m.dead_lettered}")
        if registry is not None:
            print(*[line for line in generate_latest(registry).decode().splitlines()
                    if line.startswith("vermilion_stream_processed_total")])

        # Batches: the handler gets lists, acked together.
        producer.add_many([{"n": str(i), "kind": "ok"} for i in range(250)])
        sizes = []
        batch_worker = StreamWorker(r, "orders", "analytics", sizes.append, batch_size=100,
                                    concurrency=2, block=0.1, start_id="$")
        r.xgroup_create("orders", "analytics", id="0")
        batch_worker.start()
        deadline = time.monotonic() + 20
        while sum(len(b) for b in sizes) < r.xlen("orders") and time.monotonic() < deadline:
            time.sleep(0.05)
        batch_worker.stop(timeout=5)
        print("batch sizes:", sorted((len(b) for b in sizes), reverse=True)[:5], "...")


if __name__ == "__main__":
    main()
