"""A stream producer, two consumers in one group, and recovery after a crash.

consumer-1 takes a batch and "crashes" (stops without finishing: its entries
stay pending in the group); consumer-2 reclaims them once they have been idle
longer than ``claim_idle`` and processes them. A poison entry ends up in the
dead-letter stream after ``max_deliveries`` attempts.
"""

import threading
import time

from _connect import connect, parse_args

from vermilion.patterns import StreamProducer, StreamWorker


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        r.delete("events", "{events}:dead")
        producer = StreamProducer(r, "events", maxlen=10_000)
        producer.add_many([{"type": "user.signup", "userId": str(i)} for i in range(10)])
        producer.add({"type": "poison", "userId": "?"})

        processed, lock = [], threading.Lock()
        hang = threading.Event()

        def crashing(entry):
            hang.wait()  # never finishes: the process dies with these entries in hand

        def handle(entry):
            if entry.fields["type"] == "poison":
                raise ValueError("cannot handle this event")
            with lock:
                processed.append(entry.fields["userId"])

        options = dict(block=0.1, claim_idle=1.0, max_deliveries=3, retry_base=0.05)
        first = StreamWorker(r, "events", "email-service", crashing, consumer="consumer-1",
                             concurrency=4, count=4, **options).start()
        time.sleep(0.3)
        print("consumer-1 crashes holding", r.xpending("events", "email-service")["pending"],
              "entries")
        first.stop(timeout=0)

        second = StreamWorker(r, "events", "email-service", handle, consumer="consumer-2",
                              concurrency=2, **options).start()
        third = StreamWorker(r, "events", "email-service", handle, consumer="consumer-3",
                             concurrency=2, **options).start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            dead = second.stats.dead_lettered + third.stats.dead_lettered
            if len(processed) == 10 and dead == 1:
                break
            time.sleep(0.1)
        for w in (second, third):
            w.stop()
            print(w.consumer, w.metrics())
        hang.set()
        print("processed once each:", sorted(processed, key=int))
        for d in second.dead_letters.list():
            print("dead letter:", d.original_id, d.fields, d.error, f"after {d.deliveries} deliveries")


if __name__ == "__main__":
    main()
