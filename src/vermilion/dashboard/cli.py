"""`vermilion dashboard --url redis://host:6379/0 [--port 8080] [--bind ADDR] [--write yes]`."""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys

USAGE = "vermilion dashboard [--url URL] [--port 8080] [--bind 127.0.0.1] [--write no|yes]"


def _yes_no(text: str) -> bool:
    if text.lower() not in ("yes", "no"):
        raise argparse.ArgumentTypeError("must be 'yes' or 'no'")
    return text.lower() == "yes"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vermilion dashboard", usage=USAGE,
                                description="A web dashboard for any Redis-protocol server.")
    p.add_argument("--url", default="redis://127.0.0.1:6379/0",
                   help="server to show (redis://, rediss://, unix://; credentials in the URL "
                        "are used for every call, otherwise the page asks for them when needed)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    p.add_argument("--bind", default="127.0.0.1",
                   help="addresses to listen on, separated by spaces (default 127.0.0.1)")
    p.add_argument("--write", type=_yes_no, default=False, metavar="no|yes",
                   help="enable write actions: client kill, key delete, XACK/XCLAIM, dead-letter replay")
    return p


async def serve(url: str, port: int, bind: str, write: bool, ready=None) -> None:
    from aiohttp import web
    from .app import Dashboard, create_app

    dashboard = Dashboard(url, write=write)
    runner = web.AppRunner(create_app(dashboard, bind=bind), access_log=None,
                           handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        for host in bind.split() or ["127.0.0.1"]:
            await web.TCPSite(runner, "0.0.0.0" if host == "*" else host, port).start()
        print(f"Vermilion dashboard for {dashboard.target} on http://{bind.split()[0]}:{port}/"
              + (" (write actions enabled)" if write else ""), flush=True)
        if ready is not None:
            ready()
        await stop.wait()
    finally:
        await dashboard.close()
        await runner.cleanup()


def main(argv: list[str]) -> int:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        print("vermilion dashboard needs vermilion[dashboard]: pip install 'vermilion[dashboard]'",
              file=sys.stderr)
        return 1
    args = parser().parse_args(argv)
    try:
        asyncio.run(serve(args.url, args.port, args.bind, args.write))
    except OSError as err:
        print(f"vermilion dashboard: {err}", file=sys.stderr)
        return 1
    return 0
