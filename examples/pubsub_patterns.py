"""Publisher and subscriber with channel and pattern subscriptions.

The subscriber reconnects by itself and reports outages (``on_gap``): pub/sub
does not keep messages for offline subscribers, so that is where an
application would resynchronise from a durable source.
"""

import json
import threading

from _connect import connect, parse_args

from vermilion.patterns import Subscriber


def main():
    args = parse_args(__doc__)
    with connect(args.url) as r:
        received, done = [], threading.Event()

        def on_order(msg):
            print(f"[{msg.channel}] {msg.data}")
            received.append(msg)

        def on_order_event(msg):
            print(f"[{msg.channel} via {msg.pattern}] {msg.data}")
            received.append(msg)
            if msg.channel == "orders.cancelled":
                done.set()

        sub = Subscriber(r, on_gap=lambda gap: print(f"missed {gap.duration:.1f}s of messages"))
        sub.subscribe("orders", on_order)
        sub.psubscribe("orders.*", on_order_event)
        sub.start()
        sub.connected.wait(5)

        r.publish("orders", json.dumps({"id": "abc", "amount": 99}))
        r.publish("orders.created", json.dumps({"id": "def"}))
        r.publish("orders.cancelled", json.dumps({"id": "abc"}))
        done.wait(5)
        sub.stop()
        print(f"{len(received)} messages received")


if __name__ == "__main__":
    main()
