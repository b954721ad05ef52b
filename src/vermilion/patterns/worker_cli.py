"""``vermilion worker module:handler --stream s --group g [options]``.

Runs a ``StreamWorker`` (or, for a coroutine handler, the asyncio one) until
SIGTERM or SIGINT, drains within ``--grace`` seconds and exits 0. The current
directory is importable, as with the other worker CLIs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import os
import sys
from typing import Any, Callable


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vermilion worker",
                                description="Process a Redis stream with a consumer group.")
    p.add_argument("handler", help="module:function, called with each entry "
                                   "(or with a list of entries with --batch-size)")
    p.add_argument("--stream", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--url", default=os.environ.get("REDIS_URL", "redis://localhost:6379"),
                   help="server URL (default: $REDIS_URL or redis://localhost:6379)")
    p.add_argument("--cluster", action="store_true",
                   help="the URL is one node of a Redis Cluster (its other nodes are discovered)")
    p.add_argument("--consumer", default=None, help="consumer name (default: host-pid-random)")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--handler-timeout", type=float, default=None, help="seconds")
    p.add_argument("--max-deliveries", type=int, default=5)
    p.add_argument("--claim-idle", type=float, default=30.0, help="seconds")
    p.add_argument("--block", type=float, default=1.0, help="seconds (not ms)")
    p.add_argument("--grace", type=float, default=10.0,
                   help="seconds given to in-flight handlers on SIGTERM/SIGINT")
    p.add_argument("--log-level", default="INFO")
    return p


def load_handler(spec: str) -> Callable[..., Any]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"vermilion worker: handler must be module:function, not {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise SystemExit(f"vermilion worker: {spec} is not callable")
    return obj  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = load_handler(args.handler)
    options: dict[str, Any] = dict(
        consumer=args.consumer, concurrency=args.concurrency, batch_size=args.batch_size,
        handler_timeout=args.handler_timeout, max_deliveries=args.max_deliveries,
        claim_idle=args.claim_idle, block=args.block, grace=args.grace)
    if inspect.iscoroutinefunction(handler):
        return asyncio.run(_run_async(args, handler, options))
    import redis

    from .streams import StreamWorker
    timeout = max(10.0, args.block * 3)
    client: Any
    if args.cluster:
        from redis.cluster import RedisCluster
        client = RedisCluster.from_url(args.url, socket_timeout=timeout)
    else:
        client = redis.Redis.from_url(args.url, socket_timeout=timeout, health_check_interval=30)
    worker = StreamWorker(client, args.stream, args.group, handler, **options)
    worker.run(handle_signals=True)
    client.close()
    if not worker.drained:
        # A handler still running past the grace period keeps a (non-daemon) pool
        # thread that the interpreter would wait for; its entry has been handed
        # to other workers already, so leave now.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


async def _run_async(args: argparse.Namespace, handler: Callable[..., Any],
                     options: dict[str, Any]) -> int:
    import redis.asyncio

    from .aio.streams import StreamWorker
    timeout = max(10.0, args.block * 3)
    client: Any
    if args.cluster:
        from redis.asyncio.cluster import RedisCluster
        client = RedisCluster.from_url(args.url, socket_timeout=timeout)
    else:
        client = redis.asyncio.Redis.from_url(args.url, socket_timeout=timeout)
    worker = StreamWorker(client, args.stream, args.group, handler, **options)
    await worker.run(handle_signals=True)
    await client.aclose()
    return 0
