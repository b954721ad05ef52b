"""The HTTP listeners of a running server: `metrics-port` and `dashboard-port`.

Both are aiohttp applications bound like `bind` (`metrics-bind`, `dashboard-bind`:
addresses separated by spaces, `*` for all, a leading `-` for one that may be
missing). They start after the server listens and stop before it closes. The
dashboard is served on the server's own event loop. The metrics endpoint has an
event loop of its own, in a thread: what runs on the server's loop for a scrape is
the snapshot of its numbers and nothing else (not the HTTP request, not the text, not
the process's RSS and CPU times, not the look for streams matching glob patterns,
see observe/metrics.py).
"""
from __future__ import annotations

import asyncio
import logging
import threading

log = logging.getLogger("vermilion")

MISSING_EXTRA = ("{what} needs the optional dependencies of vermilion[dashboard] "
                 "(pip install 'vermilion[dashboard]'): {err}")


class Endpoints:
    """The metrics and dashboard listeners of one server (`server.observe`)."""

    def __init__(self, server):
        self.server = server
        self.runners: list = []
        self.metrics_thread: LoopThread | None = None
        self.metrics_runner = None
        self.metrics_port = 0
        self.dashboard_port = 0
        self.collector = None
        self.dashboard = None

    async def start(self) -> None:
        cfg = self.server.config
        try:
            if cfg["metrics-port"]:
                await self._start_metrics(cfg["metrics-port"], cfg["metrics-bind"])
            if cfg["dashboard-port"]:
                await self._start_dashboard(cfg["dashboard-port"], cfg["dashboard-bind"],
                                            cfg["dashboard-write"])
        except BaseException:
            await self.stop()
            raise

    async def _serve(self, app, port: int, bind: str) -> int:
        self.runners.append(await _listen(app, self.server.bind_tcp(port, bind or "127.0.0.1")))
        return port

    async def _start_metrics(self, port: int, bind: str) -> None:
        try:
            from aiohttp import web
            from .metrics import EngineCollector, exposition
        except ImportError as err:
            raise OSError(MISSING_EXTRA.format(what="metrics-port", err=err)) from None
        collector = self.collector = EngineCollector(self.server.engine)
        server_loop = asyncio.get_running_loop()

        async def metrics(request):         # on the metrics thread's loop
            if collector.discovery_due():
                # The keys copied and matched here: nothing asked of the loop.
                collector.discover(collector.list_keys())
            measured = collector.measure()
            snapshot = await on_loop(server_loop, lambda: collector.snapshot(measured))
            body, content_type = exposition(collector, snapshot, request.headers.get("Accept"))
            return web.Response(body=body, headers={"Content-Type": content_type})

        async def index(request):
            return web.Response(text='<a href="/metrics">/metrics</a>\n', content_type="text/html")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/", index)
        socks = self.server.bind_tcp(port, bind or "127.0.0.1")
        self.metrics_thread = LoopThread("vermilion-metrics")
        self.metrics_runner = await self.metrics_thread.run(_listen(app, socks))
        self.metrics_port = port
        log.log(25, "Prometheus metrics on port %d (/metrics)", port)

    async def _start_dashboard(self, port: int, bind: str, write: bool) -> None:
        try:
            from ..dashboard.app import Dashboard, create_app
        except ImportError as err:
            raise OSError(MISSING_EXTRA.format(what="dashboard-port", err=err)) from None
        server = self.server
        if server.unix_path:
            url = f"unix://{server.unix_path}"
        elif server.port:
            host = _local_address(server.config["bind"])
            url = f"redis://{host}:{server.port}/0"
        else:
            raise OSError("dashboard-port needs the server to listen on a plain TCP port or a "
                          "unix socket (it is a client of the server)")
        self.dashboard = Dashboard(url, write=write, local_engine=server.engine)
        app = create_app(self.dashboard, bind=bind)
        self.dashboard_port = await self._serve(app, port, bind)
        log.log(25, "Dashboard on http://%s:%d/%s", bind.split()[0].lstrip("-"), port,
                " (write actions enabled)" if write else "")

    async def stop(self) -> None:
        if self.metrics_thread is not None:
            if self.metrics_runner is not None:
                await self.metrics_thread.run(self.metrics_runner.cleanup())
            self.metrics_thread.close()
            self.metrics_thread = self.metrics_runner = None
        if self.dashboard is not None:
            await self.dashboard.close()
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()


async def _listen(app, socks: list):
    """An aiohttp runner serving `app` on the listening sockets `socks`."""
    from aiohttp import web
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        for sock in socks:
            await web.SockSite(runner, sock).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def on_loop(loop: asyncio.AbstractEventLoop, fn):
    """`fn()` run on `loop` (another thread's), awaited on the running loop. The
    result comes back in one call_soon_threadsafe: what `fn` costs `loop` is all
    it pays (a concurrent.futures.Future would add its lock, condition and
    callbacks on `loop`'s side)."""
    here = asyncio.get_running_loop()
    waiter = here.create_future()

    def run():
        try:
            result, err = fn(), None
        except BaseException as error:
            result, err = None, error
        if not here.is_closed():        # the metrics endpoint stopped meanwhile
            here.call_soon_threadsafe(_settle, waiter, result, err)

    loop.call_soon_threadsafe(run)
    return await waiter


def _settle(waiter: asyncio.Future, result, err) -> None:
    if not waiter.done():           # cancelled meanwhile: the scraper went away
        if err is not None:
            waiter.set_exception(err)
        else:
            waiter.set_result(result)


class LoopThread:
    """An event loop running in a daemon thread of its own."""

    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    async def run(self, coro):
        """Run `coro` on this thread's loop and wait for its result."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


def _local_address(bind: str) -> str:
    """The address the in-process dashboard connects to: loopback when bound there."""
    hosts = [h.lstrip("-") for h in bind.split()] or ["127.0.0.1"]
    for h in hosts:
        if h in ("127.0.0.1", "*", "0.0.0.0", "localhost"):
            return "127.0.0.1"
        if h in ("::1", "::"):
            return "[::1]"
    return hosts[0]


async def start(server) -> Endpoints | None:
    """Start the configured listeners of `server` (None when neither port is set)."""
    cfg = server.config
    if not cfg["metrics-port"] and not cfg["dashboard-port"]:
        return None
    endpoints = Endpoints(server)
    await endpoints.start()
    return endpoints
